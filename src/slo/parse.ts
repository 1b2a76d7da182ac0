// Parses one SLO rule from its text; the grammar is in docs/profile.md, "SLO rules".
import { ALL_ERROR_CLASSES } from '../model/record.ts';
import { closest, describeValue, parseDuration, parsePercent } from '../util/units.ts';
import type { Comparator, LatencyMetric, LatencyStat, SloRule } from './types.ts';

export const LATENCY_STATS: readonly LatencyStat[] = ['avg', 'p50', 'p90', 'p95', 'p99', 'max'];
export const LATENCY_METRICS: readonly LatencyMetric[] = ['ttft', 'ttfb', 'e2e', 'tpot', 'itl', 'ttfo'];
export const RATE_METRICS = ['success_rate', 'error_rate', 'goodput_ratio'] as const;
export const THROUGHPUT_METRICS = ['qps', 'output_tps', 'goodput'] as const;
export const COMPARATORS: readonly Comparator[] = ['<', '<=', '>', '>='];

const SUBJECTS: readonly string[] = [...LATENCY_STATS, ...RATE_METRICS, ...THROUGHPUT_METRICS];
const EXAMPLES = 'e.g. "p99(ttft) < 1s", "success_rate >= 99%", "qps >= 10"';

function quoteList(items: readonly string[]): string {
  return items.join(', ');
}

function suggestion(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === null ? '' : `; did you mean "${c}"?`;
}

function splitOperator(text: string): { lhs: string; op: Comparator; rhs: string } {
  const m = /^(.*?)\s*([<>=!]+)\s*(.*)$/s.exec(text);
  if (!m) throw new Error(`missing a comparison operator (one of ${quoteList(COMPARATORS)}), ${EXAMPLES}`);
  const [, lhs = '', rawOp = '', rhs = ''] = m;
  if (!(COMPARATORS as readonly string[]).includes(rawOp)) {
    const fixes: Record<string, string> = { '=<': '<=', '=>': '>=', '<<': '<', '>>': '>' };
    const fix = fixes[rawOp];
    const hint = fix
      ? `; did you mean "${fix}"?`
      : rawOp.includes('=') && !rawOp.includes('<') && !rawOp.includes('>')
        ? '; equality cannot hold on a measurement, use a bound such as <= or >='
        : '';
    throw new Error(`unknown operator "${rawOp}", expected one of ${quoteList(COMPARATORS)}${hint}`);
  }
  if (lhs.trim() === '') throw new Error(`missing what to measure before "${rawOp}", ${EXAMPLES}`);
  if (rhs.trim() === '') throw new Error(`missing a threshold after "${rawOp}"`);
  return { lhs: lhs.trim(), op: rawOp as Comparator, rhs: rhs.trim() };
}

function parseSubject(lhs: string): { name: string; arg: string | null } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*([^()]*?)\s*\))?$/.exec(lhs);
  if (!m)
    throw new Error(
      `cannot read "${lhs}": expected <stat>(<metric>), success_rate, error_rate, error_rate(<class>), qps, output_tps, goodput or goodput_ratio, ${EXAMPLES}`,
    );
  return { name: (m[1] as string).toLowerCase(), arg: m[2] === undefined ? null : m[2] };
}

function parseLatencyThreshold(rhs: string): number {
  let ms: number;
  try {
    ms = parseDuration(rhs);
  } catch (err) {
    throw new Error(`threshold ${(err as Error).message}`);
  }
  if (ms <= 0) throw new Error(`threshold must be greater than 0, got ${describeValue(rhs)}`);
  return ms;
}

function parseRateThreshold(rhs: string): number {
  try {
    return parsePercent(rhs);
  } catch (err) {
    throw new Error(`threshold ${(err as Error).message}`);
  }
}

function parseNumberThreshold(rhs: string, unit: string): number {
  const text = rhs.replace(/\s*\/\s*s$/i, '');
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(text)) {
    throw new Error(`threshold must be a non-negative number of ${unit} (e.g. 10 or 12.5), got ${describeValue(rhs)}`);
  }
  return Number(text);
}

