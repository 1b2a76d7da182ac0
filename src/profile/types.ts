// The normalized profile: what load+validate returns after defaults are applied.
// Every duration is in milliseconds, every ratio in [0, 1]. See README "Profile reference".
import type { GoodputLimits } from '../model/summary.ts';
import type { ArrivalLaw } from '../model/stage.ts';
import type { SloRule } from '../slo/types.ts';

export interface SimulatorTarget {
  /** Preset name (demo, tiny, large, flaky) plus overrides of any SimConfig field. */
  preset: string;
  overrides: Record<string, unknown>;
}

export interface TargetConfig {
  /** Null when the target is the embedded simulator (filled in at run time). */
  baseUrl: string | null;
  model: string;
  /** Name of the environment variable holding the API key; the key itself never enters the profile. */
  apiKeyEnv: string | null;
  /** Extra headers sent with every request (values may be secret: they are redacted on output). */
  headers: Record<string, string>;
  simulator: SimulatorTarget | null;
}

export type ChatMessage = { role: string; content: string };

export interface RequestPayload {
  messages: ChatMessage[];
}

export interface RequestConfig {
  /** One or more payloads; sampled with `seed` when there are several. */
  payloads: RequestPayload[];
  /** Where payloads came from, for the report (inline or a file path). */
  source: string;
  maxTokens: number | null;
  temperature: number | null;
  stream: boolean;
  /** Extra body fields passed through to the API untouched (e.g. top_p). */
  extraBody: Record<string, unknown>;
  seed: number;
  timeouts: { firstTokenMs: number; idleMs: number; totalMs: number };
}

export type ConcurrencyPlan =
  | { kind: 'step'; start: number; step: number; max: number }
  | { kind: 'factor'; start: number; factor: number; max: number }
  | { kind: 'list'; levels: number[] };

/** Offered rates in requests/s, the same shapes as concurrency levels but not necessarily whole numbers. */
export type RatePlan = ConcurrencyPlan;

export interface StageLimits {
  /** Measurement window length; the stage ends at whichever limit comes first. */
  durationMs: number | null;
  /** Requests started inside the window. */
  requests: number | null;
}

export interface RampConfig {
  /** A concurrency run (closed loop); null in a rate run. */
  concurrency: ConcurrencyPlan | null;
  /** A rate run (open loop): offered rates in req/s; null (absent in older profiles) in a concurrency run. */
  rate?: RatePlan | null;
  /** Rate runs: how arrivals are spaced (seeded by request.seed and the stage index). */
  arrival?: ArrivalLaw;
  /** Rate runs with gamma arrivals: the gamma shape (1 = Poisson, < 1 burstier). */
  burstiness?: number;
  /** Rate runs: most requests open at once; an arrival beyond it is recorded as dropped. */
  maxInFlight?: number;
  warmupMs: number;
  stage: StageLimits;
  /** Bound on waiting for in-flight requests after a window closes (beyond the request timeout they would hit). */
  drainMs: number;
}

export interface VerdictConfig {
  /** Confidence level for percentile/rate intervals, e.g. 0.95. */
  confidence: number;
  /** Re-run a failing stage before it ends the ramp. */
  confirmFailures: boolean;
  /** How many times an INCONCLUSIVE stage may be extended. */
  maxExtensions: number;
  /** Bisect between last PASS and first FAIL down to this width, in levels (req/s in a rate run; null = automatic). */
  bisectResolution: number | null;
  bisect: boolean;
  /**
   * Generator health: a stage whose event-loop delay p99 exceeds this is INVALID
   * (null = automatic: max(30 ms, 5 % of the tightest latency SLO)).
   */
  maxEventLoopDelayMs: number | null;
  /** Generator health: a stage whose achieved concurrency is below this fraction of the target is INVALID. */
  minAchievedConcurrency: number;
}

export interface StopConfig {
  onBreach: boolean;
  /** Abort a stage early when its error rate exceeds this (after a minimum number of requests). */
  maxErrorRate: number;
}

export interface LimitsConfig {
  maxDurationMs: number;
  maxRequests: number;
  maxOutputTokens: number;
}

export interface ReportConfig {
  dir: string;
  /** Headroom point for the SLA table, as a fraction of capacity (default 0.8). */
  headroom: number;
  /** Efficiency knee: fraction of best QPS (default 0.9). */
  efficiencyFraction: number;
}

export interface Profile {
  name: string;
  /** Absolute path of the profile file (for messages). */
  file: string;
  target: TargetConfig;
  request: RequestConfig;
  ramp: RampConfig;
  slo: SloRule[];
  verdict: VerdictConfig;
  stop: StopConfig;
  limits: LimitsConfig;
  report: ReportConfig;
  /** Per-request limits of goodput as the profile sets them; absent: the latency rules' thresholds (slo/goodput.ts). */
  goodput?: GoodputLimits;
  /** Worker threads for the load generator (1 = in-process). */
  workers: number;
}
