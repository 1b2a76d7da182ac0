// Prepared requests: the transport's fast path asks the openai SDK to build each payload's request ONCE (URL with
// its query, method, auth, every header the SDK sends, the JSON body), captured at its fetch; every request then
// re-sends those bytes over node:http with only its own x-request-id. The SDK stays the request builder (auth,
// Azure's api-version query, default headers, its x-stainless-* headers), and error statuses still become its own
// error types, built by its own APIError.generate from the body as the SDK would.
// Why: measured in bench/ (BENCHMARKS.md), the SDK's per-request machinery (async option/header building, log-detail
// objects built even with logging off, an AbortController and a timer per request, a web Headers and a Response per
// reply) was most of the fast path's remaining cost over raw node:http at 100 streams: objects that live as long as a
// request are promoted and marked by the GC, and each major GC de-optimises the hot node:http functions.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { urlToHttpOptions } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { Exchange, NO_BODY_STATUS, decodedBody, headersOf, keepAliveAgents, type AbortLink } from './http-fetch.ts';

export interface PreparedRequest {
  url: URL;
  isHttps: boolean;
  /** Where node:http sends it, taken from `url` once: a URL given per request costs node a dictionary-mode copy. */
  target: RequestTarget;
  method: string;
  /** Raw header list (name, value, …) as the SDK built it, without x-request-id; with host and content-length. */
  headers: readonly string[];
  body: Buffer;
}

/** The parts of a URL node:http's request options take, as node's own urlToHttpOptions reads them. */
export interface RequestTarget {
  protocol: string;
  hostname: string;
  port: number | undefined;
  path: string;
  auth: string | undefined;
}

export function requestTarget(url: URL): RequestTarget {
  const o = urlToHttpOptions(url);
  return {
    protocol: o.protocol ?? url.protocol,
    hostname: o.hostname ?? url.hostname,
    port: o.port === undefined ? undefined : Number(o.port),
    path: o.path ?? url.pathname,
    auth: o.auth ?? undefined,
  };
}

/** What the capturing fetch throws: the request the SDK would have sent. */
class Captured extends Error {
  constructor(
    readonly url: string,
    readonly init: RequestInit,
  ) {
    super('captured');
  }
}

/** A fetch that sends nothing: it hands the SDK's request back to `capture`. */
export const capturingFetch = ((input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
  Promise.reject(new Captured(input instanceof Request ? input.url : String(input), init))) as typeof globalThis.fetch;

function findCaptured(err: unknown): Captured | null {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    if (e instanceof Captured) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * The request the SDK builds for `create(body)`, from a client made with `fetch: capturingFetch`. Null when the SDK
 * built something this path does not re-send (a streaming or non-text body, a protocol other than http(s)): the
 * caller then sends through the SDK as usual. Rejects with the SDK's own error when it refuses to build the request.
 */
export async function capture(
  client: OpenAI,
  body: unknown,
  endpoint: 'chat' | 'completions' = 'chat',
): Promise<PreparedRequest | null> {
  let captured: Captured | null = null;
  try {
    const options = { headers: { 'x-request-id': 'prepared' } };
    await (
      endpoint === 'completions'
        ? client.completions.create(body as OpenAI.CompletionCreateParamsStreaming, options)
        : client.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsStreaming, options)
    ).asResponse();
  } catch (err) {
    captured = findCaptured(err);
    if (captured === null) throw err;
  }
  if (captured === null) return null;
  const url = new URL(captured.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const b = captured.init.body;
  if (typeof b !== 'string' && !(b instanceof Uint8Array)) return null;
  const bodyBuf = typeof b === 'string' ? Buffer.from(b) : Buffer.from(b);
  const headers: string[] = ['host', url.host];
  new Headers(captured.init.headers).forEach((v, k) => {
    if (k !== 'x-request-id' && k !== 'host' && k !== 'content-length') headers.push(k, v);
  });
  headers.push('content-length', String(bodyBuf.byteLength));
  return {
    url,
    isHttps: url.protocol === 'https:',
    target: requestTarget(url),
    method: (captured.init.method ?? 'POST').toUpperCase(),
    headers,
    body: bodyBuf,
  };
}

/** The same request with another JSON body: every header as the SDK built it, the content-length of `json`. */
export function withBody(p: PreparedRequest, json: string): PreparedRequest {
  const body = Buffer.from(json);
  const headers = [...p.headers];
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === 'content-length') headers[i + 1] = String(body.byteLength);
  return { ...p, headers, body };
}

/**
 * A 2xx reply: its body as a Node stream (decoded if the server compressed it), or null when the status has none.
 * Shaped as the transport's Reply, so that a request's promise is the transport's with no step in between.
 */
export interface PreparedReply {
  status: number;
  node: Readable | null;
  web: null;
}

export interface PreparedSender {
  /**
   * Sends `p` with its x-request-id; rejects with the SDK's APIError for a non-2xx status, or the socket's error.
   * A 307/308 to the same origin is followed (same method and body, at most 5 times); any other redirect is an error
   * that says why: fetch would turn the POST into a GET on 301/302/303 (a load test of nothing), and would send the
   * API key to another origin. A request sent on a keep-alive connection that had been idle for a second or more,
   * and that breaks before any response byte, is sent again on another connection (at most twice), as browsers do and
   * Node's documentation advises: the server closed the idle connection as it was being reused (between stages, a
   * server's idle timeout), and never read the request. Its t0 is unchanged, so the time lost counts in its latency.
   * A connection reused at once (within a stage) is never retried: a server resetting requests under load is
   * recorded as it is.
   */
  send(p: PreparedRequest, requestId: string, link: AbortLink): Promise<PreparedReply>;
  close(): void;
}

const MAX_REDIRECTS = 5;
const MAX_STALE_RETRIES = 2;
/** Idle at least this long before reuse: a server's idle timeout can have closed the connection meanwhile. */
const STALE_IDLE_MS = 1000;
const IDLE_SINCE = Symbol('idleSince');
type PooledSocket = Socket & { [IDLE_SINCE]?: number };

/** The error of a connection the server closed before answering: only then is a request on a reused socket re-sent. */
function closedBeforeAnswer(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function bodyText(body: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    body.setEncoding('utf8');
    body.on('data', (s: string) => (text += s));
    body.on('end', () => resolve(text));
    // A body cut short still explains the status: the SDK too uses whatever text it got (or the error's message).
    body.on('error', (err) => resolve(text || err.message));
    body.on('close', () => resolve(text));
  });
}

