// HTTP/1.1 over keep-alive sockets for prepared requests: each request is one write of bytes built once per payload
// (only its x-request-id differs), and each read of a streamed body goes from the socket through the parser
// (h1-parser.ts) to the body's reader with no stream, no event and no tick in between. Why: node:http's
// ClientRequest, IncomingMessage and Readable cost more per chunk than everything the transport does with it
// (BENCHMARKS.md, "Fourth pass"); the SDK still builds every request (prepared.ts).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';
import { ParseError, ResponseParser, type ResponseEvents } from './h1-parser.ts';
import type { AbortLink } from './http-fetch.ts';
import { NO_BODY_STATUS, decoderFor, rawHeaderValue } from './http-message.ts';

/** Where a body's text goes. `data` returns true to stop reading: the reader then calls release() or destroy(). */
export interface BodySink {
  data(text: string): boolean;
  end(): void;
  error(err: Error): void;
}

/** Where a request goes: a connection to it can carry any request for the same key. */
export interface WireTarget {
  isHttps: boolean;
  hostname: string;
  port: number;
}

/** After the reader stopped at [DONE], how long the rest of the response may take before the connection is dropped. */
const LINGER_MS = 2000;

/** An error with a code, as node's own socket errors have (the transport classifies by code: error-class.ts). */
export function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A response's body as it arrives: decoded text, handed to one sink (queued until there is one). */
export class WireBody {
  private sink: BodySink | null = null;
  /** What came before the sink: texts, then null for the end or an Error. */
  private queued: (string | Error | null)[] = [];
  private decoder: StringDecoder | null = null;
  /** The last bytes decoded may have ended inside a UTF-8 sequence. */
  private partial = false;
  private inflate: ReturnType<typeof decoderFor> = null;
  /** The reader stopped (or the body failed): nothing more reaches the sink. */
  private closed = false;

  constructor(
    private readonly exchange: { linger(ms: number): void; abort(err: Error): void },
    contentEncoding: string,
  ) {
    this.inflate = decoderFor(contentEncoding);
    if (this.inflate !== null) {
      const z = this.inflate;
      z.setEncoding('utf8');
      z.on('data', (s: string) => this.text(s));
      z.on('end', () => this.push(null));
      z.on('error', (err) => this.push(err));
    }
  }

  /** Body bytes `buf[from, to)` from the parser. */
  bytes(buf: Buffer, from: number, to: number): void {
    if (this.closed) return;
    if (this.inflate !== null) {
      this.inflate.write(buf.subarray(from, to));
      return;
    }
    // Most reads end on a character (an SSE event ends with a newline): one native call, no view of the buffer.
    const last = buf[to - 1]!;
    if (!this.partial && last < 0x80) return this.text(buf.toString('utf8', from, to));
    this.decoder ??= new StringDecoder('utf8');
    this.partial = last >= 0x80;
    this.text(this.decoder.write(buf.subarray(from, to)));
  }

  /** The response ended. */
  end(): void {
    if (this.inflate !== null) this.inflate.end();
    else {
      const rest = this.decoder?.end() ?? '';
      if (rest !== '') this.text(rest);
      this.push(null);
    }
  }

  fail(err: Error): void {
    this.inflate?.destroy();
    this.push(err);
  }

  private text(s: string): void {
    if (s === '' || this.closed) return;
    if (this.sink === null) this.queued.push(s);
    else if (this.sink.data(s)) this.closed = true;
  }

  private push(item: null | Error): void {
    if (this.closed) return;
    if (this.sink === null) return void this.queued.push(item);
    this.closed = true;
    if (item === null) this.sink.end();
    else this.sink.error(item);
  }

  /** Hands the body to `sink`: first what came before it, then the rest as it arrives. */
  read(sink: BodySink): void {
    this.sink = sink;
    const queued = this.queued;
    this.queued = [];
    for (const item of queued) {
      if (this.closed) return;
      if (typeof item === 'string') this.text(item);
      else this.push(item);
    }
  }

