// The pure part of the transport: the timestamped events of one request folded into its RequestRecord, with the
// classification of DESIGN.md §3. No I/O, no clock, no timers: every event that has a time brings it. A small
// mutable accumulator with a method per event kind, so that a content chunk costs no event object (BENCHMARKS.md).
import type { ErrorClass, RequestRecord } from '../model/record.ts';
import { classifyError } from './error-class.ts';
import { usageOf, type Usage } from './sse.ts';

import type { PlannedRequest } from '../model/record.ts';
export type { PlannedRequest };

export interface Timeouts {
  firstTokenMs: number;
  idleMs: number;
  totalMs: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Gaps pre-sized at most (2 KB): a large max_tokens that a short answer never uses costs no more while in flight. */
const MAX_PRESIZED_GAPS = 256;

/** Classes that happen at some point of a response, and say which (errorPhase). */
const PHASED = new Set<ErrorClass>([
  'connection_reset',
  'aborted',
  'timeout_headers',
  'timeout_first_token',
  'timeout_idle',
  'timeout_total',
]);

interface CompletionBody {
  error?: unknown;
  choices?: {
    message?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null };
    /** Legacy completions. */
    text?: string | null;
    finish_reason?: string | null;
  }[];
  usage?: unknown;
}

/** A non-streaming response body as a JSON object, or null when it is not one. */
function parseCompletion(text: string): CompletionBody | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as CompletionBody) : null;
  } catch {
    return null;
  }
}

/** The message of an error object (in a JSON body or an SSE event), whatever its shape. */
function errorMessage(e: unknown): string {
  const o = e as { message?: unknown } | string;
  return typeof o === 'string' ? o : typeof o.message === 'string' ? o.message : JSON.stringify(o);
}

export class RecordFold {
  readonly rec: RequestRecord;
  /** The last time anything arrived (t0, the headers, a read of the body): where the idle timeout counts from. */
  lastActivityAt: number;
  /** Set when the request was aborted (a timeout, an interrupt): the class its failure gets. */
  abortClass: ErrorClass | null = null;
  private abortMessage: string | null = null;
  /** [DONE], a finish_reason at the end of the body, or a whole non-streaming response. */
  private ended = false;
  private usageTokens: number | null = null;
  /** The latest token's time, copied into the record at its end: a number field is written in place, per chunk. */
  private lastTokenAt = 0;
  /** Gaps stored so far: `rec.gapsMs` is sized for the requested tokens at the first one, then trimmed to this. */
  private gapCount = 0;
  /** The answer's text, kept only for a conversation (which resends it); null otherwise. */
  readonly answer: string[] | null;

  constructor(
    p: PlannedRequest,
    /** Removes secrets from any text before it is stored. */
    private readonly redact: (text: string) => string,
    opts: { requestedOutputTokens?: number | null; keepAnswer?: boolean } = {},
  ) {
    this.rec = {
      id: p.id,
      stage: p.stage,
      phase: p.phase,
      worker: p.worker,
      payload: p.payload,
      t0: p.t0,
      scheduledAt: p.scheduledAt ?? null,
      headersAt: null,
      firstContentAt: null,
      lastContentAt: null,
      firstReasoningAt: null,
      firstOutputAt: null,
      end: 0,
      gapsMs: [],
      contentChunks: 0,
      status: null,
      ok: false,
      errorClass: null,
      error: null,
      errorPhase: null,
      finishReason: null,
      promptTokens: null,
      cachedTokens: null,
      outputTokens: 0,
      outputTokensEstimated: true,
      requestedOutputTokens: opts.requestedOutputTokens ?? null,
      reasoningTokens: null,
      retryAfterS: null,
      turn: p.turn ?? 1,
    };
    this.lastActivityAt = p.t0;
    this.answer = opts.keepAnswer ? [] : null;
  }