/** The SDK's error for a non-2xx response, built as the SDK builds it (body parsed as JSON when it is JSON). */
async function statusError(res: IncomingMessage, body: Readable): Promise<APIError> {
  const text = await bodyText(body);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return APIError.generate(
    res.statusCode,
    json as object | undefined,
    json === undefined ? text : undefined,
    headersOf(res),
  );
}

/** node:http's options for one sending of `p`: one object of a fixed shape, its headers with the request's id. */
function requestOptions(
  p: PreparedRequest,
  requestId: string,
  agents: ReturnType<typeof keepAliveAgents>,
): http.RequestOptions {
  const headers = p.headers.slice();
  headers.push('x-request-id', requestId);
  const t = p.target;
  return {
    protocol: t.protocol,
    hostname: t.hostname,
    port: t.port,
    path: t.path,
    auth: t.auth,
    method: p.method,
    headers,
    agent: p.isHttps ? agents.https : agents.http,
  };
}

export function createPreparedSender(): PreparedSender {
  const agents = keepAliveAgents();
  for (const a of [agents.http, agents.https]) a.on('free', (s: PooledSocket) => (s[IDLE_SINCE] = performance.now()));
  return {
    send(p, requestId, link) {
      return send(p, requestId, link, 0, 0);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };

  function send(
    p: PreparedRequest,
    requestId: string,
    link: AbortLink,
    hops: number,
    retries: number,
  ): Promise<PreparedReply> {
    if (link.aborted) return Promise.reject(link.aborted);
    return new Promise<PreparedReply>((resolve, reject) => {
      const req = (p.isHttps ? https : http).request(requestOptions(p, requestId, agents));
      const sentAt = performance.now();
      const ex = new Exchange(req, null, link, (err) => {
        const idleSince = (req.socket as PooledSocket | null)?.[IDLE_SINCE];
        const wasIdle = req.reusedSocket && idleSince !== undefined && sentAt - idleSince >= STALE_IDLE_MS;
        if (wasIdle && retries < MAX_STALE_RETRIES && link.aborted === null && closedBeforeAnswer(err))
          send(p, requestId, link, hops, retries + 1).then(resolve, reject);
        else reject(err);
      });
      req.once('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && status !== 304 && res.headers.location !== undefined) {
          res.resume();
          ex.finish();
          let to: URL | null = null;
          try {
            to = new URL(res.headers.location, p.url);
          } catch {
            to = null;
          }
          if (to !== null && (status === 307 || status === 308) && to.origin === p.url.origin && hops < MAX_REDIRECTS) {
            send({ ...p, url: to, target: requestTarget(to) }, requestId, link, hops + 1, retries).then(
              resolve,
              reject,
            );
          } else {
            const where = to === null ? 'an invalid location' : `${to.origin}${to.pathname}`;
            const why =
              hops >= MAX_REDIRECTS
                ? `more than ${MAX_REDIRECTS} redirects`
                : 'only a 307/308 to the same origin is followed';
            reject(
              new Error(
                `HTTP ${status} redirect to ${where} not followed (${why}): set target.base_url to the final URL`,
              ),
            );
          }
          return;
        }
        ex.attach(res);
        const body = NO_BODY_STATUS.has(status) || p.method === 'HEAD' ? null : decodedBody(res);
        if (body === null) res.resume();
        if (status >= 200 && status < 300) resolve({ status, node: body, web: null });
        else if (body === null) reject(APIError.generate(status, undefined, undefined, new Headers()));
        else statusError(res, body).then(reject, reject);
      });
      ex.listen();
      req.end(p.body);
    });
  }
}
