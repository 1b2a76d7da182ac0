// The bench's tables, pure: the per-run table, the tool-vs-floor pairs, the tail attribution and the targets, from
// the rows of `bench/run.ts`. Apart so that a test can check them without running the bench.
import type { PointResult } from './point.ts';

export const DEFAULT_TOKENS = 64;

export interface Row extends Omit<PointResult, 'client'> {
  client: string;
  itlMs: number;
  /** The simulator's first-token delay. */
  ttftMs: number;
  tokens: number;
  /** Which repeat of the points the run belongs to: a tool run is paired with the floor run of its repeat. */
  repeat?: number;
  chunksPerS: number;
  cpuUsPerChunk: number;
  cpuPercent: number;
  simCpuPercent: number;
  ttftOverheadP50Ms: number | null;
  ttftOverheadP99Ms: number | null;
  serverTtftP50Ms: number | null;
  joined: number;
  /** The overhead's two sides, p99: sending (server arrival − t0) and receiving (client first token − server's). */
  sendP99Ms: number | null;
  receiveP99Ms: number | null;
  /** The requests at or above the overhead's p99: in how many bursts (5 ms apart), and the share behind a GC pause. */
  tailRequests: number;
  tailBursts: number;
  tailBehindGc: number | null;
  /** The window's main-thread GC pauses: the longest, their sum, and the number of major collections. */
  gcMaxMs: number;
  gcTotalMs: number;
  majorGcs: number;
  /** GC pauses of 2 ms or more, and how many of them held at least one first token back. */
  longGcs: number;
  longGcsHolding: number;
  load1: number;
}

/**
 * Upper bound of the chunk rate at a point: each stream's cycle is at least the first-token delay plus one step per
 * token (C ÷ ITL without a delay).
 */
export function idealChunksPerS(r: { concurrency: number; itlMs: number; ttftMs: number; tokens: number }): number {
  return (r.concurrency * r.tokens * 1000) / (r.ttftMs + r.tokens * r.itlMs);
}

export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One window request joined with the simulator's ground truth (epoch ms). */
export interface Joined {
  t0: number;
  first: number;
  arrival: number;
  serverFirst: number;
}

export interface GcPause {
  at: number;
  ms: number;
  /** perf_hooks' gc kind: 1 minor, 4 major, 8 incremental, 16 weak callbacks. */
  kind: number;
}

const MAJOR_GC = 4;

/**
 * Where the TTFT overhead's tail comes from: the two sides of the overhead, how bunched the tail is in time (a
 * stalled loop delays every stream at once: few bursts), and how much of it waited behind a main-thread GC pause.
 */
export function tailAttribution(joined: Joined[], gc: GcPause[]) {
  const overhead = (j: Joined) => j.first - j.t0 - (j.serverFirst - j.arrival);
  const p99 = quantile(
    joined.map(overhead).sort((a, b) => a - b),
    0.99,
  );
  const tail = p99 === null ? [] : joined.filter((j) => overhead(j) >= p99).sort((a, b) => a.first - b.first);
  let bursts = 0;
  for (let i = 0; i < tail.length; i++) if (i === 0 || tail[i]!.first - tail[i - 1]!.first > 5) bursts++;
  const behindGc = tail.filter((j) => gc.some((g) => g.ms >= 1 && g.at < j.first && g.at + g.ms > j.serverFirst));
  // Which pauses held a first token back at all: a pause between two simulator steps delays nobody.
  const long = gc.filter((g) => g.ms >= 2);
  const holding = long.filter((g) => joined.some((j) => g.at < j.first && g.at + g.ms > j.serverFirst));
  return {
    sendP99Ms: quantile(
      joined.map((j) => j.arrival - j.t0).sort((a, b) => a - b),
      0.99,
    ),
    receiveP99Ms: quantile(
      joined.map((j) => j.first - j.serverFirst).sort((a, b) => a - b),
      0.99,
    ),
    tailRequests: tail.length,
    tailBursts: bursts,
    tailBehindGc: tail.length > 0 ? behindGc.length / tail.length : null,
    gcMaxMs: gc.reduce((m, g) => Math.max(m, g.ms), 0),
    gcTotalMs: gc.reduce((sum, g) => sum + g.ms, 0),
    majorGcs: gc.filter((g) => g.kind === MAJOR_GC).length,
    longGcs: long.length,
    longGcsHolding: holding.length,
  };
}

export const f = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