  /** The reader is done (at [DONE]): the rest of the response is read and dropped, so the connection can be reused. */
  release(): void {
    this.closed = true;
    this.exchange.linger(LINGER_MS);
  }

  /** The reader gave up on this body (a malformed or error event): the connection is closed. */
  destroy(): void {
    this.closed = true;
    this.inflate?.destroy();
    this.exchange.abort(codedError('body abandoned by its reader', 'ERR_BODY_ABANDONED'));
  }
}

function onlyNewlines(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 13 && buf[i] !== 10) return false;
  return true;
}

/** One keep-alive connection: the exchange it carries now (if any), and since when it has been idle. */
export class Conn {
  exchange: (ResponseEvents & { read(buf: Buffer): void; fail(err: Error): void; closed(): void }) | null = null;
  /** performance.now() when it last went back to the pool. */
  idleSince = 0;
  requests = 0;
  /** performance.now() after which a response still being read after its reader stopped drops the connection. */
  lingerUntil = 0;
  destroyed = false;

  constructor(
    readonly socket: net.Socket,
    readonly key: string,
    private readonly pool: ConnPool,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.on('data', (buf: Buffer) => {
      if (this.exchange !== null) this.exchange.read(buf);
      // Bytes on an idle connection (but a stray empty line): no request waits for them, nothing after can be trusted.
      else if (!onlyNewlines(buf)) this.destroy();
    });
    socket.on('error', (err: Error) => this.exchange?.fail(err));
    socket.on('close', () => {
      this.destroyed = true;
      this.pool.forget(this);
      this.exchange?.closed();
    });
  }

  destroy(): void {
    this.destroyed = true;
    this.socket.destroy();
  }
}

/** Keep-alive connections by target, and the sweep that drops responses that linger after their reader stopped. */
export class ConnPool {
  private readonly idle = new Map<string, Conn[]>();
  private readonly all = new Set<Conn>();
  private sweeper: NodeJS.Timeout | null = null;

  static keyOf(t: WireTarget): string {
    return `${t.isHttps ? 's' : ''}${t.hostname}:${t.port}`;
  }

  /** An idle connection to `t`, or a new one. */
  take(t: WireTarget): Conn {
    const key = ConnPool.keyOf(t);
    const idle = this.idle.get(key);
    while (idle !== undefined && idle.length > 0) {
      const conn = idle.pop()!;
      if (!conn.destroyed) return conn;
    }
    const socket = t.isHttps
      ? tls.connect({
          host: t.hostname,
          port: t.port,
          servername: net.isIP(t.hostname) === 0 ? t.hostname : undefined,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host: t.hostname, port: t.port });
    const conn = new Conn(socket, key, this);
    this.all.add(conn);
    this.sweeper ??= setInterval(() => this.sweep(), 250).unref();
    return conn;
  }

  release(conn: Conn): void {
    conn.exchange = null;
    conn.lingerUntil = 0;
    if (conn.destroyed) return;
    conn.idleSince = performance.now();
    const list = this.idle.get(conn.key);
    if (list === undefined) this.idle.set(conn.key, [conn]);
    else list.push(conn);
  }

  forget(conn: Conn): void {
    this.all.delete(conn);
    const list = this.idle.get(conn.key);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  private sweep(): void {
    const t = performance.now();
    for (const conn of this.all) if (conn.lingerUntil > 0 && t >= conn.lingerUntil) conn.destroy();
  }

  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const conn of this.all) conn.destroy();
    this.all.clear();
    this.idle.clear();
  }
}

/** A response's head, and its body unless its status or method has none. */
export interface WireResponse {
  status: number;
  rawHeaders: string[];
  body: WireBody | null;
}

/** How a request is read: `noBody`, a HEAD request; `closes`, it asked for `connection: close` itself. */
export interface SendOptions {
  noBody: boolean;
  closes: boolean;
}

