// The one seam to the network: turns a planned request into a RequestRecord.
// The official `openai` SDK builds and sends the request (auth, headers, error types); the
// streamed body is read through `.asResponse()` with our own SSE scanner so that every
// outcome (reset, malformed event, truncation, stall) is classified by us, with our own timers.
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ErrorClass, RequestRecord } from './record.ts';
import { SseScanner, parseDataPayload } from './sse.ts';
import type { Profile } from '../profile/types.ts';

export interface PlannedRequest {
  id: string;
  stage: number;
  phase: 'warmup' | 'window';
  worker: number;
  payload: number;
  /** Just before the request is handed to the HTTP client, on the run clock (DESIGN.md §3 `t0`). */
  t0: number;
}

export interface Transport {
  send(req: PlannedRequest): Promise<RequestRecord>;
  /** Abort every request in flight, classified with `errorClass`. */
  abortAll(errorClass: ErrorClass, message: string): void;
  inFlight(): number;
  close(): void;
}

export interface TransportOptions {
  profile: Profile;
  baseUrl: string;
  apiKey: string;
  now: () => number;
  /** Removes secrets from any text before it is stored. */
  redact: (text: string) => string;
}

interface Live {
  t0: number;
  headersAt: number | null;
  firstContentAt: number | null;
  lastActivityAt: number;
  controller: AbortController;
  abortClass: ErrorClass | null;
  abortMessage: string | null;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Connection-level failure codes from undici/node, classified per DESIGN.md §3. */
function classifyConnection(err: unknown, afterHeaders: boolean): { cls: ErrorClass; msg: string } {
  const chain: unknown[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  const codes = chain.map((x) => String((x as { code?: unknown }).code ?? ''));
  const msgs = chain.map((x) => String((x as { message?: unknown }).message ?? ''));
  const has = (s: string) => codes.includes(s) || msgs.some((m) => m.includes(s));
  if (has('ECONNREFUSED')) return { cls: 'connection_refused', msg: 'connection refused' };
  if (has('ENOTFOUND') || has('EAI_AGAIN')) return { cls: 'connection_refused', msg: 'host not found' };
  if (
    has('ECONNRESET') ||
    has('EPIPE') ||
    has('UND_ERR_SOCKET') ||
    has('terminated') ||
    has('other side closed') ||
    has('socket hang up') ||
    has('UND_ERR_CLOSED')
  ) {
    return { cls: 'connection_reset', msg: afterHeaders ? 'connection reset mid-stream' : 'connection reset before headers' };
  }
  const first = msgs.find((m) => m && m !== 'Connection error.') ?? msgs[0] ?? 'unknown error';
  return { cls: 'client_error', msg: first.slice(0, 200) };
}

function retryAfterSeconds(headers: Headers | undefined | null): number | null {
  // OpenAI and Azure also send the more precise retry-after-ms.
  const ms = Number(headers?.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const v = headers?.get('retry-after');
  if (!v) return null;
  const n = Number(v);
  if (Number.isFinite(n)) return n;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : null;
}

/**
 * The SDK appends the path to baseURL as text, so a query in base_url (Azure's `?api-version=...`) would swallow
 * the path; it goes into the SDK's defaultQuery instead, which it appends to every request URL.
 */
export function splitBaseUrl(baseUrl: string): { baseURL: string; defaultQuery: Record<string, string> | undefined } {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return { baseURL: baseUrl, defaultQuery: undefined };
  }
  if (u.search === '' && u.hash === '') return { baseURL: baseUrl, defaultQuery: undefined };
  const defaultQuery = Object.fromEntries(u.searchParams);
  u.search = '';
  u.hash = '';
  return { baseURL: u.toString().replace(/\/+$/, ''), defaultQuery: Object.keys(defaultQuery).length > 0 ? defaultQuery : undefined };
}

interface CompletionBody {
  error?: unknown;
  choices?: { message?: { content?: string | null; reasoning_content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
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

export function createTransport(opts: TransportOptions): Transport {
  const { profile, now, redact } = opts;
  const req = profile.request;
  const { baseURL, defaultQuery } = splitBaseUrl(opts.baseUrl);
  const client = new OpenAI({
    baseURL,
    defaultQuery,
    apiKey: opts.apiKey,
    // Our own timers decide; the SDK's retries would hide errors and distort latency.
    maxRetries: 0,
    timeout: req.timeouts.totalMs + 60_000,
    defaultHeaders: profile.target.headers,
    logLevel: 'off',
  });
  const live = new Set<Live>();
  const { firstTokenMs, idleMs, totalMs } = req.timeouts;

  // One sweeper for all requests instead of a timer per request (or per chunk for the idle gap).
  const granularity = Math.max(5, Math.min(250, Math.min(firstTokenMs, idleMs, totalMs) / 20));
  const sweeper = setInterval(() => {
    const t = now();
    for (const l of live) {
      if (l.abortClass) continue;
      if (t - l.t0 >= totalMs) abort(l, 'timeout_total', `no end of stream within ${totalMs} ms`);
      else if (l.firstContentAt === null && t - l.t0 >= firstTokenMs)
        abort(l, l.headersAt === null ? 'timeout_headers' : 'timeout_first_token', `no ${l.headersAt === null ? 'response headers' : 'first token'} within ${firstTokenMs} ms`);
      else if (l.firstContentAt !== null && t - l.lastActivityAt >= idleMs) abort(l, 'timeout_idle', `no chunk for ${idleMs} ms`);
    }
  }, granularity);
  sweeper.unref();

  function abort(l: Live, cls: ErrorClass, message: string): void {
    if (l.abortClass) return;
    l.abortClass = cls;
    l.abortMessage = message;
    l.controller.abort();
  }

  const payloads = req.payloads;
  const baseBody: Record<string, unknown> = { ...req.extraBody, model: profile.target.model, stream: req.stream };
  if (req.maxTokens !== null) baseBody.max_tokens = req.maxTokens;
  if (req.temperature !== null) baseBody.temperature = req.temperature;
  if (req.stream) baseBody.stream_options = { include_usage: true };

  async function send(p: PlannedRequest): Promise<RequestRecord> {
    const payload = payloads[p.payload] ?? payloads[0]!;
    const body = { ...baseBody, messages: payload.messages };
    const l: Live = {
      t0: 0,
      headersAt: null,
      firstContentAt: null,
      lastActivityAt: 0,
      controller: new AbortController(),
      abortClass: null,
      abortMessage: null,
    };
    const rec: RequestRecord = {
      id: p.id,
      stage: p.stage,
      phase: p.phase,
      worker: p.worker,
      payload: p.payload,
      t0: 0,
      headersAt: null,
      firstContentAt: null,
      lastContentAt: null,
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
      outputTokens: 0,
      outputTokensEstimated: true,
      retryAfterS: null,
    };
    let usageTokens: number | null = null;
    let ended = false;
    live.add(l);
    const fail = (cls: ErrorClass, msg: string) => {
      if (rec.errorClass) return;
      rec.errorClass = cls;
      rec.error = redact(msg).slice(0, 500);
    };
    l.t0 = rec.t0 = p.t0;
    l.lastActivityAt = l.t0;
    try {
      const response = await client.chat.completions
        .create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, {
          signal: l.controller.signal,
          headers: { 'x-request-id': p.id },
        })
        .asResponse();
      l.headersAt = rec.headersAt = now();
      l.lastActivityAt = l.headersAt;
      rec.status = response.status;
      if (!req.stream) {
        const text = await response.text();
        const t = now();
        rec.end = t;
        const obj = parseCompletion(text);
        if (obj === null) {
          fail('malformed_chunk', 'response body is not a JSON object');
        } else if (obj.error !== undefined && obj.error !== null) {
          // Some servers report failures as HTTP 200 with an error object: the non-streaming error event.
          const e = obj.error as { message?: unknown } | string;
          const message = typeof e === 'string' ? e : typeof e.message === 'string' ? e.message : JSON.stringify(e);
          fail('stream_error_event', `error object in response: ${message}`);
        } else {
          const c0 = obj.choices?.[0];
          rec.finishReason = c0?.finish_reason ?? null;
          rec.promptTokens = obj.usage?.prompt_tokens ?? null;
          const content = c0?.message?.content || c0?.message?.reasoning_content || '';
          if (typeof obj.usage?.completion_tokens === 'number') {
            rec.outputTokens = obj.usage.completion_tokens;
            rec.outputTokensEstimated = false;
          } else {
            rec.outputTokens = content ? 1 : 0;
          }
          if (rec.finishReason === null) fail('stream_truncated', 'response without finish_reason');
          else if (!content) fail('empty_response', 'response had no content');
          ended = true;
        }
      } else if (!response.body) {
        rec.end = now();
        fail('empty_response', `HTTP ${response.status} without a body`);
      } else {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        const scanner = new SseScanner();
        let lastContent = -1;
        const handle = (data: string, t: number): boolean => {
          const ev = parseDataPayload(data);
          if (ev.kind === 'done') {
            ended = true;
            return true;
          }
          if (ev.kind === 'malformed') {
            fail('malformed_chunk', 'malformed event in stream');
            return true;
          }
          if (ev.kind === 'error') {
            fail('stream_error_event', `error event in stream: ${ev.message}`);
            return true;
          }
          if (ev.content) {
            rec.contentChunks++;
            if (lastContent < 0) l.firstContentAt = rec.firstContentAt = t;
            else rec.gapsMs.push(round3(t - lastContent));
            lastContent = t;
            rec.lastContentAt = t;
          }
          if (ev.finishReason) rec.finishReason = ev.finishReason;
          if (ev.usage) {
            if (ev.usage.completionTokens !== null) usageTokens = ev.usage.completionTokens;
            if (ev.usage.promptTokens !== null) rec.promptTokens = ev.usage.promptTokens;
          }
          return false;
        };
        let stop = false;
        while (!stop) {
          const { value, done } = await reader.read();
          const t = now();
          if (done) {
            for (const d of scanner.flush()) if ((stop = handle(d, t))) break;
            break;
          }
          l.lastActivityAt = t;
          for (const d of scanner.push(decoder.decode(value, { stream: true }))) {
            if ((stop = handle(d, t))) break;
          }
        }
        rec.end = now();
        if (stop) reader.cancel().catch(() => {});
        if (!ended && !rec.errorClass) {
          if (rec.finishReason !== null) ended = true;
          else if (l.abortClass) fail(l.abortClass, l.abortMessage ?? 'aborted');
          else fail('stream_truncated', 'stream ended without [DONE] or finish_reason');
        }
        if (usageTokens !== null) {
          rec.outputTokens = usageTokens;
          rec.outputTokensEstimated = false;
        } else {
          rec.outputTokens = rec.contentChunks;
        }
        if (ended && !rec.errorClass && rec.contentChunks === 0) fail('empty_response', 'stream had no content');
      }
    } catch (err) {
      rec.end = now();
      if (l.abortClass) {
        fail(l.abortClass, l.abortMessage ?? 'aborted');
      } else if (err instanceof APIError && !(err instanceof APIConnectionError) && !(err instanceof APIUserAbortError) && err.status) {
        rec.status = err.status;
        rec.retryAfterS = retryAfterSeconds(err.headers);
        const cls: ErrorClass = err.status === 429 ? 'http_429' : err.status >= 500 ? 'http_5xx' : 'http_4xx';
        fail(cls, err.message);
      } else {
        const { cls, msg } = classifyConnection(err, l.headersAt !== null);
        fail(cls, msg);
      }
      if (rec.outputTokens === 0) rec.outputTokens = rec.contentChunks;
    } finally {
      live.delete(l);
    }
    if (rec.errorClass) {
      rec.ok = false;
      if (rec.errorClass === 'connection_reset' || rec.errorClass === 'aborted' || rec.errorClass.startsWith('timeout')) {
        rec.errorPhase = rec.headersAt === null ? 'before_headers' : rec.firstContentAt === null ? 'before_first_token' : 'mid_stream';
      }
    } else {
      rec.ok = rec.status === 200 && ended;
      if (!rec.ok) fail('client_error', 'unexpected end of request');
    }
    return rec;
  }

  return {
    send,
    abortAll(errorClass, message) {
      for (const l of live) abort(l, errorClass, message);
    },
    inFlight: () => live.size,
    close() {
      clearInterval(sweeper);
    },
  };
}
