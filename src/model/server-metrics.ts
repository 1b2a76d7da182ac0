// The server's own view of a run: samples of its Prometheus metrics (server-metrics.jsonl) and their per-stage
// aggregates in summary.json, under one set of names whatever the engine (docs/server-metrics.md).

/** Which engine's names a scrape matched ('other': none known, only raw samples). */
export type ServerEngine = 'vllm' | 'sglang' | 'tgi' | 'other';

/** The known metrics under engine-neutral names (vLLM's, without the prefix); each absent when not exposed. */
export interface ServerMetricValues {
  /** Requests in the running batch. */
  num_requests_running?: number;
  /** Requests queued in the server, waiting for a place in the batch. */
  num_requests_waiting?: number;
  /** KV-cache (token memory) usage as a fraction in [0, 1]. */
  kv_cache_usage_perc?: number;
  /** Prefix-cache counters in tokens (vLLM), since the server started. */
  prefix_cache_hits_total?: number;
  prefix_cache_queries_total?: number;
  /** A prefix-cache hit rate the server computes itself (SGLang), in [0, 1]. */
  prefix_cache_hit_rate?: number;
  prompt_tokens_total?: number;
  generation_tokens_total?: number;
}

export const SERVER_GAUGES = ['num_requests_running', 'num_requests_waiting', 'kv_cache_usage_perc'] as const;

/** The first line of server-metrics.jsonl: where the samples come from (the URL without credentials). */
export interface ServerMetricsSource {
  type: 'source';
  url: string;
  engine: ServerEngine;
  /** The server asked for the target's auth headers (401/403 without them). */
  auth: boolean;
}

/** One scrape, taken during stage (attempt) `stage` at `t` ms on the run clock (the middle of the request). */
export interface ServerMetricsSample {
  type: 'sample';
  stage: number;
  t: number;
  engine: ServerEngine;
  values: ServerMetricValues;
  /** Every other gauge, counter or untyped series, as `name{labels}` → value. */
  raw: Record<string, number>;
}

export type ServerMetricsLine = ServerMetricsSource | ServerMetricsSample;

/** A stage's samples inside its measurement windows: means and maxima of the gauges (null: not exposed). */
export interface StageServerMetrics {
  samples: number;
  engine: ServerEngine;
  num_requests_running: number | null;
  num_requests_running_max: number | null;
  num_requests_waiting: number | null;
  num_requests_waiting_max: number | null;
  kv_cache_usage_perc: number | null;
  kv_cache_usage_perc_max: number | null;
  /** Δhits / Δqueries over the window (vLLM), or the mean of the server's own rate (SGLang); null without either. */
  prefix_cache_hit_rate: number | null;
}

/** The rate-limit headers of HTTP 429 responses in a stage's window (hosted APIs' quotas). */
export interface StageRateLimit {
  http_429: number;
  /** 429s that carried any x-ratelimit-* header. */
  with_headers: number;
  /** 429s whose x-ratelimit-remaining-requests / -tokens was 0: the quota was used up. */
  remaining_requests_zero: number;
  remaining_tokens_zero: number;
  /** The largest limits and reset times announced (null: never announced). */
  limit_requests: number | null;
  limit_tokens: number | null;
  reset_requests_s: number | null;
  reset_tokens_s: number | null;
  retry_after_s_max: number | null;
}
