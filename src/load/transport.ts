// The one seam to the network: turns a planned request into a RequestRecord.
// The official `openai` SDK builds the request (auth, headers, Azure query, error types); the streamed body is read
// with our own SSE scanner so that every outcome (reset, malformed event, truncation, stall) is classified by us,
// with our own timers.
// Hot path (bench/, BENCHMARKS.md): the SDK builds each payload's request once and every request re-sends it over
// node:http with its own x-request-id (prepared.ts); the body stays a Node stream read with 'data' callbacks; most
// content chunks skip JSON.parse (ChunkShape). The 'sdk' path (the SDK per request, its own fetch and web streams)
// stays for comparison; both give identical records (test/load/).
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import {
  ABORT_LINK,
  abortViaLink,
  claimNodeBody,
  createHttpFetch,
  responseHasBody,
  type AbortLink,
} from './http-fetch.ts';
import type { ErrorClass, RequestRecord } from '../model/record.ts';
import { ChunkShape, SseScanner, parseDataPayload } from './sse.ts';
import { capture, capturingFetch, createPreparedSender, type PreparedRequest } from './prepared.ts';
import type { Readable } from 'node:stream';

/** What the stage runner hands the transport: the record's identity fields and `t0` (DESIGN.md §3). */
export type PlannedRequest = Pick<RequestRecord, 'id' | 'stage' | 'phase' | 'worker' | 'payload' | 't0'>;

export interface Transport {
  send(req: PlannedRequest): Promise<RequestRecord>;
  /** Abort every request in flight, classified with `errorClass`. */
  abortAll(errorClass: ErrorClass, message: string): void;
  inFlight(): number;
  close(): void;
}

/** What the transport needs to know of the target and the requests: plain data, so worker threads can receive it. */
export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  headers: Record<string, string>;
  /** Payload i is sent as `{ ...body.base, ...body.payloads[i] }`. */
  body: { base: Record<string, unknown>; payloads: readonly Record<string, unknown>[] };
  stream: boolean;
  timeouts: { firstTokenMs: number; idleMs: number; totalMs: number };
}

export interface TransportOptions {
  config: TransportConfig;
  now: () => number;
  /** Removes secrets from any text before it is stored. */
  redact: (text: string) => string;
  /**
   * 'fast' (default): prepared requests (the SDK builds each payload's request once, prepared.ts) over node:http,
   * the body read as a Node stream, chunk shapes. 'sdk': the SDK per request with its default fetch (undici) and the
   * web stream of the body. Both give the same records; 'fast' costs well under half the CPU (BENCHMARKS.md).
   */
  path?: 'fast' | 'sdk';
  /** A fetch for the SDK instead of either path's (tests replaying recorded streams). */
  fetch?: typeof globalThis.fetch;
}

/** Stops trying to learn a stream's chunk shape after this many content chunks that could not be learned. */
const SHAPE_TRIES = 8;
/** After [DONE], how long the rest of the response (its end) may take before the connection is dropped. */
const LINGER_MS = 2000;

interface Live {
  t0: number;
  headersAt: number | null;
  firstContentAt: number | null;
  lastActivityAt: number;
  /** How to abort it: through the fast path's fetch, or the SDK's signal. */
  link: AbortLink | null;
  controller: AbortController | null;
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
    return {
      cls: 'connection_reset',
      msg: afterHeaders ? 'connection reset mid-stream' : 'connection reset before headers',
    };
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
  return {
    baseURL: u.toString().replace(/\/+$/, ''),
    defaultQuery: Object.keys(defaultQuery).length > 0 ? defaultQuery : undefined,
  };
}

