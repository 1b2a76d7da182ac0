import type { ErrorClass } from './record.ts';

/** A latency distribution in ms. Null statistics when there are no samples. */
export interface Dist {
  count: number;
  avg: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface StageWindow {
  /** Stage index in the run (every attempt, confirmation or probe gets its own index). */
  index: number;
  /** The closed loop's concurrency; 0 in a rate stage. */
  concurrency: number;
  /** A rate stage's offered rate (req/s); absent in a closed loop. */
  offeredRate?: number;
  /** Measurement window [startMs, endMs) on the run's monotonic clock. */
  startMs: number;
  endMs: number;
}

export interface StageSummary {
  index: number;
  /** The closed loop's target concurrency; 0 in a rate stage (its level is `offeredRate`). */
  concurrency: number;
  /** A rate stage's offered rate in req/s; null (or absent) in a closed loop. */
  offeredRate?: number | null;
  windowMs: number;
  /** Requests started in the window (the denominator of success rate). */
  requests: number;
  ok: number;
  failed: number;
  successRate: number | null;
  errorRate: number | null;
  errors: Partial<Record<ErrorClass, number>>;
  /** Requests (any start) completed inside the window. */
  completedInWindow: number;
  okCompletedInWindow: number;
  /** Successful completions inside the window / window length. */
  qps: number;
  /** All completions inside the window / window length. */
  completionsPerS: number;
  /** Output tokens of requests completed inside the window / window length. */
  outputTokensPerS: number;
  /** True when any output token count was estimated from chunks (no usage reported). */
  outputTokensEstimated: boolean;
  outputTokens: number;
  ttftMs: Dist;
  ttfbMs: Dist;
  e2eMs: Dist;
  tpotMs: Dist;
  itlMs: Dist;
  /** Time-average of in-flight requests over the window. */
  achievedConcurrency: number;
  /** Little's law: completionsPerS × mean E2E (of completions in window), and its ratio to achieved concurrency. */
  littleLaw: { predicted: number | null; ratio: number | null };
  /** Up to 3 distinct error messages per class (already redacted by the transport), for the report. */
  errorSamples: Partial<Record<ErrorClass, string[]>>;
  /** Retry-After values seen on 429s (seconds), for the report. */
  retryAfterS: number[];
  /** Time to the first answer token (reasoning excluded); = TTFT without reasoning. */
  ttfoMs: Dist;
  /** TTFT of first turns (every single-turn request) and of later turns of conversations. */
  ttftFirstTurnMs: Dist;
  ttftLaterTurnsMs: Dist;
  /** Means over the successful judged requests whose server reported the count; null when none did. */
  promptTokensAvg: number | null;
  cachedTokensAvg: number | null;
  reasoningTokensAvg: number | null;
  /** Successful judged requests that received fewer output tokens than they asked for (the server stopped early). */
  outputTokensShort: number;
  // Optional: summaries built before rate stages and goodput existed (and hand-built ones in tests) lack them.
  /** The throughput achieved: successful completions inside the window / window length (= qps). */
  achievedRate?: number;
  /** Requests started in the window that succeeded within every goodput limit (the goodput ratio's numerator). */
  goodRequests?: number;
  /** Requests completed inside the window that succeeded within every goodput limit, per second (like qps). */
  goodput?: number;
  /** goodRequests / requests started in the window (dropped arrivals included); null without requests. */
  goodputRatio?: number | null;
  /** Arrivals of the window not sent because ramp.max_in_flight requests were open (also counted in errors). */
  dropped?: number;
  /** Send lag of a rate stage's sent window requests: t0 − scheduledAt (empty in a closed loop). */
  sendLagMs?: Dist;
  /** TTFT and E2E from t0 (the server's view); TTFT and E2E above count from the scheduled time in a rate stage. */
  serviceTtftMs?: Dist;
  serviceE2eMs?: Dist;
}

/**
 * Per-request limits of goodput (profile `goodput`): a request is good when it succeeded within every limit
 * given; null: no limit on that metric.
 */
export interface GoodputLimits {
  ttftMs: number | null;
  tpotMs: number | null;
  e2eMs: number | null;
}

/** A stage's level: its offered rate in a rate stage, else its concurrency. */
export function stageLevel(s: Pick<StageSummary, 'concurrency' | 'offeredRate'>): number {
  return s.offeredRate ?? s.concurrency;
}