/** The reference run for a row: same point, same repetition (the nearest one before it). */
function refFor(rows: Row[], r: Row): Row | undefined {
  const same = (x: Row) =>
    x.client === 'ref' &&
    x.concurrency === r.concurrency &&
    x.itlMs === r.itlMs &&
    x.tokens === r.tokens &&
    x.ttftMs === r.ttftMs;
  if (r.repeat !== undefined) {
    const ofRepeat = rows.find((x) => same(x) && x.repeat === r.repeat);
    if (ofRepeat) return ofRepeat;
  }
  const i = rows.indexOf(r);
  for (let k = i; k >= 0; k--) if (same(rows[k]!)) return rows[k];
  return rows.find(same);
}

/** The judge's view of the stage's generator health (find-capacity's INVALID rule and CPU warning). */
function judgedCell(r: Row): string {
  if (!r.judged) return '-';
  if (r.judged.verdict === 'INVALID') {
    // Which health check: event-loop delay, TTFT overhead against the ground truth, achieved concurrency.
    const why = [/event-loop/, /TTFT overhead/, /achieved concurrency/]
      .map((re, i) => (r.judged!.problems.some((p) => re.test(p)) ? ['ELD', 'TTFT ovh', 'starved'][i] : null))
      .filter(Boolean);
    return `INVALID (${why.join(', ')})`;
  }
  return r.judged.warnings.some((w) => w.includes('CPU')) ? 'ok, CPU warning' : 'ok';
}

