// summary.json's `slo_frontier` and `sizing`: the SLA tiers of a run and what they mean in replicas and cost.
import type { SloFrontier, SloTier } from '../model/frontier.ts';
import type { StageResult } from '../model/verdict.ts';
import type { Profile, SizingConfig } from '../profile/types.ts';
import { formatMs } from '../slo/evaluate.ts';
import { sizingAt } from './sizing.ts';

/** The method behind every tier, stated once in summary.json. */
export const FRONTIER_METHOD =
  "Each latency rule is re-judged at each tier's threshold (factor × its own) on the run's recorded stages, with the other rules unchanged, by the same judge and confidence intervals as the run; a stage the interval cannot decide is judged on its point estimate (low confidence). A tier's capacity is the highest tested concurrency whose stage passes, with every lower tested concurrency passing (the last judgment at a concurrency counts).";

const r3 = (x: number | null | undefined): number | null =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000;
const r2 = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x * 100) / 100);

/** The tier rule's result (value and interval) at a stage judged with the tier's threshold. */
function tierRuleAt(stage: StageResult | null, ruleIndex: number) {
  const r = stage?.rules[ruleIndex];
  return r ? { value: r.value, interval: r.interval ?? null } : { value: null, interval: null };
}

/** One sentence: what the tier's capacity is and whether it lies outside the tested range. */
export function tierDetail(t: SloTier, ruleIndex: number): string {
  const c = t.concurrency;
  if (t.range === 'below') {
    const fail = t.firstFail;
    const value = tierRuleAt(fail, ruleIndex).value;
    return `below the tested range: ${t.rule} already failed at ${fail?.summary.concurrency ?? 'the lowest tested concurrency'}, the lowest tested concurrency${value === null ? '' : ` (measured ${formatMs(value)})`}`;
  }
  if (t.range === 'within') return `${t.rule} held at ${c} and failed at ${t.bracket![1]}`;
  if (t.invalidAbove !== null)
    return c === null
      ? `not measured: the load generator could not hold ${t.invalidAbove}, the lowest tested concurrency`
      : `at least ${c}: ${t.rule} held up to ${c}, and ${t.invalidAbove} could not be measured (the load generator could not hold it)`;
  return c === null
    ? 'no tested stage to judge'
    : `above the tested range: ${t.rule} held at every tested concurrency up to ${c}, so the capacity at this tier is at least ${c}`;
}

function tierJson(t: SloTier, ruleIndex: number, sizing: SizingConfig | null) {
  const at = tierRuleAt(t.stage, ruleIndex);
  const qps = t.stage?.summary.qps ?? null;
  const tokens = t.stage?.summary.outputTokensPerS ?? null;
  const sized = sizing === null ? null : sizingAt(sizing, qps, tokens);
  return {
    factor: t.factor,
    threshold_ms: r3(t.thresholdMs),
    rule: t.rule,
    concurrency: t.concurrency,
    range: t.range,
    bracket: t.bracket,
    invalid_above: t.invalidAbove,
    stage: t.stage?.summary.index ?? null,
    value_ms: r3(at.value),
    interval_ms: at.interval ? [r3(at.interval[0]), r3(at.interval[1])] : null,
    low_confidence: t.stage?.lowConfidence ?? false,
    qps: r3(qps),
    output_tokens_per_s: r3(tokens),
    first_fail: t.firstFail
      ? { concurrency: t.firstFail.summary.concurrency, value_ms: r3(tierRuleAt(t.firstFail, ruleIndex).value) }
      : null,
    replicas: sized?.replicas ?? null,
    cost_per_million_output_tokens: r3(sized?.costPerMillionOutputTokens ?? null),
    detail: tierDetail(t, ruleIndex),
  };
}

function frontierJson(frontier: SloFrontier, profile: Profile) {
  const sizing = profile.report.sizing ?? null;
  return {
    method: FRONTIER_METHOD,
    factors: frontier.factors,
    rules: frontier.rules.map((f) => ({
      rule: f.rule,
      metric: f.metric,
      stat: f.stat,
      threshold_ms: r3(f.thresholdMs),
      tiers: f.tiers.map((t) => tierJson(t, f.ruleIndex, sizing)),
    })),
  };
}

function sizingJson(cfg: SizingConfig, capacity: number | null, atCapacity: StageResult | null) {
  const qps = atCapacity?.summary.qps ?? null;
  const tokens = atCapacity?.summary.outputTokensPerS ?? null;
  const sized = sizingAt(cfg, qps, tokens);
  let note = '';
  if (capacity === null) note = 'no capacity: no tested concurrency met the SLO, so nothing can be sized';
  else if (cfg.peakQps !== null && sized.replicas === null)
    note = `no successful request completed at the capacity (${capacity}): replicas cannot be counted`;
  return {
    peak_qps: cfg.peakQps,
    redundancy: cfg.redundancy,
    cost_per_hour: cfg.costPerHour,
    currency: cfg.currency,
    formula:
      'replicas = ceil(peak_qps / QPS at capacity) + redundancy; cost per 1M output tokens = cost_per_hour / (output tokens/s × 3600) × 1e6, for one replica at that load',
    at_capacity:
      capacity === null
        ? null
        : {
            concurrency: capacity,
            qps: r3(qps),
            output_tokens_per_s: r3(tokens),
            replicas: sized.replicas,
            fleet_cost_per_hour: r2(sized.fleetCostPerHour),
            cost_per_million_output_tokens: r3(sized.costPerMillionOutputTokens),
          },
    note: note || null,
  };
}

/** `slo_frontier` (null when the frontier was not computed) and `sizing` (null without report.sizing). */
export function capacityReviewJson(
  profile: Profile,
  frontier: SloFrontier | null,
  capacity: number | null,
  atCapacity: StageResult | null,
) {
  const sizing = profile.report.sizing ?? null;
  return {
    slo_frontier: frontier === null ? null : frontierJson(frontier, profile),
    sizing: sizing === null ? null : sizingJson(sizing, capacity, atCapacity),
  };
}

export type SloFrontierJson = NonNullable<ReturnType<typeof capacityReviewJson>['slo_frontier']>;
export type SizingJson = NonNullable<ReturnType<typeof capacityReviewJson>['sizing']>;
