// An incremental parser of HTTP/1.1 responses, for the wire sender (wire.ts): bytes in, in any split; the head, the
// body's bytes (chunked, content-length or until close) and the end out. Pure: no socket, no timer. Written for the
// streaming hot path: a body chunk costs no copy and no string, only offsets into the read it came in.

/** What a response is made of, as it is parsed. */
export interface ResponseEvents {
  /** The final head (1xx responses are skipped): status, reason, raw header list (name, value, …). */
  head(status: number, reason: string, rawHeaders: string[]): void;
  /** Body bytes `buf[from, to)`, decoded of their transfer coding. */
  body(buf: Buffer, from: number, to: number): void;
  /** The whole response was read. */
  end(): void;
}

/** A response this parser cannot read: the connection is unusable after it. */
export class ParseError extends Error {
  readonly code = 'HPE_INVALID';
}

/** The largest head accepted (node's own default limit is 16 KiB). */
const MAX_HEAD = 64 * 1024;
const MAX_SIZE_LINE = 1024;
/** A header line: a token, a colon right after it, a value without CR or NUL. */
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([^\r\0]*)$/;

type State = 'head' | 'size' | 'data' | 'data-crlf' | 'trailers' | 'length' | 'close' | 'done';

const CR = 13;
const LF = 10;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The size in a chunk-size line `buf[from, to)` (`1a3`, `1a3;ext=1`, `1a3 `), or -1 when it is not one. */
export function chunkSize(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  let i = from;
  for (; i < to; i++) {
    const d = hexDigit(buf[i]!);
    if (d < 0) break;
    n = n * 16 + d;
  }
  if (i === from || i - from > 12) return -1;
  for (; i < to; i++) {
    const c = buf[i]!;
    if (c === 59) return n;
    if (c !== 32 && c !== 9) return -1;
  }
  return n;
}

export class ResponseParser {
  private state: State = 'head';
  /** Bytes of a head or a size line not yet complete. */
  private pending: Buffer | null = null;
  /** Bytes left in the current chunk or content-length body. */
  private remaining = 0;
  /** Whether the connection may carry another request once this response has ended. */
  keepAlive = true;
  /** The final head was read. */
  headRead = false;

  /** `noBody`: the request was HEAD, so the response has no body whatever its headers say. */
  constructor(
    private readonly events: ResponseEvents,
    private readonly noBody = false,
  ) {}

  get ended(): boolean {
    return this.state === 'done';
  }

  /** The body runs until the connection closes: a close then ends it rather than cutting it short. */
  get endsAtClose(): boolean {
    return this.state === 'close';
  }

  /** Parses the read `buf`; throws ParseError on a response it cannot read. Bytes after the end are an error too. */
  push(buf: Buffer): void {
    let at = 0;
    if (this.pending !== null && (this.state === 'head' || this.state === 'size' || this.state === 'trailers')) {
      buf = Buffer.concat([this.pending, buf]);
      this.pending = null;
    }
    while (at < buf.length) at = this.step(buf, at);
  }

  /** One state's worth of `buf` from `at`; returns where the next starts (buf.length when all is used). */
  private step(buf: Buffer, at: number): number {
    switch (this.state) {
      case 'head':
        return this.readHead(buf, at);
      case 'size':
        return this.readSizeLine(buf, at);
      case 'data':
      case 'length':
        return this.readData(buf, at);
      case 'data-crlf':
        return this.readDataCrlf(buf, at);
      case 'trailers':
        return this.readTrailers(buf, at);
      case 'close':
        this.events.body(buf, at, buf.length);
        return buf.length;
      case 'done':
        return ResponseParser.afterEnd(buf, at);
    }
  }

  /** Empty lines after a response are ignored, as node's parser does; anything else is an error. */
  private static afterEnd(buf: Buffer, at: number): number {
    while (at < buf.length && (buf[at] === CR || buf[at] === LF)) at++;
    if (at < buf.length) throw new ParseError('data after the end of the response');
    return at;
  }

  /** A line ending at `lf` (exclusive), without its CR. */
  private static lineEnd(buf: Buffer, lf: number, from: number): number {
    return lf > from && buf[lf - 1] === CR ? lf - 1 : lf;
  }

  private keep(buf: Buffer, at: number, limit: number, what: string): number {
    if (buf.length - at > limit) throw new ParseError(`${what} longer than ${limit} bytes`);
    this.pending = Buffer.from(buf.subarray(at));
    return buf.length;
  }

  /** Where the head starting at `at` ends: the blank line that comes first, CRLF or bare LF; null if not yet. */
  private static headEnd(buf: Buffer, at: number): { textEnd: number; next: number } | null {
    for (let lf = buf.indexOf(LF, at); lf >= 0; lf = buf.indexOf(LF, lf + 1)) {
      const textEnd = lf > at && buf[lf - 1] === CR ? lf - 1 : lf;
      if (buf[lf + 1] === LF) return { textEnd, next: lf + 2 };
      if (buf[lf + 1] === CR && buf[lf + 2] === LF) return { textEnd, next: lf + 3 };
      if (lf + 2 >= buf.length) return null;
    }
    return null;
  }

