// `find-capacity compare <run-dir-A> <run-dir-B>`: both runs folded from their files by the same fold as
// `report`, then capacity, QPS, latency and error rate compared on their confidence intervals.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/jsonl.ts';
import type {
  MetricUnit,
  ComparedMetric,
  ComparedRun,
  ComparedStage,
  Comparison,
  Estimate,
  MetricComparison,
} from '../model/compare.ts';
import type { RequestRecord } from '../model/record.ts';
import type { StageResult } from '../model/verdict.ts';
import { rampLevels } from '../profile/plan.ts';
import type { Profile } from '../profile/types.ts';
import { renderCompareHtml } from '../report/compare-html.ts';
import { formatInterval, formatValue } from '../report/compare-text.ts';
import type { StageWithWindow } from '../report/summary.ts';
import type { LatencyStat } from '../slo/types.ts';
import { meanInterval, poissonRateInterval, proportionInterval, quantileInterval } from '../stats/confidence.ts';
import { metricSamples } from '../stats/summarize.ts';
import { TOOL_VERSION } from '../version.ts';
import { differencesOf, targetOf } from './comparable.ts';
import { changeOf, judgeChange, type Direction } from './compare-judge.ts';
import { levelStatuses } from './decide.ts';
import { foldRun, recordsByStage } from './fold.ts';
import { healthLimits } from './judge.ts';
import { readRunDir, type RunDir } from './run-dir.ts';

const QUANTILE: Partial<Record<LatencyStat, number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** A run folded for comparison: its view for the renderers and, per tested level, the stage compared there. */
interface FoldedRun {
  view: ComparedRun;
  levels: Map<number, { stage: StageResult; records: RequestRecord[]; windows: Set<number> }>;
}

/** The statistic compared for a latency metric: the one its first SLO rule uses, else p99. */
function statFor(profile: Profile, metric: 'ttft' | 'e2e'): LatencyStat {
  for (const r of profile.slo) if (r.kind === 'latency' && r.metric === metric) return r.stat;
  return 'p99';
}

/** The range the knee can lie in: from the capacity up to just below the lowest confirmed FAIL above it. */
function capacityRange(
  history: readonly StageResult[],
  capacity: number | null,
  profile: Profile,
): [number, number | null] {
  const lo = capacity ?? 0;
  const fails = [...levelStatuses(history, profile.verdict.confirmFailures)]
    .filter(([level, st]) => st === 'FAIL' && level > lo)
    .map(([level]) => level);
  return [lo, fails.length > 0 ? Math.min(...fails) - 1 : null];
}

function foldForCompare(label: 'A' | 'B', run: RunDir, stats: { ttft: LatencyStat; e2e: LatencyStat }): FoldedRun {
  const { state, capacity } = foldRun(run.profile, run.lines, run.records, rampLevels(run.profile.ramp));
  const byStage = recordsByStage(run.records);
  const levels: FoldedRun['levels'] = new Map();
  const judged = state.staged.filter((s: StageWithWindow) => !s.result.partial);
  for (const s of judged) {
    if (s.result.verdict === 'INVALID' || s.result.summary.requests === 0) continue;
    const windows = new Set((s.windows ?? []).map((w) => w.index));
    if (windows.size === 0) windows.add(s.result.summary.index);
    const records = [...windows].flatMap((i) => byStage.get(i) ?? []);
    levels.set(s.result.summary.concurrency, { stage: s.result, records, windows });
  }
  const atCap = capacity.concurrency === null ? undefined : levels.get(capacity.concurrency)?.stage;
  const stages: ComparedStage[] = state.staged.map(({ result: r }) => ({
    index: r.summary.index,
    concurrency: r.summary.concurrency,
    verdict: r.verdict,
    lowConfidence: r.lowConfidence,
    qps: r.summary.qps,
    ttftMs: r.summary.ttftMs[stats.ttft],
    e2eMs: r.summary.e2eMs[stats.e2e],
    errorRate: r.summary.errorRate,
  }));
  const view: ComparedRun = {
    label,
    dir: run.dir,
    name: run.profile.name,
    model: run.profile.target.model,
    target: targetOf(run),
    startedAt: run.summary?.started_at ?? null,
    toolVersion: run.summary?.tool_version ?? null,
    capacity,
    capacityRange: capacityRange(state.history, capacity.concurrency, run.profile),
    atCapacity: atCap ? { qps: atCap.summary.qps, outputTokensPerS: atCap.summary.outputTokensPerS } : null,
    stages,
  };
  return { view, levels };
}