/** Parses one rule; throws an Error whose message says what is wrong (without location). */
export function parseRule(text: string): SloRule {
  if (typeof text !== 'string')
    throw new Error(`a rule must be a string such as "p99(ttft) < 1s", got ${describeValue(text)}`);
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`a rule must not be empty, ${EXAMPLES}`);
  const { lhs, op, rhs } = splitOperator(trimmed);
  const { name, arg } = parseSubject(lhs);
  if ((LATENCY_STATS as readonly string[]).includes(name))
    return latencyRule(trimmed, name as LatencyStat, arg, op, rhs);
  if (name === 'success_rate' || name === 'error_rate' || name === 'goodput_ratio')
    return rateRule(trimmed, name, arg, op, rhs);
  if (name === 'qps' || name === 'output_tps' || name === 'goodput') {
    if (arg !== null) throw new Error(`${name} takes no argument`);
    const unit = THROUGHPUT_UNITS[name];
    return { kind: 'throughput', text: trimmed, metric: name, op, threshold: parseNumberThreshold(rhs, unit) };
  }
  return unknownSubject(name, arg);
}

const THROUGHPUT_UNITS = {
  qps: 'successful requests per second',
  output_tps: 'output tokens per second',
  goodput: 'good requests per second',
} as const;

function latencyRule(text: string, stat: LatencyStat, arg: string | null, op: Comparator, rhs: string): SloRule {
  if (arg === null)
    throw new Error(
      `"${stat}" needs a metric in parentheses, e.g. ${stat}(ttft); metrics: ${quoteList(LATENCY_METRICS)}`,
    );
  const metric = arg.toLowerCase();
  if (!(LATENCY_METRICS as readonly string[]).includes(metric)) {
    throw new Error(
      `unknown metric "${arg}"${suggestion(metric, LATENCY_METRICS)}; metrics: ${quoteList(LATENCY_METRICS)}`,
    );
  }
  return { kind: 'latency', text, stat, metric: metric as LatencyMetric, op, thresholdMs: parseLatencyThreshold(rhs) };
}

function rateRule(
  text: string,
  metric: 'success_rate' | 'error_rate' | 'goodput_ratio',
  arg: string | null,
  op: Comparator,
  rhs: string,
): SloRule {
  let errorClass: string | null = null;
  if (arg !== null) {
    if (metric !== 'error_rate')
      throw new Error(`${metric} takes no argument; to bound one error class write error_rate(${arg}) < 1%`);
    const cls = arg.toLowerCase();
    if (!(ALL_ERROR_CLASSES as readonly string[]).includes(cls)) {
      throw new Error(
        `unknown error class "${arg}"${suggestion(cls, ALL_ERROR_CLASSES)}; classes: ${quoteList(ALL_ERROR_CLASSES)}`,
      );
    }
    errorClass = cls;
  }
  return { kind: 'rate', text, metric, errorClass, op, threshold: parseRateThreshold(rhs) };
}

/** Throws the most helpful error for a subject that is none of the known ones. */
function unknownSubject(name: string, arg: string | null): never {
  if ((LATENCY_METRICS as readonly string[]).includes(name)) {
    throw new Error(
      `"${name}" needs a statistic, e.g. p99(${name}) or avg(${name}); statistics: ${quoteList(LATENCY_STATS)}`,
    );
  }
  if (/^p\d+(\.\d+)?$/.test(name)) {
    throw new Error(`unsupported percentile "${name}"; statistics: ${quoteList(LATENCY_STATS)}`);
  }
  // `ttft_p99 < 1s` or `p99_ttft < 1s`: a common spelling in other tools.
  const parts = name.split('_');
  if (parts.length === 2) {
    const [a = '', b = ''] = parts;
    const stat = (LATENCY_STATS as readonly string[]).includes(a)
      ? a
      : (LATENCY_STATS as readonly string[]).includes(b)
        ? b
        : null;
    const metric = (LATENCY_METRICS as readonly string[]).includes(a)
      ? a
      : (LATENCY_METRICS as readonly string[]).includes(b)
        ? b
        : null;
    if (stat && metric) throw new Error(`unknown rule subject "${name}"; did you mean "${stat}(${metric})"?`);
  }
  const near = closest(name, [...SUBJECTS, ...LATENCY_METRICS]);
  let hint = '';
  if (near !== null) {
    hint =
      (LATENCY_STATS as readonly string[]).includes(near) && arg !== null
        ? `; did you mean "${near}(${arg})"?`
        : `; did you mean "${near}"?`;
  }
  throw new Error(
    `unknown rule subject "${name}"${hint}; expected <stat>(<metric>) with stat ${quoteList(LATENCY_STATS)}, or success_rate, error_rate, error_rate(<class>), qps, output_tps, goodput, goodput_ratio`,
  );
}