/** One request on one connection, from its write to the end of its response (or its failure). */
class WireExchange implements ResponseEvents {
  private readonly parser: ResponseParser;
  private wireBody: WireBody | null = null;
  /** The promise of the head was settled. */
  private settled = false;
  /** The response is over: ended, failed or aborted. */
  private done = false;
  private gotBytes = false;

  constructor(
    private readonly pool: ConnPool,
    private readonly conn: Conn,
    private readonly link: AbortLink,
    private readonly sending: SendOptions,
    private readonly resolve: (r: WireResponse) => void,
    private readonly reject: (err: Error) => void,
    /** Set when it fails before any response byte on a reused connection: how long that connection was idle. */
    private readonly sent: { idleMs: number | null },
    private readonly sentIdleMs: number | null,
  ) {
    this.parser = new ResponseParser(this, sending.noBody);
  }

  read(buf: Buffer): void {
    this.gotBytes = true;
    try {
      this.parser.push(buf);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Bytes after the end of a response: that connection cannot be trusted with another one.
      if (this.done) this.conn.destroy();
      // A body that breaks off is a reset, as node:http and undici report it (connection_reset, mid-stream).
      else if (this.parser.headRead) this.fail(codedError(`response broken mid-stream: ${message}`, 'ECONNRESET'));
      else this.fail(err instanceof ParseError ? err : codedError(message, 'HPE_INVALID'));
    }
  }

  head(status: number, _reason: string, rawHeaders: string[]): void {
    const hasBody = !this.sending.noBody && !NO_BODY_STATUS.has(status);
    this.wireBody = hasBody ? new WireBody(this, rawHeaderValue(rawHeaders, 'content-encoding') ?? '') : null;
    this.settled = true;
    this.resolve({ status, rawHeaders, body: this.wireBody });
  }

  body(buf: Buffer, from: number, to: number): void {
    this.wireBody?.bytes(buf, from, to);
  }

  end(): void {
    if (this.done) return;
    this.over();
    if (this.parser.keepAlive && !this.sending.closes) this.pool.release(this.conn);
    else this.conn.destroy();
    this.wireBody?.end();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.over();
    this.conn.destroy();
    if (!this.settled) {
      this.settled = true;
      if (!this.gotBytes) this.sent.idleMs = this.sentIdleMs;
      this.reject(err);
    } else this.wireBody?.fail(err);
  }

  /** The connection closed under this exchange: the end of a body framed by the close, or a failure. */
  closed(): void {
    if (this.done || this.parser.close()) return;
    this.fail(codedError(this.parser.headRead ? 'terminated: other side closed' : 'socket hang up', 'ECONNRESET'));
  }

  abort(err: Error): void {
    this.fail(err);
  }

  linger(ms: number): void {
    if (!this.done) this.conn.lingerUntil = performance.now() + ms;
  }

  private over(): void {
    this.done = true;
    this.conn.exchange = null;
    if (this.link.exchange === this) this.link.exchange = null;
  }
}

/**
 * Sends `request` (the whole request: head and body) to `target` on an idle connection or a new one; resolves at
 * the response's final head. `sent.idleMs` tells, on a failure before any response byte, how long the reused
 * connection had been idle (null: a new connection, or bytes had come).
 */
export function wireExchange(
  pool: ConnPool,
  target: WireTarget,
  request: string | Buffer,
  sending: SendOptions,
  link: AbortLink,
  sent: { idleMs: number | null },
): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    const conn = pool.take(target);
    const idleMs = conn.requests > 0 ? performance.now() - conn.idleSince : null;
    const ex = new WireExchange(pool, conn, link, sending, resolve, reject, sent, idleMs);
    conn.requests++;
    conn.exchange = ex;
    link.exchange = ex;
    conn.socket.write(request);
  });
}

export { ParseError };
