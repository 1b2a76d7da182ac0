// A `fetch` for the openai SDK built on node:http(s) with keep-alive agents: the fast path's way for a request it
// does not re-send itself (wire.ts), such as one the SDK builds with a body it cannot capture. The SDK still builds
// every request (URL, auth, Azure query, headers, body) and turns error statuses into its error types; only the
// bytes travel differently. The body of a response stays a Node stream, which the
// transport reads with plain 'data' callbacks (`claimNodeBody`): no web stream, no promise per chunk.
// Measured in bench/: a web ReadableStream costs ~25 µs to create and a few µs per chunk to read.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { NO_BODY_STATUS, decoderFor, headersOfRaw, rawHeaderValue } from './http-message.ts';

/** A response's headers as web Headers (what the SDK's error types and the Response constructor take). */
export function headersOf(res: IncomingMessage): Headers {
  return headersOfRaw(res.rawHeaders);
}

/** A header's values joined with ', ' ('' when absent): `res.headers` would build an object of them all per response. */
export function rawHeader(res: IncomingMessage, lowerCaseName: string): string {
  return rawHeaderValue(res.rawHeaders, lowerCaseName) ?? '';
}

/**
 * Keep-alive agents for http and https. Every slot keeps its connection between requests and stages: node's default
 * keeps only 256 idle sockets, so a stage of more slots would reopen the rest at once at the next stage.
 */
export function keepAliveAgents(): { http: http.Agent; https: https.Agent } {
  const pool = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity };
  return { http: new http.Agent(pool), https: new https.Agent(pool) };
}

const noop = (): void => {};

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('This operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** The response body as sent, decoded if the server compressed it anyway (undici's fetch would decode it too). */
export function decodedBody(res: IncomingMessage): Readable {
  const z = decoderFor(rawHeader(res, 'content-encoding'));
  if (!z) return res;
  res.on('error', (err) => z.destroy(err));
  z.on('close', () => res.destroy());
  return res.pipe(z);
}

/**
 * A Response whose body stays a Node stream until someone reads it as a web stream or as text: the transport
 * takes the Node stream (claimNodeBody); the SDK reads error bodies with text(), which works as usual.
 */
class NodeBodyResponse extends Response {
  #node: Readable | null;
  #claimed = false;
  #web: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  readonly #url: string;

  constructor(node: Readable | null, init: ResponseInit, url: string) {
    super(null, init);
    this.#node = node;
    this.#url = url;
  }

  override get url(): string {
    return this.#url;
  }

  /** The Node stream, once; null when there is none or it was already taken (as a web stream too). */
  claim(): Readable | null {
    if (this.#claimed || this.#node === null) return null;
    this.#claimed = true;
    return this.#node;
  }

  hasBody(): boolean {
    return this.#node !== null;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#web === null) {
      const node = this.claim();
      if (node !== null) this.#web = webStreamOf(node);
    }
    return this.#web;
  }

  override get bodyUsed(): boolean {
    return this.#claimed;
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.body;
    return b === null ? new ArrayBuffer(0) : new Response(b).arrayBuffer();
  }

  override async text(): Promise<string> {
    return new TextDecoder().decode(await this.arrayBuffer());
  }

  override async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  override async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()]);
  }
}