  /** The first failure is the one recorded. */
  private fail(cls: ErrorClass, msg: string): void {
    const rec = this.rec;
    if (rec.errorClass !== null) return;
    rec.errorClass = cls;
    rec.error = this.redact(msg).slice(0, 500);
  }

  /** The response headers arrived at `t` with `status`. */
  headers(t: number, status: number): void {
    this.rec.headersAt = t;
    this.lastActivityAt = t;
    this.rec.status = status;
  }

  /** A read of the body at `t` (before its events). */
  activity(t: number): void {
    this.lastActivityAt = t;
  }

  /** A chunk at `t` with a non-empty answer (`text`, kept for a conversation), and maybe reasoning too. */
  content(t: number, text: string | null = null, reasoning = false): void {
    this.token(t);
    const rec = this.rec;
    if (rec.firstOutputAt === null) rec.firstOutputAt = t;
    if (reasoning && rec.firstReasoningAt === null) rec.firstReasoningAt = t;
    if (text !== null) this.answer?.push(text);
  }

  /** A chunk with non-empty reasoning (and no answer) at `t`. */
  reasoning(t: number): void {
    this.token(t);
    if (this.rec.firstReasoningAt === null) this.rec.firstReasoningAt = t;
  }

  /** Any token, of either kind: TTFT, TPOT and ITL count both. */
  private token(t: number): void {
    const rec = this.rec;
    rec.contentChunks++;
    if (rec.firstContentAt === null) {
      rec.firstContentAt = t;
      // One array of the expected size, of doubles from the start: grown by push, it left copies that the GC promoted.
      const expected = Math.min(MAX_PRESIZED_GAPS, (rec.requestedOutputTokens ?? 0) - 1);
      if (expected > 0) rec.gapsMs = new Array<number>(expected).fill(0.5);
    } else {
      const gaps = rec.gapsMs;
      const gap = round3(t - this.lastTokenAt);
      if (this.gapCount < gaps.length) gaps[this.gapCount] = gap;
      else gaps.push(gap);
      this.gapCount++;
    }
    this.lastTokenAt = t;
  }

  finishReason(reason: string): void {
    this.rec.finishReason = reason;
  }

  usage(u: Usage): void {
    if (u.completionTokens !== null) this.usageTokens = u.completionTokens;
    if (u.promptTokens !== null) this.rec.promptTokens = u.promptTokens;
    if (u.reasoningTokens != null) this.rec.reasoningTokens = u.reasoningTokens;
    if (u.cachedTokens != null) this.rec.cachedTokens = u.cachedTokens;
  }

  /** `data: [DONE]`. */
  done(): void {
    this.ended = true;
  }

  malformed(): void {
    this.fail('malformed_chunk', 'malformed event in stream');
  }

  errorEvent(message: string): void {
    this.fail('stream_error_event', `error event in stream: ${message}`);
  }

  /** The streamed body ended (or was left) at `t`: a stream that did not end properly is classified here. */
  endOfBody(t: number): void {
    const rec = this.rec;
    rec.end = t;
    if (!this.ended && rec.errorClass === null) {
      if (rec.finishReason !== null) this.ended = true;
      else if (this.abortClass !== null) this.fail(this.abortClass, this.abortMessage ?? 'aborted');
      else this.fail('stream_truncated', 'stream ended without [DONE] or finish_reason');
    }
    if (this.usageTokens !== null) {
      rec.outputTokens = this.usageTokens;
      rec.outputTokensEstimated = false;
    } else {
      rec.outputTokens = rec.contentChunks;
    }
    if (this.ended && rec.errorClass === null && rec.contentChunks === 0)
      this.fail('empty_response', 'stream had no content');
  }

  /** A streaming request's response had no body at all (read at `t`). */
  noBody(t: number): void {
    this.rec.end = t;
    this.fail('empty_response', `HTTP ${this.rec.status} without a body`);
  }

