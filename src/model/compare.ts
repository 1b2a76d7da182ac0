// Two runs compared (`find-capacity compare`): plain data handed by the controller to the renderers.
import type { Capacity, Verdict } from './verdict.ts';

/**
 * `regression`: the intervals show B worse than A by more than the allowed regression. `worse_within_tolerance`:
 * B is worse with confidence, but by less. `improvement`: B better with confidence. Otherwise no significant change.
 */
export type CompareOutcome = 'regression' | 'worse_within_tolerance' | 'improvement' | 'no_significant_change';

export interface Estimate {
  value: number | null;
  /** Confidence interval (capacity: the range the knee can lie in); null when it cannot be computed. */
  interval: [number, number] | null;
}

export type ComparedMetric = 'capacity' | 'qps' | 'ttft' | 'e2e' | 'error_rate';

/** How a metric's values read: a concurrency, requests/s, milliseconds or a ratio. */
export type MetricUnit = 'concurrency' | 'req/s' | 'ms' | 'ratio';

export interface MetricComparison {
  metric: ComparedMetric;
  unit: MetricUnit;
  /** E.g. "capacity", "QPS at 16", "p95 TTFT at 16". */
  label: string;
  /** The common level compared; null for the capacity. */
  concurrency: number | null;
  a: Estimate;
  b: Estimate;
  /** (B − A) / A; for the error rate B − A in points of ratio. Null when A is 0 or a value is missing. */
  change: number | null;
  outcome: CompareOutcome;
  /** One sentence with the figures. */
  detail: string;
}

/** One way the runs differ: what, and its value in A and in B. */
export interface Difference {
  what: string;
  a: string;
  b: string;
}

/** One stage of a run as the overlays show it. */
export interface ComparedStage {
  index: number;
  concurrency: number;
  verdict: Verdict;
  lowConfidence: boolean;
  qps: number;
  ttftMs: number | null;
  e2eMs: number | null;
  errorRate: number | null;
}

export interface ComparedRun {
  label: 'A' | 'B';
  dir: string;
  name: string;
  model: string;
  /** The built-in simulator and its settings, or the base URL (credentials removed). */
  target: string;
  startedAt: string | null;
  toolVersion: string | null;
  capacity: Capacity;
  /** The lowest and highest level the knee can be at, from the tested levels; null upper = not bounded. */
  capacityRange: [number, number | null];
  atCapacity: { qps: number; outputTokensPerS: number } | null;
  stages: ComparedStage[];
}

export interface Comparison {
  a: ComparedRun;
  b: ComparedRun;
  verdict: 'no_regression' | 'regression' | 'not_comparable';
  /** Why the runs cannot be compared (SLO rules, model, payload, load model): every difference. */
  differences: Difference[];
  /** Differences that do not prevent the comparison (target, stage length, machine, ...). */
  notes: Difference[];
  /** --max-regression, as a ratio (0.05 = 5 %). */
  maxRegression: number;
  confidence: number;
  /** Latency changes smaller than the load generator's own accepted timing error are never regressions. */
  timingToleranceMs: number;
  /** The statistic compared for TTFT and E2E (the SLO rule's own, else p99). */
  ttftStat: string;
  e2eStat: string;
  /** Empty when the runs are not comparable. */
  metrics: MetricComparison[];
}