const fmtChange = (direction: Direction, change: number | null) =>
  change === null
    ? ''
    : direction === 'lower_points'
      ? ` (${change >= 0 ? '+' : '−'}${(Math.abs(change) * 100).toFixed(1)} points)`
      : ` (${change >= 0 ? '+' : '−'}${Math.abs(change * 100).toFixed(1)}%)`;

interface Allowance {
  allowed: number;
  toleranceAbs: number;
  confidence: number;
}

/** One metric judged, with its sentence. */
function judged(
  what: { metric: ComparedMetric; unit: MetricUnit; label: string; concurrency: number | null },
  direction: Direction,
  a: Estimate,
  b: Estimate,
  allowance: Allowance,
): MetricComparison {
  const outcome = judgeChange(direction, a, b, allowance.allowed, allowance.toleranceAbs);
  const change = changeOf(direction, a.value, b.value);
  const v = (e: Estimate) => formatValue(what.unit, e.value);
  const ci = (e: Estimate) => formatInterval(what.unit, e.interval);
  const range = what.metric === 'capacity' ? 'knee in' : `${Math.round(allowance.confidence * 100)}% CI`;
  const pct = `${(allowance.allowed * 100).toFixed(1)}${direction === 'lower_points' ? ' points' : '%'}`;
  const meaning = {
    regression: `worse beyond the allowed ${pct}`,
    worse_within_tolerance: `worse, within the allowed ${pct}`,
    improvement: 'better',
    no_significant_change: 'no significant change',
  }[outcome];
  const detail = `${what.label}: ${v(a)} → ${v(b)}${fmtChange(direction, change)}, ${meaning} (A ${range} ${ci(a)}, B ${range} ${ci(b)})`;
  return { ...what, a, b, change, outcome, detail };
}

function capacityComparison(a: ComparedRun, b: ComparedRun, allowed: number, confidence: number): MetricComparison {
  const estimate = (r: ComparedRun): Estimate => ({
    value: r.capacity.concurrency,
    interval: [r.capacityRange[0], r.capacityRange[1] ?? Infinity],
  });
  const what = { metric: 'capacity', unit: 'concurrency', label: 'capacity', concurrency: null } as const;
  return judged(what, 'higher', estimate(a), estimate(b), { allowed, toleranceAbs: 0, confidence });
}

function latencyEstimate(
  level: NonNullable<ReturnType<FoldedRun['levels']['get']>>,
  metric: 'ttft' | 'e2e',
  stat: LatencyStat,
  confidence: number,
): Estimate {
  const value = (metric === 'ttft' ? level.stage.summary.ttftMs : level.stage.summary.e2eMs)[stat];
  const samples = metricSamples(level.records, level.windows, metric).sort((x, y) => x - y);
  const q = QUANTILE[stat];
  if (samples.length === 0 || value === null) return { value, interval: null };
  if (stat === 'avg') return { value, interval: meanInterval(samples, confidence) };
  // The maximum has no interval: one sample decides it.
  return { value, interval: q === undefined ? null : quantileInterval(samples, q, confidence) };
}

