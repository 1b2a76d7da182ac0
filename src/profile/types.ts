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

/** A header value as written, or `{env: NAME}`: read from the environment at run time, never stored, redacted. */
export type HeaderValue = string | { env: string };

export interface TargetConfig {
  /** Null when the target is the embedded simulator (filled in at run time). */
  baseUrl: string | null;
  model: string;
  /** Name of the environment variable holding the API key; the key itself never enters the profile. */
  apiKeyEnv: string | null;
  /** Extra headers sent with every request: a value written in the profile, or the name of a variable holding it. */
  headers: Record<string, HeaderValue>;
  simulator: SimulatorTarget | null;
  /**
   * The server's Prometheus metrics: a URL, false (off), or null/absent: `<origin of base_url>/metrics` when it
   * answers. Absent from profiles saved before the key existed.
   */
  metricsUrl?: string | false | null;
}

export type ChatMessage = { role: string; content: string };

export interface RequestPayload {
  /** What a single-turn request sends. */
  messages: ChatMessage[];
  /** The reply a dataset recorded for it: its token count is max_tokens with `max_tokens: dataset`. */
  reply?: string | null;
  /** With request.conversation: the record's turns, each played with the history and the server's own answers. */
  turns?: ConversationTurn[];
}

/** One turn of a recorded conversation: the messages it adds, and the reply the dataset recorded. */
export interface ConversationTurn {
  messages: ChatMessage[];
  reply: string | null;
}

export type Endpoint = 'chat' | 'completions';
export type TokenizerName = 'o200k_base' | 'cl100k_base';

/** A length in tokens: N is {mean: N, stddev: 0, min: N, max: N}. */
export interface TokenLength {
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

export interface DatasetConfig {
  /** As written, relative to the profile's directory. */
  path: string;
  format: 'messages' | 'sharegpt' | 'prompt' | 'auto';
  /** Records used (after a seeded shuffle when `seed` is set); null: all. */
  limit: number | null;
  seed: number | null;
  /** Counts the recorded replies' tokens for `max_tokens: dataset`. */
  tokenizer: TokenizerName;
}

export interface SyntheticConfig {
  inputTokens: TokenLength;
  /** Null: request.max_tokens applies. */
  outputTokens: TokenLength | null;
  tokenizer: TokenizerName;
  /** A shared leading system prompt of this many tokens (0: none). */
  prefixTokens: number;
}

export interface ConversationConfig {
  /** Every turn of each dataset record, or at most N turns (exactly N with synthetic prompts). */
  turns: 'dataset' | number;
  /** Pause of a slot between a turn's answer and its next turn. */
  thinkTimeMs: number;
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
  /** `max_tokens: dataset`: each request asks for its recorded reply's token count (maxTokens is then null). */
  maxTokensFromDataset?: boolean;
  endpoint?: Endpoint;
  dataset?: DatasetConfig | null;
  /** Synthetic prompts instead of payloads (payloads is then empty). */
  synthetic?: SyntheticConfig | null;
  conversation?: ConversationConfig | null;
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

/** Sizing a deployment from the capacity: replicas for a peak and the cost of a million output tokens. */
export interface SizingConfig {
  /** Peak load to serve, in successful requests per second; null = no replica count. */
  peakQps: number | null;
  /** Spare replicas added to those the peak needs. */
  redundancy: number;
  /** Cost of one replica (one endpoint like the one tested) per hour; null = no cost figures. */
  costPerHour: number | null;
  currency: string;
}

export interface ReportConfig {
  dir: string;
  /** Headroom point for the SLA table, as a fraction of capacity (default 0.8). */
  headroom: number;
  /** Efficiency knee: fraction of best QPS (default 0.9). */
  efficiencyFraction: number;
  /**
   * SLA tiers: multiples of each latency rule's threshold, ascending (default 0.25, 0.5, 1, 2). Absent from
   * profile.json of runs recorded before tiers existed (read as the default).
   */
  tiers?: number[];
  /** Null when the profile sets no report.sizing; absent from older profile.json files. */
  sizing?: SizingConfig | null;
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
  /** Remote load agents (ws:// URLs); absent or empty: the load runs in this process (docs/distributed.md). */
  agents?: string[];
}
