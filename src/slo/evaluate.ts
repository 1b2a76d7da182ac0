// Pure: judge one stage against the SLO rules. Each rule gets a point estimate, a confidence
// interval and one of pass / fail / undecided (the interval straddles the threshold).
import type { RequestRecord } from '../model/record.ts';
import { metricSamples } from '../stats/summarize.ts';
import { meanInterval, proportionInterval, quantileInterval } from '../stats/confidence.ts';
import { meanSamples, percentileSamples, rateSamples } from './sample-size.ts';
import type { StageSummary } from '../model/summary.ts';
import type { Comparator, SloRule } from './types.ts';

export type RuleOutcome = 'pass' | 'fail' | 'undecided';

export interface RuleEvaluation {
  rule: string;
  value: number | null;
  interval: [number, number] | null;
  /** Judged on the point estimate alone. */
  pointPass: boolean | null;
  outcome: RuleOutcome;
  reason: string;
  /** Samples the rule was judged on, and, when undecided, about how many would decide it (null: none would). */
  samples: number;
  samplesToDecide: number | null;
}

const QUANTILE: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

export function compare(value: number, op: Comparator, threshold: number): boolean {
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
  }
}

export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return ms === null ? 'n/a' : ms > 0 ? '∞' : '−∞';
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  return `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

export function formatPct(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return 'n/a';
  const p = x * 100;
  return `${p === 100 || p === 0 ? p.toFixed(0) : p >= 99 || p < 1 ? p.toFixed(2) : p.toFixed(1)}%`;
}

function fmtValue(rule: SloRule, v: number | null): string {
  if (rule.kind === 'latency') return formatMs(v);
  if (rule.kind === 'rate') return formatPct(v);
  return v === null ? 'n/a' : v.toFixed(2);
}

function fmtThreshold(rule: SloRule): string {
  if (rule.kind === 'latency') return formatMs(rule.thresholdMs);
  if (rule.kind === 'rate') return formatPct(rule.threshold);
  return String(rule.threshold);
}

/** An interval decides a rule when all of it lies on one side of the threshold. */
function outcomeOf(interval: [number, number], op: Comparator, threshold: number): RuleOutcome {
  const [lo, hi] = interval;
  const passLo = compare(lo, op, threshold);
  const passHi = compare(hi, op, threshold);
  if (passLo && passHi) return 'pass';
  if (!passLo && !passHi) return 'fail';
  return 'undecided';
}

/** A proportion rule's value and Wilson interval: success, error (of a class) or goodput ratio of the window's requests. */
function proportionOf(
  rule: Extract<SloRule, { kind: 'rate' }>,
  summary: StageSummary,
  confidence: number,
): { value: number | null; interval: [number, number] | null } {
  const n = summary.requests;
  const bad =
    rule.errorClass === null ? summary.failed : (summary.errors[rule.errorClass as keyof typeof summary.errors] ?? 0);
  const k = rule.metric === 'success_rate' ? summary.ok : rule.metric === 'goodput_ratio' ? goodCount(summary) : bad;
  return n > 0 ? { value: k / n, interval: proportionInterval(k, n, confidence) } : { value: null, interval: null };
}

/** Good requests of a stage; a summary built without goodput counts every success. */
function goodCount(summary: StageSummary): number {
  return summary.goodRequests ?? summary.ok;
}

function throughputOf(metric: 'qps' | 'output_tps' | 'goodput', summary: StageSummary): number {
  if (metric === 'qps') return summary.qps;
  if (metric === 'output_tps') return summary.outputTokensPerS;
  return summary.goodput ?? summary.qps;
}

export function evaluateRules(
  rules: readonly SloRule[],
  summary: StageSummary,
  records: readonly RequestRecord[],
  confidence: number,
  stages: ReadonlySet<number> = new Set([summary.index]),
): RuleEvaluation[] {
  return rules.map((rule) => {
    let value: number | null = null;
    let interval: [number, number] | null = null;
    let samples: number[] = [];
    const threshold = rule.kind === 'latency' ? rule.thresholdMs : rule.threshold;
    if (rule.kind === 'latency') {
      samples = metricSamples(records, stages, rule.metric).sort((a, b) => a - b);
      const key = `${rule.metric}Ms` as 'ttftMs' | 'ttfbMs' | 'e2eMs' | 'tpotMs' | 'itlMs' | 'ttfoMs';
      value = summary[key][rule.stat];
      if (samples.length > 0) {
        if (rule.stat === 'max') interval = [value!, value!];
        else if (rule.stat === 'avg') interval = meanInterval(samples, confidence);
        else interval = quantileInterval(samples, QUANTILE[rule.stat]!, confidence);
      }
    } else if (rule.kind === 'rate') {
      ({ value, interval } = proportionOf(rule, summary, confidence));
    } else {
      // Throughput is a property of the whole window, not a sample: judged on its value.
      value = throughputOf(rule.metric, summary);
      interval = [value, value];
    }
    const label =
      rule.kind === 'latency'
        ? `${rule.stat}(${rule.metric})`
        : rule.kind === 'rate'
          ? rule.errorClass
            ? `error_rate(${rule.errorClass})`
            : rule.metric
          : rule.metric;
    if (value === null || interval === null) {
      // No successful sample at all: a latency SLO cannot hold when nothing succeeded.
      const nothing = summary.requests > 0 ? 'fail' : 'undecided';
      return {
        rule: rule.text,
        value: null,
        interval: null,
        pointPass: nothing === 'fail' ? false : null,
        outcome: nothing,
        samples: 0,
        samplesToDecide: null,
        reason: `${label}: no ${summary.requests > 0 ? 'successful ' : ''}requests to measure, needs ${rule.op} ${fmtThreshold(rule)}`,
      };
    }
    const pointPass = compare(value, rule.op, threshold);
    const outcome = outcomeOf(interval, rule.op, threshold);
    const size = outcome === 'undecided' ? samplesToDecide(rule, value, interval, samples, confidence) : null;
    const ci =
      interval[0] === interval[1]
        ? ''
        : ` (${Math.round(confidence * 100)}% CI ${fmtValue(rule, interval[0])} – ${fmtValue(rule, interval[1])})`;
    return {
      rule: rule.text,
      value,
      interval,
      pointPass,
      outcome,
      reason: `${label} = ${fmtValue(rule, value)}${ci}, needs ${rule.op} ${fmtThreshold(rule)}`,
      samples: rule.kind === 'rate' ? summary.requests : samples.length,
      samplesToDecide: size,
    };
  });
}

/** About how many samples the rule's interval needs to decide it, the stage going on as it went. */
function samplesToDecide(
  rule: SloRule,
  value: number,
  interval: [number, number],
  sorted: readonly number[],
  confidence: number,
): number | null {
  if (rule.kind === 'rate') return rateSamples(value, rule.threshold, rule.op, confidence);
  if (rule.kind !== 'latency' || sorted.length === 0) return null;
  if (rule.stat === 'avg')
    return meanSamples(sorted.length, (interval[1] - interval[0]) / 2, Math.abs(value - rule.thresholdMs));
  const q = QUANTILE[rule.stat];
  if (q === undefined) return null;
  const below = sorted.filter((x) => x < rule.thresholdMs).length / sorted.length;
  // With most samples below the threshold the interval's upper end must come down to it, else its lower end up.
  return percentileSamples(below, q, confidence, below > q);
}