  private readHead(buf: Buffer, at: number): number {
    // Empty lines before a status line are ignored (RFC 9112 §2.2), as node's parser does: a stray CRLF after a body.
    while (at < buf.length && (buf[at] === CR || buf[at] === LF)) at++;
    if (at === buf.length) return at;
    const end = ResponseParser.headEnd(buf, at);
    if (end === null) return this.keep(buf, at, MAX_HEAD, 'response head');
    if (end.textEnd - at > MAX_HEAD) throw new ParseError(`response head longer than ${MAX_HEAD} bytes`);
    const lines = buf.toString('latin1', at, end.textEnd).split(/\r?\n/);
    const m = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r]*))?$/.exec(lines[0]!);
    if (m === null) throw new ParseError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const status = Number(m[2]);
    const raw: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const header = HEADER_LINE.exec(lines[i]!);
      if (header === null) throw new ParseError(`malformed header line: ${JSON.stringify(lines[i]!.slice(0, 40))}`);
      raw.push(header[1]!, header[2]!.trim());
    }
    // 1xx (100 Continue, 103 Early Hints): another head follows.
    if (status >= 100 && status < 200 && status !== 101) return end.next;
    this.startBody(status, m[1] === '1', raw);
    this.headRead = true;
    this.events.head(status, m[3] ?? '', raw);
    if (this.state === 'done') this.events.end();
    return end.next;
  }

  /** How the body is framed (RFC 9112 §6.3), from the final head; a framing node:http refuses is refused. */
  private startBody(status: number, http11: boolean, raw: string[]): void {
    let coding: string | null = null;
    let length = -1;
    let connection = '';
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!.toLowerCase();
      if (name === 'transfer-encoding') coding = coding === null ? value : `${coding},${value}`;
      else if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length >= 0 && Number(value) !== length))
          throw new ParseError(`invalid content-length: ${JSON.stringify(value.slice(0, 20))}`);
        length = Number(value);
      } else if (name === 'connection') connection += `,${value}`;
    }
    const chunked = coding !== null && coding.split(',').pop()!.trim() === 'chunked';
    if (chunked && length >= 0) throw new ParseError('both transfer-encoding: chunked and content-length');
    const tokens = connection.split(',').map((t) => t.trim());
    this.keepAlive = http11 ? !tokens.includes('close') : tokens.includes('keep-alive');
    if (this.noBody || status === 101 || status === 204 || status === 304) this.state = 'done';
    else if (chunked) this.state = 'size';
    // A transfer coding other than chunked last: the body runs to the close, whatever content-length says.
    else if (length >= 0 && coding === null) {
      this.remaining = length;
      this.state = length === 0 ? 'done' : 'length';
    } else {
      this.state = 'close';
      this.keepAlive = false;
    }
  }

  private readSizeLine(buf: Buffer, at: number): number {
    const lf = buf.indexOf(LF, at);
    if (lf < 0) return this.keep(buf, at, MAX_SIZE_LINE, 'chunk-size line');
    const size = chunkSize(buf, at, ResponseParser.lineEnd(buf, lf, at));
    if (size < 0) throw new ParseError('invalid chunk-size line');
    this.remaining = size;
    this.state = size === 0 ? 'trailers' : 'data';
    return lf + 1;
  }

  private readData(buf: Buffer, at: number): number {
    const to = Math.min(buf.length, at + this.remaining);
    this.remaining -= to - at;
    if (to > at) this.events.body(buf, at, to);
    if (this.remaining === 0) {
      if (this.state === 'length') {
        this.state = 'done';
        this.events.end();
      } else this.state = 'data-crlf';
    }
    return to;
  }

  /** The CRLF after a chunk's data; `remaining` counts its bytes still to come (it may be split between reads). */
  private readDataCrlf(buf: Buffer, at: number): number {
    const c = buf[at]!;
    if (c === CR && this.remaining === 0) {
      this.remaining = 1;
      return at + 1;
    }
    if (c !== LF) throw new ParseError('chunk data not followed by CRLF');
    this.remaining = 0;
    this.state = 'size';
    return at + 1;
  }

  private readTrailers(buf: Buffer, at: number): number {
    for (;;) {
      const lf = buf.indexOf(LF, at);
      if (lf < 0) return this.keep(buf, at, MAX_HEAD, 'trailer section');
      const empty = ResponseParser.lineEnd(buf, lf, at) === at;
      at = lf + 1;
      if (empty) {
        this.state = 'done';
        this.events.end();
        return at;
      }
    }
  }

  /** The connection closed: true when that ends the response (a body framed by the close), false if it cut it short. */
  close(): boolean {
    if (this.state !== 'close') return this.state === 'done';
    this.state = 'done';
    this.events.end();
    return true;
  }
}
