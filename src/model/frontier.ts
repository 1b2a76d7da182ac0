// The SLO frontier: the capacity at several thresholds of each latency rule, judged on a run's recorded stages.
import type { StageResult } from './verdict.ts';

/**
 * Where a tier's capacity lies against the tested levels: `within` (a tested level passed and the next tested
 * level failed), `above` (every tested level passed, or the next one could not be measured: a lower bound) or
 * `below` (the lowest tested level already failed).
 */
export type TierRange = 'within' | 'above' | 'below';

export interface SloTier {
  /** Multiple of the rule's own threshold. */
  factor: number;
  thresholdMs: number;
  /** The rule with the tier's threshold, e.g. "p95(ttft) < 50ms". */
  rule: string;
  /** Highest tested level that passed the tier with every lower tested level passing; null when none did. */
  concurrency: number | null;
  range: TierRange;
  /** [capacity, first tested level above it that failed the tier]. */
  bracket: [number, number] | null;
  /** Level above the capacity that could not be judged (INVALID: the load generator could not hold it). */
  invalidAbove: number | null;
  /** The stage at the capacity, judged with the tier's threshold. */
  stage: StageResult | null;
  /** The lowest tested level's stage when it failed the tier (range `below`), for its measured value. */
  firstFail: StageResult | null;
}

export interface RuleFrontier {
  /** The rule as written in the profile. */
  rule: string;
  /** Index of the rule in the profile's slo list. */
  ruleIndex: number;
  metric: string;
  stat: string;
  thresholdMs: number;
  tiers: SloTier[];
}

export interface SloFrontier {
  /** The tier factors used (report.tiers, or the default for a profile recorded before tiers existed). */
  factors: number[];
  /** One per latency rule of the profile, in its order. */
  rules: RuleFrontier[];
}
