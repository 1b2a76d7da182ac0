// Prepared requests: the transport's fast path asks the openai SDK to build each payload's request ONCE (URL with
// its query, method, auth, every header the SDK sends, the JSON body), captured at its fetch; every request then
// re-sends those bytes over its own keep-alive connections (wire.ts) with only its own x-request-id. The SDK stays the request builder (auth,
// Azure's api-version query, default headers, its x-stainless-* headers), and error statuses still become its own
// error types, built by its own APIError.generate from the body as the SDK would.
// Why: measured in bench/ (BENCHMARKS.md), the SDK's per-request machinery (async option/header building, log-detail
// objects built even with logging off, an AbortController and a timer per request, a web Headers and a Response per
// reply) was most of the fast path's remaining cost over raw node:http at 100 streams: objects that live as long as a
// request are promoted and marked by the GC, and each major GC de-optimises the hot node:http functions.
import http from 'node:http';
import { urlToHttpOptions } from 'node:url';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { AbortLink } from './http-fetch.ts';
import { headersOfRaw, rawHeaderValue } from './http-message.ts';
import { ConnPool, wireExchange, type WireBody, type WireResponse } from './wire.ts';

export interface PreparedRequest {
  url: URL;
  isHttps: boolean;
  /** Where it is sent (host, port, path), taken from `url` once. */
  target: RequestTarget;
  method: string;
  /** Raw header list (name, value, …) as the SDK built it, without x-request-id; with host and content-length. */
  headers: readonly string[];
  body: Buffer;
  /** The request line and header lines as sent (latin1), up to the x-request-id line each request adds. */
  head: string;
  /** The body as text when the whole request can be written as one string (an ASCII head, a UTF-8 body). */
  text: string | null;
  /** Its headers ask for `connection: close`: its connection is not reused. */
  closes: boolean;
}

/** The parts of a URL a request is sent with, as node's own urlToHttpOptions reads them (ports filled in). */
export interface RequestTarget {
  protocol: string;
  hostname: string;
  port: number;
  path: string;
  auth: string | undefined;
}

export function requestTarget(url: URL): RequestTarget {
  const o = urlToHttpOptions(url);
  return {
    protocol: o.protocol ?? url.protocol,
    hostname: o.hostname ?? url.hostname,
    port: o.port === undefined || o.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(o.port),
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
  const target = requestTarget(url);
  return wireForm({
    url,
    isHttps: url.protocol === 'https:',
    target,
    method: (captured.init.method ?? 'POST').toUpperCase(),
    headers,
    body: bodyBuf,
    head: '',
    text: null,
    closes: false,
  });
}

const ASCII_HEAD = /^[\x20-\x7e\r\n\t]*$/;

/**
 * `p` with its bytes as sent: the request line and headers (checked as node:http checks them: a bad character is an
 * error of the payload, not a broken request), node:http's `connection: keep-alive` and Basic auth from the URL.
 */
function wireForm(p: PreparedRequest): PreparedRequest {
  const lines = [`${p.method} ${p.target.path} HTTP/1.1`];
  const names = new Set<string>();
  let closes = false;
  for (let i = 0; i + 1 < p.headers.length; i += 2) {
    const name = p.headers[i]!;
    const value = p.headers[i + 1]!;
    http.validateHeaderName(name);
    http.validateHeaderValue(name, value);
    names.add(name.toLowerCase());
    if (name.toLowerCase() === 'connection')
      closes ||= value.split(',').some((t) => t.trim().toLowerCase() === 'close');
    lines.push(`${name}: ${value}`);
  }
  if (!names.has('connection')) lines.push('connection: keep-alive');
  if (p.target.auth !== undefined && !names.has('authorization'))
    lines.push(`authorization: Basic ${Buffer.from(p.target.auth).toString('base64')}`);
  const head = lines.join('\r\n') + '\r\n';
  const text = p.body.toString('utf8');
  const asText = ASCII_HEAD.test(head) && Buffer.byteLength(text) === p.body.byteLength;
  return { ...p, head, text: asText ? text : null, closes };
}

/** The same request with another JSON body: every header as the SDK built it, the content-length of `json`. */
export function withBody(p: PreparedRequest, json: string): PreparedRequest {
  const body = Buffer.from(json);
  const headers = [...p.headers];
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === 'content-length') headers[i + 1] = String(body.byteLength);
  return wireForm({ ...p, headers, body });
}