  /** The whole body of a non-streaming response, read by `t`. */
  completion(t: number, text: string): void {
    const rec = this.rec;
    rec.end = t;
    const obj = parseCompletion(text);
    if (obj === null) return this.fail('malformed_chunk', 'response body is not a JSON object');
    // Some servers report failures as HTTP 200 with an error object: the non-streaming error event.
    if (obj.error !== undefined && obj.error !== null)
      return this.fail('stream_error_event', `error object in response: ${errorMessage(obj.error)}`);
    const c0 = obj.choices?.[0];
    rec.finishReason = c0?.finish_reason ?? null;
    const usage = usageOf(obj.usage);
    rec.promptTokens = usage?.promptTokens ?? null;
    if (usage) this.usage(usage);
    const answer = c0?.message?.content || c0?.text || '';
    const content = answer || c0?.message?.reasoning_content || c0?.message?.reasoning || '';
    if (answer) this.answer?.push(answer);
    if (usage?.completionTokens != null) {
      rec.outputTokens = usage.completionTokens;
      rec.outputTokensEstimated = false;
    } else {
      rec.outputTokens = content ? 1 : 0;
    }
    if (rec.finishReason === null) this.fail('stream_truncated', 'response without finish_reason');
    else if (!content) this.fail('empty_response', 'response had no content');
    this.ended = true;
  }

  /** Sending or reading threw `err` at `t` (wall time `epochMs`, for a Retry-After date); an abort explains it. */
  transportError(t: number, err: unknown, epochMs: number): void {
    const rec = this.rec;
    rec.end = t;
    if (this.abortClass !== null) {
      this.fail(this.abortClass, this.abortMessage ?? 'aborted');
    } else {
      const f = classifyError(err, rec.headersAt !== null, epochMs);
      if (f.status !== null) {
        rec.status = f.status;
        rec.retryAfterS = f.retryAfterS;
        if (f.rateLimit) rec.rateLimit = f.rateLimit;
      }
      this.fail(f.cls, f.message);
    }
    if (rec.outputTokens === 0) rec.outputTokens = rec.contentChunks;
  }

  /** Marks the request aborted with `cls`; false when it already was (the first abort wins). */
  abort(cls: ErrorClass, message: string): boolean {
    if (this.abortClass !== null) return false;
    this.abortClass = cls;
    this.abortMessage = message;
    return true;
  }

  /** The timeout that has run out at `t`, if any (none once aborted). */
  overdue(t: number, timeouts: Timeouts): { cls: ErrorClass; message: string } | null {
    if (this.abortClass !== null) return null;
    const { firstTokenMs, idleMs, totalMs } = timeouts;
    const rec = this.rec;
    if (t - rec.t0 >= totalMs) return { cls: 'timeout_total', message: `no end of stream within ${totalMs} ms` };
    if (rec.firstContentAt === null) {
      if (t - rec.t0 < firstTokenMs) return null;
      return rec.headersAt === null
        ? { cls: 'timeout_headers', message: `no response headers within ${firstTokenMs} ms` }
        : { cls: 'timeout_first_token', message: `no first token within ${firstTokenMs} ms` };
    }
    return t - this.lastActivityAt >= idleMs ? { cls: 'timeout_idle', message: `no chunk for ${idleMs} ms` } : null;
  }

  /** The finished record: ok, or its failure with the phase it happened in. */
  finish(): RequestRecord {
    const rec = this.rec;
    if (rec.firstContentAt !== null) rec.lastContentAt = this.lastTokenAt;
    rec.gapsMs.length = this.gapCount;
    if (rec.errorClass !== null) {
      rec.ok = false;
      if (PHASED.has(rec.errorClass)) {
        rec.errorPhase =
          rec.headersAt === null ? 'before_headers' : rec.firstContentAt === null ? 'before_first_token' : 'mid_stream';
      }
    } else {
      rec.ok = rec.status === 200 && this.ended;
      if (!rec.ok) this.fail('client_error', 'unexpected end of request');
    }
    return rec;
  }
}