export function formatTable(rows: Row[]): string {
  const head = [
    'C',
    'ITL',
    'client',
    'W',
    'chunks/s',
    '% ideal',
    'CPU µs/chunk',
    '× floor',
    'CPU %',
    'TTFT ovh p50 ms',
    'p99 ms',
    'ELD p99 ms',
    'peak RSS MB',
    'records B/rec',
    'kept B/rec',
    'sim CPU %',
    'judge',
    'failed',
    'load',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    const ref = refFor(rows, r);
    const ideal = idealChunksPerS(r);
    lines.push(
      `| ${[
        r.concurrency,
        r.tokens === DEFAULT_TOKENS ? `${r.itlMs} ms` : `${r.itlMs} ms, ${r.tokens} tok`,
        r.client,
        r.workers,
        f(r.chunksPerS, 0),
        f((r.chunksPerS / ideal) * 100, 0),
        f(r.cpuUsPerChunk, 1),
        r.client === 'ref' ? '1' : ref ? f(r.cpuUsPerChunk / ref.cpuUsPerChunk, 2) : '-',
        f(r.cpuPercent, 0),
        f(r.ttftOverheadP50Ms, 2),
        f(r.ttftOverheadP99Ms, 2),
        f(r.eventLoopDelayP99Ms, 1),
        f(r.peakRssMb, 0),
        f(r.heapPerRecordB, 0),
        // Per record only where there are enough records for heap noise (JIT code, pools) not to dominate.
        r.requests >= 1000 ? f(r.heapRetainedPerRecordB, 0) : '-',
        f(r.simCpuPercent, 0),
        judgedCell(r),
        r.failed,
        f(r.load1, 1),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** The allowed TTFT-overhead p99 over the floor's, by concurrency (ITL 10 ms): the generator's own tail. */
const TTFT_TAIL_LIMITS = new Map([
  [100, 1],
  [250, 2],
]);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(2);

interface Pair {
  tool: Row;
  ref: Row;
  cpuRatio: number;
  /** TTFT overhead p99: tool − floor, and tool ÷ floor. */
  p99Diff: number | null;
  p99Ratio: number | null;
}

/** The one-thread tool runs of each point with their floor (the ref run of the same repeat, else the one before). */
export function pairedPoints(rows: Row[]): { label: string; concurrency: number; itlMs: number; pairs: Pair[] }[] {
  const points = new Map<string, { label: string; concurrency: number; itlMs: number; pairs: Pair[] }>();
  for (const tool of rows.filter((r) => r.client === 'tool' && r.workers === 1)) {
    const ref = refFor(rows, tool);
    if (!ref) continue;
    const label = `C=${tool.concurrency}, ITL ${tool.itlMs} ms${tool.tokens === DEFAULT_TOKENS ? '' : `, ${tool.tokens} tok`}`;
    const point = points.get(label) ?? { label, concurrency: tool.concurrency, itlMs: tool.itlMs, pairs: [] };
    points.set(label, point);
    const both = tool.ttftOverheadP99Ms !== null && ref.ttftOverheadP99Ms !== null;
    point.pairs.push({
      tool,
      ref,
      cpuRatio: tool.cpuUsPerChunk / ref.cpuUsPerChunk,
      p99Diff: both ? tool.ttftOverheadP99Ms! - ref.ttftOverheadP99Ms! : null,
      p99Ratio: both && ref.ttftOverheadP99Ms! > 0 ? tool.ttftOverheadP99Ms! / ref.ttftOverheadP99Ms! : null,
    });
  }
  return [...points.values()];
}

/** Tool and floor side by side per point: each interleaved pair, then the medians the targets are judged on. */
export function formatPairs(rows: Row[]): string {
  const head = [
    'point',
    'pairs',
    'TTFT ovh p99 ms: tool (floor), each pair',
    'tool − floor ms',
    'median −',
    'median ÷',
    'CPU × floor',
    'median ×',
    'tail: bursts, behind GC (tool / floor)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const pt of pairedPoints(rows)) {
    const diffs = pt.pairs.map((q) => q.p99Diff).filter((x): x is number => x !== null);
    const ratios = pt.pairs.map((q) => q.p99Ratio).filter((x): x is number => x !== null);
    const tail = (r: Row) =>
      `${r.tailBursts}, ${r.tailBehindGc === null ? '-' : `${(r.tailBehindGc * 100).toFixed(0)} %`}`;
    lines.push(
      `| ${[
        pt.label,
        pt.pairs.length,
        pt.pairs.map((q) => `${f(q.tool.ttftOverheadP99Ms, 2)} (${f(q.ref.ttftOverheadP99Ms, 2)})`).join(', '),
        diffs.map(signed).join(', '),
        diffs.length > 0 ? signed(median(diffs)) : '-',
        ratios.length > 0 ? median(ratios).toFixed(2) : '-',
        pt.pairs.map((q) => q.cpuRatio.toFixed(2)).join(', '),
        median(pt.pairs.map((q) => q.cpuRatio)).toFixed(2),
        pt.pairs.map((q) => `${tail(q.tool)} / ${tail(q.ref)}`).join('; '),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** The issue's targets, checked on the rows of this run. */
export function targetLines(rows: Row[]): string[] {
  const out: string[] = [];
  const tool = rows.filter((r) => r.client === 'tool');
  const verdict = (ok: boolean) => (ok ? 'holds' : 'DOES NOT HOLD');
  for (const pt of pairedPoints(rows)) {
    const cpu = median(pt.pairs.map((q) => q.cpuRatio));
    out.push(
      `CPU per chunk <= 1.2x the floor at ${pt.label}: ${verdict(cpu <= 1.2)} (median ${cpu.toFixed(2)}x of ${pt.pairs.length} pair(s): ${pt.pairs.map((q) => q.cpuRatio.toFixed(2)).join(', ')})`,
    );
    const limit = TTFT_TAIL_LIMITS.get(pt.concurrency);
    if (limit === undefined || pt.itlMs !== 10) continue;
    const diffs = pt.pairs.map((q) => q.p99Diff).filter((x): x is number => x !== null);
    const diff = diffs.length > 0 ? median(diffs) : Infinity;
    out.push(
      `TTFT overhead p99 <= the floor's + ${limit} ms at ${pt.concurrency} streams: ${verdict(diff <= limit)} (median ${signed(diff)} ms of ${diffs.length} pair(s): ${diffs.map(signed).join(', ')})`,
    );
  }
  const big = tool.filter((r) => r.concurrency >= 5000);
  for (const r of big) {
    out.push(
      `5,000 streams, ITL ${r.itlMs} ms, ${r.workers} thread(s): event-loop delay p99 ${f(r.eventLoopDelayP99Ms, 1)} ms (target <= 20): ${verdict(r.eventLoopDelayP99Ms <= 20)}; ${f((r.chunksPerS / idealChunksPerS(r)) * 100, 0)} % of the ideal chunk rate, simulator CPU ${f(r.simCpuPercent, 0)} %`,
    );
  }
  const kept = tool.filter((r) => r.heapRetainedPerRecordB !== null && r.requests >= 1000);
  if (kept.length > 0) {
    const worst = Math.max(...kept.map((r) => r.heapRetainedPerRecordB!));
    out.push(
      `memory <= 1 KB per recorded request beyond the current stage: ${verdict(worst <= 1024)} (worst ${worst.toFixed(0)} B/rec kept once the stage's records were dropped, over stages of >= 1,000 records; held during the stage: ${kept.map((r) => f(r.heapPerRecordB, 0)).join(', ')} B/rec)`,
    );
  }
  return out;
}
