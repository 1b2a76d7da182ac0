import type { StageSummary, StageWindow } from './summary.ts';

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'INVALID';

export interface RuleResult {
  rule: string;
  /** The measured value in the rule's unit (ms for latency, ratio for rates, per second for throughput). */
  value: number | null;
  pass: boolean | null;
  /** Human sentence, e.g. "p99(ttft) = 1.93 s, needs < 1 s". */
  reason: string;
  /** Confidence interval of the measured value, when one was computed. */
  interval?: [number, number] | null;
  /** pass / fail when the confidence interval lies on one side of the threshold, else undecided. */
  outcome?: 'pass' | 'fail' | 'undecided';
}

/**
 * The load generator's own delay on TTFT (src/controller/ttft-overhead.ts): client TTFT − the simulator's TTFT
 * of the same request, over the successful window requests joined with the simulator's ground truth.
 */
export interface TtftOverhead {
  /** Requests joined (0: none to join; the statistics are then null). */
  n: number;
  p50Ms: number | null;
  /** Type-7 percentile like every other p99 (src/stats). */
  p99Ms: number | null;
}

export interface GeneratorHealth {
  eventLoopDelayP99Ms: number | null;
  cpuPercent: number | null;
  achievedRatio: number | null;
  /** Null without ground truth: a target other than the built-in simulator, or a run recorded before the check. */
  ttftOverhead: TtftOverhead | null;
  problems: string[];
}

export interface StageResult {
  summary: StageSummary;
  verdict: Verdict;
  /** Verdict decided by point estimate after the evidence cap. */
  lowConfidence: boolean;
  reasons: string[];
  rules: RuleResult[];
  /** Why this stage ran: part of the ramp, a confirmation of a FAIL, a bisection probe, an extension. */
  kind: 'ramp' | 'confirm' | 'bisect';
  /** Aborted early by the max_error_rate circuit breaker. */
  aborted: boolean;
  /** Cut short by an interrupt or a run-wide safety limit: shown, but never used to decide the capacity. */
  partial: boolean;
  health: GeneratorHealth;
}

export type StopReason =
  | 'knee_found'
  | 'failed_at_first_stage'
  | 'max_reached'
  | 'error_rate_breaker'
  | 'rate_limited'
  | 'target_unreachable'
  | 'interrupted'
  | 'limit_duration'
  | 'limit_requests'
  | 'limit_output_tokens'
  | 'generator_limit'
  | 'agent_lost';

export interface Capacity {
  /** Highest concurrency whose stage PASSED with the next tested level a FAIL; null when none passed (or a rate run). */
  concurrency: number | null;
  /** A rate run's capacity: the highest offered rate (req/s) that PASSED; null when none passed (absent: concurrency run). */
  rate?: number | null;
  stopReason: StopReason;
  /** One sentence for humans. */
  stopDetail: string;
  /** [last PASS, first FAIL] when a knee was bracketed (levels: concurrencies, or offered rates in a rate run). */
  bracket: [number, number] | null;
}

/** What a run's levels are: concurrencies (closed loop) or offered rates in req/s (open loop). */
export type LevelUnit = 'concurrency' | 'rate';

/** The level a capacity names: its rate in a rate run, else its concurrency. */
export function capacityLevel(c: Pick<Capacity, 'concurrency' | 'rate'>): number | null {
  return c.rate ?? c.concurrency;
}

/** What the stage runner observed about itself and the stage; saved in stages.jsonl. */
export interface StageMeta {
  /** The first window; `windows` lists it and every extension pooled with it. */
  window: StageWindow;
  windows: StageWindow[];
  kind: StageResult['kind'];
  /** Judged with no extension left: an undecided rule falls back to its point estimate. */
  final: boolean;
  stoppedBy: 'breaker' | 'interrupted' | 'budget' | 'agent_lost' | null;
  eventLoopDelayP99Ms: number;
  cpuPercent: number;
  /** The executor's own problems (a lost agent, named); absent when there were none. */
  generatorProblems?: string[];
  /**
   * Against the simulator's ground truth, over every pooled window; null without ground truth. Absent from
   * stages.jsonl written before the check existed (read as null).
   */
  ttftOverhead?: TtftOverhead | null;
}

/**
 * The TTFT-overhead check needs this many joined requests. Its p99 is type 7, interpolated at rank 0.99 × (n − 1):
 * below 101 samples that rank lies between the two largest, and the largest weighs 1.01 − n/100 in it (81 % at
 * n = 20, 51 % at 50), so one late read (a GC pause, the thread preempted on a shared machine) would invalidate
 * the stage by itself. From 100 samples on it weighs at most 1 %: the p99 then says that requests were late,
 * not that one was. Smaller stages still report the overhead; they are not judged on it.
 */
export const MIN_TTFT_OVERHEAD_SAMPLES = 100;