interface CompletionBody {
  error?: unknown;
  choices?: {
    message?: { content?: string | null; reasoning_content?: string | null };
    finish_reason?: string | null;
  }[];
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

/** A response as the transport reads it: the body as a Node stream (fast path), or a web stream (the SDK's fetch). */
interface Reply {
  status: number;
  node: Readable | null;
  web: ReadableStream<Uint8Array> | null;
}

function replyOf(response: Response): Reply {
  const node = claimNodeBody(response);
  return { status: response.status, node, web: node === null && responseHasBody(response) ? response.body : null };
}

/** The whole body as text. */
async function readText(reply: Reply): Promise<string> {
  if (reply.web !== null) return new Response(reply.web).text();
  const node = reply.node;
  if (node === null) return '';
  return new Promise((resolve, reject) => {
    let text = '';
    node.setEncoding('utf8');
    node.on('data', (s: string) => (text += s));
    node.on('end', () => resolve(text));
    node.on('error', reject);
    node.on('close', () => reject(Object.assign(new Error('terminated: other side closed'), { code: 'ECONNRESET' })));
  });
}

export function createTransport(opts: TransportOptions): Transport {
  const { config: req, now, redact } = opts;
  const { baseURL, defaultQuery } = splitBaseUrl(req.baseUrl);
  const fast = (opts.path ?? 'fast') === 'fast';
  const httpFetch = fast && !opts.fetch ? createHttpFetch() : null;
  const fetchImpl = opts.fetch ?? httpFetch?.fetch;
  const sdkOptions = {
    baseURL,
    defaultQuery,
    apiKey: req.apiKey,
    // Our own timers decide; the SDK's retries would hide errors and distort latency.
    maxRetries: 0,
    timeout: req.timeouts.totalMs + 60_000,
    defaultHeaders: req.headers,
    logLevel: 'off' as const,
  };
  const client = new OpenAI({ ...(fetchImpl ? { fetch: fetchImpl } : {}), ...sdkOptions });
  // Fast path: the SDK builds each payload's request once (prepared.ts); requests re-send it with their own id.
  const prepared = httpFetch ? createPreparedSender() : null;
  const captureClient = prepared ? new OpenAI({ fetch: capturingFetch, ...sdkOptions }) : null;
  const templates: Promise<PreparedRequest | null>[] = [];
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
        abort(
          l,
          l.headersAt === null ? 'timeout_headers' : 'timeout_first_token',
          `no ${l.headersAt === null ? 'response headers' : 'first token'} within ${firstTokenMs} ms`,
        );
      else if (l.firstContentAt !== null && t - l.lastActivityAt >= idleMs)
        abort(l, 'timeout_idle', `no chunk for ${idleMs} ms`);
    }
  }, granularity);
  sweeper.unref();

  function abort(l: Live, cls: ErrorClass, message: string): void {
    if (l.abortClass) return;
    l.abortClass = cls;
    l.abortMessage = message;
    if (l.link) abortViaLink(l.link, Object.assign(new Error(message), { name: 'AbortError' }));
    else l.controller?.abort();
  }

  const { base, payloads } = req.body;
  const bodyOf = (payload: number) => ({ ...base, ...(payloads[payload] ?? payloads[0]) });

  /** The response through the SDK: its own fetch (path 'sdk', tests' fetch) or the node:http one. */
  async function sdkReply(p: PlannedRequest, l: Live): Promise<Reply> {
    const response = await client.chat.completions
      .create(bodyOf(p.payload) as unknown as OpenAI.ChatCompletionCreateParamsStreaming, {
        ...(l.link
          ? { fetchOptions: { [ABORT_LINK]: l.link } as unknown as OpenAI.RequestOptions['fetchOptions'] }
          : { signal: l.controller!.signal }),
        headers: { 'x-request-id': p.id },
      })
      .asResponse();
    return replyOf(response);
  }

  // Built at a payload's first use and kept: one SDK build (~0.1 ms) in that first request's latency, as every request
  // paid before. Not all up front: a prompts file of 10,000 payloads stalled the event loop for ~1.8 s that way, in
  // the first stage. A refusal by the SDK is kept too and becomes each request's error for that payload.
  async function fastReply(p: PlannedRequest, l: Live): Promise<Reply> {
    const template = await (templates[p.payload] ??= capture(captureClient!, bodyOf(p.payload)));
    if (template === null) return sdkReply(p, l);
    const r = await prepared!.send(template, p.id, l.link!);
    return { status: r.status, node: r.body, web: null };
  }

  async function send(p: PlannedRequest): Promise<RequestRecord> {
    const l: Live = {
      t0: 0,
      headersAt: null,
      firstContentAt: null,
      lastActivityAt: 0,
      link: httpFetch ? { aborted: null, exchange: null } : null,
      controller: httpFetch ? null : new AbortController(),
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
      let reply: Reply | null = prepared ? await fastReply(p, l) : await sdkReply(p, l);
      l.headersAt = rec.headersAt = now();
      l.lastActivityAt = l.headersAt;
      rec.status = reply.status;
      if (!req.stream) {
        const text = await readText(reply);
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
      } else if (reply.node === null && reply.web === null) {
        rec.end = now();
        fail('empty_response', `HTTP ${reply.status} without a body`);
      } else {
        let lastContent = -1;
        // One clock reading per read of the body, shared by every event completed by that read.
        let t = 0;
        const shape = fast ? new ChunkShape() : null;
        let shapeTries = 0;
        const contentChunk = () => {
          rec.contentChunks++;
          if (lastContent < 0) l.firstContentAt = rec.firstContentAt = t;
          else rec.gapsMs.push(round3(t - lastContent));
          lastContent = t;
          rec.lastContentAt = t;
        };
        const handle = (data: string): boolean => {
          if (shape !== null) {
            const m = shape.match(data);
            if (m === 1) {
              contentChunk();
              return false;
            }
            if (m === 0) return false;
          }
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
            contentChunk();
            // A few tries per stream: a shape can change (e.g. with the `created` second) or not be learnable.
            if (
              shape !== null &&
              ev.finishReason === null &&
              ev.usage === null &&
              shapeTries < SHAPE_TRIES &&
              !shape.learn(data)
            )
              shapeTries++;
          }
          if (ev.finishReason) rec.finishReason = ev.finishReason;
          if (ev.usage) {
            if (ev.usage.completionTokens !== null) usageTokens = ev.usage.completionTokens;
            if (ev.usage.promptTokens !== null) rec.promptTokens = ev.usage.promptTokens;
          }
          return false;
        };
        const scanner = new SseScanner(handle);
        const { node, web } = reply;
        // Not kept while the stream lasts: what lives as long as a stream is promoted by the GC and costs CPU.
        reply = null;
        let stop = false;
        if (node !== null) {
          // 'data' callbacks: no promise and no web-stream machinery per chunk.
          await new Promise<void>((resolve, reject) => {
            node.setEncoding('utf8');
            node.on('data', (text: string) => {
              if (stop) return;
              t = now();
              l.lastActivityAt = t;
              if (!scanner.push(text)) return;
              stop = true;
              if (ended) {
                // After [DONE] the server ends the response: let it, so that the connection goes back to the pool.
                const linger = setTimeout(() => node.destroy(), LINGER_MS);
                linger.unref();
                node.once('close', () => clearTimeout(linger));
              } else node.destroy();
              resolve();
            });
            node.on('end', () => {
              if (!stop) {
                t = now();
                stop = scanner.flush();
              }
              resolve();
            });
            node.on('error', (err) => (stop ? resolve() : reject(err)));
            node.on('close', () => resolve());
          });
        } else {
          const reader = web!.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            t = now();
            if (done) {
              stop = scanner.flush();
              break;
            }
            l.lastActivityAt = t;
            if ((stop = scanner.push(decoder.decode(value, { stream: true })))) break;
          }
          if (stop) reader.cancel().catch(() => {});
        }
        rec.end = now();
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
      } else if (
        err instanceof APIError &&
        !(err instanceof APIConnectionError) &&
        !(err instanceof APIUserAbortError) &&
        err.status
      ) {
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
      if (
        rec.errorClass === 'connection_reset' ||
        rec.errorClass === 'aborted' ||
        rec.errorClass.startsWith('timeout')
      ) {
        rec.errorPhase =
          rec.headersAt === null ? 'before_headers' : rec.firstContentAt === null ? 'before_first_token' : 'mid_stream';
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
      httpFetch?.close();
      prepared?.close();
    },
  };
}
