// Parsing of the profile's human units (durations, percents) and did-you-mean suggestions.
// Pure functions that throw an Error whose message says what is wrong; callers add the location.

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)/gy;

/** Describes a value for an error message: strings quoted, collections named, never long. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? value.slice(0, 37) + '...' : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

/**
 * `250ms`, `1.5s`, `2m`, `1h`, or a compound such as `1m30s`. Returns milliseconds (may be fractional
 * below 1 ms). A bare number is rejected with a hint to add a unit, because "30" is ambiguous.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (value < 0) throw new Error(`must not be negative, got ${value}`);
    throw new Error(`needs a unit, got ${value} (write e.g. ${value}s or ${value}ms)`);
  }
  if (typeof value !== 'string')
    throw new Error(`must be a duration such as 30s or 500ms, got ${describeValue(value)}`);
  const text = value.trim();
  if (/^-/.test(text)) throw new Error(`must not be negative, got ${describeValue(value)}`);
  if (/^\d+(\.\d+)?$/.test(text))
    throw new Error(`needs a unit, got ${describeValue(value)} (write e.g. ${text}s or ${text}ms)`);
  let total = 0;
  let parts = 0;
  DURATION_PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(text);
    if (!m) break;
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
    parts++;
    pos = DURATION_PART.lastIndex;
    while (text[pos] === ' ') pos++;
  }
  if (parts === 0 || pos !== text.length) {
    throw new Error(`must be a duration with a unit ms, s, m or h (e.g. 500ms, 1.5s, 2m), got ${describeValue(value)}`);
  }
  return total;
}

/**
 * `99%`, `0.5%` or a ratio in [0, 1] (a number or a numeric string). Returns the ratio.
 * A bare number above 1 is rejected with a hint, since `99` most likely meant `99%`.
 */
export function parsePercent(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`must be a percentage such as 99% or a ratio in [0, 1], got ${describeValue(value)}`);
    if (value > 1) {
      const hint = value <= 100 ? ` (did you mean ${value}%?)` : '';
      throw new Error(`must be a percentage such as 99% or a ratio in [0, 1], got ${value}${hint}`);
    }
    return value;
  }
  if (typeof value !== 'string')
    throw new Error(`must be a percentage such as 99% or a ratio in [0, 1], got ${describeValue(value)}`);
  const text = value.trim();
  const pct = /^(\d+(?:\.\d+)?|\.\d+)\s*%$/.exec(text);
  if (pct) {
    const n = Number(pct[1]);
    if (n > 100) throw new Error(`must be at most 100%, got ${describeValue(value)}`);
    // Shift the decimal point in the text so 99.9% is exactly 0.999, not 99.9 / 100.
    return Number(`${pct[1]}e-2`);
  }
  if (/^(\d+(?:\.\d+)?|\.\d+)$/.test(text)) return parsePercent(Number(text));
  if (/^-/.test(text)) throw new Error(`must not be negative, got ${describeValue(value)}`);
  throw new Error(`must be a percentage such as 99% or a ratio in [0, 1], got ${describeValue(value)}`);
}

/** Formats milliseconds for messages and plan output: 500ms, 1.5s, 2m, 19m30s, 1h5m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms - h * 3_600_000) / 60_000);
  const rest = ms - h * 3_600_000 - m * 60_000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest ? formatDuration(rest) : ''}`;
}

export function formatPercent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(4))}%`;
}

/** Edit distance counting an adjacent transposition as one edit ("stpe" → "step" is 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidate within a distance that scales with the word's length, or null. */
export function closest(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  let best: string | null = null;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(w.length / 3)));
  if (
    best !== null &&
    (bestDist <= allowed || (bestDist <= 4 && (best.includes(w) || w.includes(best.toLowerCase())) && w.length >= 3))
  )
    return best;
  return null;
}

/** ` (did you mean "x"?)` or an empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === null ? '' : ` (did you mean "${c}"?)`;
}