/** QPS, TTFT, E2E and error rate at every level both runs tested, up to A's capacity (the load A's SLA covers). */
function levelComparisons(
  a: FoldedRun,
  b: FoldedRun,
  o: { allowed: number; confidence: number; toleranceMs: number; ttft: LatencyStat; e2e: LatencyStat },
): MetricComparison[] {
  const cap = a.view.capacity.concurrency;
  if (cap === null) return [];
  const common = [...a.levels.keys()].filter((c) => c <= cap && b.levels.has(c)).sort((x, y) => x - y);
  const relative = { allowed: o.allowed, toleranceAbs: 0, confidence: o.confidence };
  const timed = { ...relative, toleranceAbs: o.toleranceMs };
  return common.flatMap((c) => {
    const la = a.levels.get(c)!;
    const lb = b.levels.get(c)!;
    const qps = (l: typeof la): Estimate => ({
      value: l.stage.summary.qps,
      interval: poissonRateInterval(l.stage.summary.okCompletedInWindow, l.stage.summary.windowMs / 1000, o.confidence),
    });
    const errors = (l: typeof la): Estimate => ({
      value: l.stage.summary.errorRate,
      interval: proportionInterval(l.stage.summary.failed, l.stage.summary.requests, o.confidence),
    });
    const lat = (l: typeof la, m: 'ttft' | 'e2e') => latencyEstimate(l, m, m === 'ttft' ? o.ttft : o.e2e, o.confidence);
    const at = (metric: ComparedMetric, unit: MetricUnit, label: string) => ({ metric, unit, label, concurrency: c });
    return [
      judged(at('qps', 'req/s', `QPS at ${c}`), 'higher', qps(la), qps(lb), relative),
      judged(at('ttft', 'ms', `${o.ttft} TTFT at ${c}`), 'lower', lat(la, 'ttft'), lat(lb, 'ttft'), timed),
      judged(at('e2e', 'ms', `${o.e2e} E2E at ${c}`), 'lower', lat(la, 'e2e'), lat(lb, 'e2e'), timed),
      judged(at('error_rate', 'ratio', `error rate at ${c}`), 'lower_points', errors(la), errors(lb), relative),
    ];
  });
}

/** Compares two run directories; `allowed` is --max-regression as a ratio. */
export function compareRunDirs(dirA: string, dirB: string, allowed: number): Comparison {
  const runA = readRunDir(dirA);
  const runB = readRunDir(dirB);
  const { differences, notes } = differencesOf(runA, runB);
  const ttft = statFor(runA.profile, 'ttft');
  const e2e = statFor(runA.profile, 'e2e');
  const a = foldForCompare('A', runA, { ttft, e2e });
  const b = foldForCompare('B', runB, { ttft, e2e });
  const confidence = runA.profile.verdict.confidence;
  // The event-loop delay a stage may show and still be valid: latency differences below it are the generator's.
  const toleranceMs = healthLimits(runA.profile).eventLoopDelayP99Ms;
  const metrics =
    differences.length > 0
      ? []
      : [
          capacityComparison(a.view, b.view, allowed, confidence),
          ...levelComparisons(a, b, { allowed, confidence, toleranceMs, ttft, e2e }),
        ];
  const verdict =
    differences.length > 0
      ? 'not_comparable'
      : metrics.some((m) => m.outcome === 'regression')
        ? 'regression'
        : 'no_regression';
  return {
    a: a.view,
    b: b.view,
    verdict,
    differences,
    notes,
    maxRegression: allowed,
    confidence,
    timingToleranceMs: toleranceMs,
    ttftStat: ttft,
    e2eStat: e2e,
    metrics,
  };
}

/** compare.json and compare.html, each written whole. */
export function writeComparison(outDir: string, c: Comparison): { json: string; html: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'compare.json');
  const html = join(outDir, 'compare.html');
  writeFileAtomicSync(json, JSON.stringify({ tool_version: TOOL_VERSION, ...c }, null, 2) + '\n');
  writeFileAtomicSync(html, renderCompareHtml(c, TOOL_VERSION));
  return { json, html };
}