/** A web stream over a Node stream (only built when someone asks for `response.body`). */
function webStreamOf(node: Readable): ReadableStream<Uint8Array<ArrayBuffer>> {
  let it: AsyncIterator<Buffer | string> | null = null;
  return new ReadableStream<Uint8Array<ArrayBuffer>>(
    {
      async pull(controller) {
        it ??= (node as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
        const { value, done } = await it.next();
        if (done) controller.close();
        else controller.enqueue(typeof value === 'string' ? new TextEncoder().encode(value) : new Uint8Array(value));
      },
      cancel() {
        node.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Whether a response has a body, without turning a Node body into a web stream. */
export function responseHasBody(response: Response): boolean {
  return response instanceof NodeBodyResponse ? response.hasBody() : response.body !== null;
}

/** The body of a response from `createHttpFetch` as a Node stream (once), or null: another fetch, or already read. */
export function claimNodeBody(response: Response): Readable | null {
  return response instanceof NodeBodyResponse ? response.claim() : null;
}

/** A Response over a Node stream, read by the transport like one from createHttpFetch (tests and replays). */
export function nodeBodyResponse(body: Readable | null, init: ResponseInit, url = ''): Response {
  return new NodeBodyResponse(body, init, url);
}

/**
 * Passed to the SDK as a per-request `fetchOptions` entry (`{ [ABORT_LINK]: link }`), which it hands on to fetch:
 * the transport aborts a request through it, without an AbortController (and the SDK's listener chain on it).
 */
export const ABORT_LINK = 'findCapacityAbortLink';

export interface AbortLink {
  /** Set by the transport: abort before the request even reached fetch. */
  aborted: Error | null;
  /** Set by fetch while the request is in flight. */
  exchange: { abort(err: Error): void } | null;
}

export function abortViaLink(link: AbortLink, err: Error): void {
  link.aborted ??= err;
  link.exchange?.abort(err);
}

/**
 * One request in flight. Its listeners are methods of this small object rather than closures, so that what stays
 * reachable while a response streams (from the socket, the abort signal, the link) is this and not the whole
 * request-building scope: objects that live as long as a stream get promoted by the GC, and cost CPU per byte.
 */
export class Exchange {
  res: IncomingMessage | null = null;
  done = false;
  /** Weak: the exchange listens to the signal but must not keep it (and whatever holds it) alive. */
  private readonly signal: WeakRef<AbortSignal> | null;
  constructor(
    readonly req: http.ClientRequest,
    signal: AbortSignal | null,
    readonly link: AbortLink | null,
    private reject: (err: Error) => void,
  ) {
    this.signal = signal ? new WeakRef(signal) : null;
  }

  /** The abort signal fired (the SDK's timeout, or a caller's signal). */
  handleEvent(event: Event): void {
    this.abort(abortError(event.target as AbortSignal));
  }

  abort(err: Error): void {
    this.res?.destroy(err);
    this.req.destroy(err);
    this.reject(err);
    this.finish();
  }

  /** Wires the request's error and the abort signal and link to this exchange (closures over `this` alone). */
  listen(): void {
    this.req.once('error', (err: Error) => {
      this.reject(err);
      this.finish();
    });
    this.signal?.deref()?.addEventListener('abort', this);
    if (this.link) this.link.exchange = this;
  }

  /** The response arrived: an abort now ends its body; the settled promise needs no reject (nor keeps it). */
  attach(res: IncomingMessage): void {
    this.res = res;
    this.reject = noop;
    res.once('close', () => this.finish());
  }

  /** Drops the links to this exchange once the response is over. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.signal?.deref()?.removeEventListener('abort', this);
    // A retry on another connection may already have taken the link over.
    if (this.link?.exchange === this) this.link.exchange = null;
  }
}

export interface HttpFetch {
  fetch: typeof globalThis.fetch;
  /** Closes the keep-alive connections. */
  close(): void;
}

export function createHttpFetch(): HttpFetch {
  const agents = keepAliveAgents();
  const fetchImpl = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    // Anything this fetch was not written for goes to the platform's fetch, unchanged.
    if (input instanceof Request || !plainBody) return globalThis.fetch(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') return globalThis.fetch(input, init);
    const signal = init.signal ?? null;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const link = ((init as Record<string, unknown>)[ABORT_LINK] as AbortLink | undefined) ?? null;
    if (link?.aborted) return Promise.reject(link.aborted);
    const headers: Record<string, string> = {};
    (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((v, k) => {
      headers[k] = v;
    });
    if (body !== undefined && body !== null)
      headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    const method = (init.method ?? 'GET').toUpperCase();
    const agent = isHttps ? agents.https : agents.http;
    return new Promise<Response>((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, { method, headers, agent });
      const ex = new Exchange(req, signal, link, reject);
      req.once('response', (r: IncomingMessage) => {
        const status = r.statusCode ?? 0;
        if (
          status >= 300 &&
          status < 400 &&
          status !== 304 &&
          r.headers.location !== undefined &&
          init.redirect !== 'manual'
        ) {
          // Redirects are rare for an API: the platform's fetch follows them as the SDK expects.
          r.resume();
          ex.finish();
          globalThis.fetch(input, init).then(resolve, reject);
          return;
        }
        ex.attach(r);
        const h = headersOf(r);
        const hasBody = !NO_BODY_STATUS.has(status) && method !== 'HEAD';
        try {
          resolve(
            new NodeBodyResponse(
              hasBody ? decodedBody(r) : null,
              { status, statusText: r.statusMessage ?? '', headers: h },
              url.href,
            ),
          );
        } catch (err) {
          // A status the Response constructor refuses (outside 200–599).
          r.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (!hasBody) r.resume();
      });
      ex.listen();
      req.end(body ?? undefined);
    });
  };
  return {
    fetch: fetchImpl as typeof globalThis.fetch,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
