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
  concurrency: number;
  /** Measurement window [startMs, endMs) on the run's monotonic clock. */
  startMs: number;
  endMs: number;
}

export interface StageSummary {
  index: number;
  concurrency: number;
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
}
