// One request as measured: raw monotonic timestamps, appended to requests.jsonl as it ends.
// Every number in a summary or report is recomputable from these records (DESIGN.md §3).

export const ERROR_CLASSES = [
  'http_429',
  'http_4xx',
  'http_5xx',
  'timeout_headers',
  'timeout_first_token',
  'timeout_idle',
  'timeout_total',
  'connection_refused',
  'connection_reset',
  'stream_error_event',
  'stream_truncated',
  'malformed_chunk',
  'empty_response',
  'aborted',
  'client_error',
] as const;
/**
 * Classes the load model gives, not the transport: `dropped` is an open-loop arrival not sent because
 * `ramp.max_in_flight` requests were already open (docs/design-notes.md, "Rate stages").
 */
export const LOAD_ERROR_CLASSES = ['dropped'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number] | (typeof LOAD_ERROR_CLASSES)[number];
/** Every class a record can carry: the transport's and the load model's. */
export const ALL_ERROR_CLASSES: readonly ErrorClass[] = [...ERROR_CLASSES, ...LOAD_ERROR_CLASSES];

export interface RequestRecord {
  /** Sent as the x-request-id header, so the simulator's ground truth can be joined. */
  id: string;
  /** Index of the stage (attempt) this request belongs to: the one in which it started. */
  stage: number;
  /** Started during warm-up (recorded, never judged) or inside the measurement window. */
  phase: 'warmup' | 'window';
  worker: number;
  /** Index of the remote agent that sent it (`agents:` runs only; see docs/distributed.md). */
  agent?: number;
  /** Index into the profile's payloads. */
  payload: number;
  /** All times are ms on the run's monotonic clock (performance.now() minus the run origin). */
  t0: number;
  /**
   * Open loop (rate stage): when the arrival was scheduled to be sent, fixed before the stage started; latencies
   * count from here. Null in a closed loop (absent in records written before rate stages existed).
   */
  scheduledAt?: number | null;
  headersAt: number | null;
  firstContentAt: number | null;
  lastContentAt: number | null;
  end: number;
  /** Gaps between consecutive content chunks (ms, rounded to 0.001). */
  gapsMs: number[];
  contentChunks: number;
  status: number | null;
  ok: boolean;
  errorClass: ErrorClass | null;
  /** Short, secret-free description of the failure (server text escaped on output). */
  error: string | null;
  /** For connection_reset: whether it happened before headers or mid-stream. */
  errorPhase: 'before_headers' | 'before_first_token' | 'mid_stream' | null;
  finishReason: string | null;
  promptTokens: number | null;
  /** usage.completion_tokens when the server reported it, else the content chunk count. */
  outputTokens: number;
  outputTokensEstimated: boolean;
  /** Retry-After header of a 429/503, in seconds. */
  retryAfterS: number | null;
  /** The x-ratelimit-* headers of an HTTP 429 (a hosted API's quota); absent when it sent none. */
  rateLimit?: RateLimitHeaders;

  // Fields below were added with datasets, reasoning and conversations: absent in records of older runs.
  /** First non-empty reasoning chunk (`reasoning_content` / `reasoning`); null without reasoning. */
  firstReasoningAt?: number | null;
  /** First non-empty answer chunk (`content`, or `text` on completions): TTFO. TTFT is the first of either kind. */
  firstOutputAt?: number | null;
  /** usage.completion_tokens_details.reasoning_tokens, when the server reported it. */
  reasoningTokens?: number | null;
  /** usage.prompt_tokens_details.cached_tokens, when the server reported it. */
  cachedTokens?: number | null;
  /** The output length the request asked for (its max_tokens), or null when it set none. */
  requestedOutputTokens?: number | null;
  /** 1-based turn of its conversation: 1 for single-turn requests and for the first turn of a conversation. */
  turn?: number;
}

/** A quota as announced in x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers; resets in seconds. */
export interface RateLimitHeaders {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsS?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensS?: number;
}

/** What an executor hands the transport: the record's identity fields and `t0`. */
export type PlannedRequest = Pick<RequestRecord, 'id' | 'stage' | 'phase' | 'worker' | 'payload' | 't0'> &
  Pick<RequestRecord, 'turn' | 'scheduledAt'>;