/**
 * A 2xx reply: its body (decoded if the server compressed it), or null when the status has none. Shaped as the
 * transport's Reply, so that a request's promise is the transport's with no step in between.
 */
export interface PreparedReply {
  status: number;
  node: null;
  web: null;
  wire: WireBody | null;
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
/** What a request id may hold: it goes into a header line as it is. */
const REQUEST_ID = /^[\x21-\x7e]+$/;

/** The error of a connection the server closed before answering: only then is a request on a reused socket re-sent. */
function closedBeforeAnswer(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** The whole body as text; a body cut short still explains the status (the SDK too uses whatever text it got). */
function bodyText(body: WireBody): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    body.read({
      data: (s) => ((text += s), false),
      end: () => resolve(text),
      error: (err) => resolve(text || err.message),
    });
  });
}

/** The SDK's error for a non-2xx response, built as the SDK builds it (body parsed as JSON when it is JSON). */
async function statusError(res: WireResponse): Promise<APIError> {
  const headers = headersOfRaw(res.rawHeaders);
  if (res.body === null) return APIError.generate(res.status, undefined, undefined, headers);
  const text = await bodyText(res.body);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return APIError.generate(res.status, json as object | undefined, json === undefined ? text : undefined, headers);
}

/** The request as written: one string when it can be, else the head's bytes and the body's. */
function requestBytes(p: PreparedRequest, requestId: string): string | Buffer {
  const head = `${p.head}x-request-id: ${requestId}\r\n\r\n`;
  return p.text !== null ? head + p.text : Buffer.concat([Buffer.from(head, 'latin1'), p.body]);
}

/** Where a redirect goes, when it is followed; else the error that says why not. */
function redirectTarget(p: PreparedRequest, status: number, location: string, hops: number): URL | Error {
  let to: URL | null = null;
  try {
    to = new URL(location, p.url);
  } catch {
    to = null;
  }
  if (to !== null && (status === 307 || status === 308) && to.origin === p.url.origin && hops < MAX_REDIRECTS)
    return to;
  const where = to === null ? 'an invalid location' : `${to.origin}${to.pathname}`;
  const why =
    hops >= MAX_REDIRECTS ? `more than ${MAX_REDIRECTS} redirects` : 'only a 307/308 to the same origin is followed';
  return new Error(`HTTP ${status} redirect to ${where} not followed (${why}): set target.base_url to the final URL`);
}

export function createPreparedSender(): PreparedSender {
  const pool = new ConnPool();
  return {
    send(p, requestId, link) {
      if (!REQUEST_ID.test(requestId))
        return Promise.reject(new Error(`invalid request id ${JSON.stringify(requestId)}`));
      return send(p, requestId, link, 0, 0);
    },
    close() {
      pool.close();
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
    const sent = { idleMs: null as number | null };
    const target = { isHttps: p.isHttps, hostname: p.target.hostname, port: p.target.port };
    const sending = { noBody: p.method === 'HEAD', closes: p.closes };
    return wireExchange(pool, target, requestBytes(p, requestId), sending, link, sent).then(
      (res) => replied(p, requestId, link, hops, retries, res),
      (err: Error) => {
        const stale = sent.idleMs !== null && sent.idleMs >= STALE_IDLE_MS && closedBeforeAnswer(err);
        if (stale && retries < MAX_STALE_RETRIES && link.aborted === null)
          return send(p, requestId, link, hops, retries + 1);
        throw err;
      },
    );
  }

  function replied(
    p: PreparedRequest,
    requestId: string,
    link: AbortLink,
    hops: number,
    retries: number,
    res: WireResponse,
  ): Promise<PreparedReply> | PreparedReply {
    const { status } = res;
    if (status >= 200 && status < 300) return { status, node: null, web: null, wire: res.body };
    const location =
      status >= 300 && status < 400 && status !== 304 ? rawHeaderValue(res.rawHeaders, 'location') : null;
    if (location === null) return statusError(res).then((err) => Promise.reject(err));
    // The redirect's own body is read and dropped, within the linger limit: the connection goes back to the pool.
    res.body?.release();
    const to = redirectTarget(p, status, location, hops);
    if (to instanceof Error) throw to;
    return send(wireForm({ ...p, url: to, target: requestTarget(to) }), requestId, link, hops + 1, retries);
  }
}
