// The HTTP/1.1 response parser of the wire sender: whatever way a response is split into reads, the same head, the
// same body bytes and one end; framing by chunks (with extensions and trailers), by content-length and by the close;
// 1xx heads skipped; and a response it cannot read is an error, never a silent guess.
import { describe, expect, it } from 'vitest';
import { ParseError, ResponseParser, chunkSize } from '../../src/load/h1-parser.ts';

interface Parsed {
  status: number | null;
  reason: string;
  headers: string[];
  body: string;
  ends: number;
}

function parser(noBody = false): { p: ResponseParser; out: Parsed } {
  const out: Parsed = { status: null, reason: '', headers: [], body: '', ends: 0 };
  const p = new ResponseParser(
    {
      head(status, reason, raw) {
        out.status = status;
        out.reason = reason;
        out.headers = raw;
      },
      body(buf, from, to) {
        out.body += buf.toString('latin1', from, to);
      },
      end() {
        out.ends++;
      },
    },
    noBody,
  );
  return { p, out };
}

/** Parses `text` cut at each of `cuts` (byte offsets). */
function parseIn(text: string, cuts: number[], noBody = false): { p: ResponseParser; out: Parsed } {
  const r = parser(noBody);
  const bytes = Buffer.from(text, 'latin1');
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    r.p.push(bytes.subarray(at, cut));
    at = cut;
  }
  return r;
}

const chunk = (s: string, ext = '') => `${s.length.toString(16)}${ext}\r\n${s}\r\n`;
const CHUNKED =
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n' +
  chunk('data: ') +
  chunk('{"x":"\u00e9"}\n\n', ';name=value') +
  '0\r\nx-trailer: 1\r\n\r\n';

describe('ResponseParser', () => {
  it('reads a chunked response the same whatever bytes each read ends at', () => {
    const whole = parseIn(CHUNKED, []).out;
    expect(whole).toEqual({
      status: 200,
      reason: 'OK',
      headers: ['Content-Type', 'text/event-stream', 'Transfer-Encoding', 'chunked'],
      body: 'data: {"x":"\u00e9"}\n\n',
      ends: 1,
    });
    for (let cut = 1; cut < CHUNKED.length; cut++) expect(parseIn(CHUNKED, [cut]).out, `cut at ${cut}`).toEqual(whole);
    const everyByte = Array.from({ length: CHUNKED.length - 1 }, (_, i) => i + 1);
    expect(parseIn(CHUNKED, everyByte).out).toEqual(whole);
  });

  it('frames a body by content-length, and keeps the connection unless it says close', () => {
    const text = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\nhello';
    const { p, out } = parseIn(text, [20, 45]);
    expect(out).toMatchObject({ status: 400, reason: 'Bad Request', body: 'hello', ends: 1 });
    expect(p.keepAlive).toBe(true);
    const closing = parseIn('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', []);
    expect(closing.out.ends).toBe(1);
    expect(closing.p.keepAlive).toBe(false);
    expect(parseIn('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', []).p.keepAlive).toBe(false);
  });

  it('reads a body with neither length nor chunks until the connection closes', () => {
    const { p, out } = parseIn('HTTP/1.1 200 OK\r\n\r\ndata: 1\n\ndata: 2', [25]);
    expect(out.ends).toBe(0);
    expect(p.endsAtClose).toBe(true);
    expect(p.close()).toBe(true);
    expect(out).toMatchObject({ body: 'data: 1\n\ndata: 2', ends: 1 });
    expect(p.keepAlive).toBe(false);
  });

  it('says a close cut a chunked body short', () => {
    const { p, out } = parseIn(CHUNKED.slice(0, 100), []);
    expect(p.close()).toBe(false);
    expect(out.ends).toBe(0);
  });

  it('skips 1xx heads, and reads no body after 204, 304 or a HEAD request', () => {
    const early = 'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n';
    expect(parseIn(early + 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', [10, 60]).out).toMatchObject({
      status: 200,
      body: 'ok',
      ends: 1,
    });
    expect(parseIn('HTTP/1.1 204 No Content\r\n\r\n', []).out).toMatchObject({ status: 204, ends: 1 });
    expect(parseIn('HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n', [], true).out).toMatchObject({ ends: 1 });
  });

  it('refuses what it cannot read, and bytes after the end', () => {
    const bad = [
      'HTTP/2 200\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nab',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nx-a: b\rc\r\ncontent-length: 0\r\n\r\n',
    ];
    for (const text of bad) expect(() => parseIn(text, []), text).toThrow(ParseError);
    expect(() => parseIn('HTTP/1.1 200 OK\r\nx: ' + 'a'.repeat(70_000), [])).toThrow(/longer than/);
  });

  it('ignores empty lines around a response, and finds an LF-only head whatever follows it in the read', () => {
    const { p, out } = parseIn('\r\n\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok\r\n', [1, 2]);
    expect(out).toMatchObject({ status: 200, body: 'ok', ends: 1 });
    expect(() => p.push(Buffer.from('\r\n'))).not.toThrow();
    expect(() => p.push(Buffer.from('x'))).toThrow(ParseError);
    const lfHead = 'HTTP/1.1 200 OK\ntransfer-encoding: chunked\n\n' + chunk('data: 1\r\n\r\n') + '0\r\n\r\n';
    const whole = parseIn(lfHead, []).out;
    expect(whole).toMatchObject({ status: 200, body: 'data: 1\r\n\r\n', ends: 1 });
    expect(parseIn(lfHead, [lfHead.indexOf('\n\n') + 2]).out).toEqual(whole);
  });

  it('reads a body to the close when its transfer coding is not chunked, whatever content-length says', () => {
    const { p, out } = parseIn('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 1\r\n\r\nabc', []);
    expect(p.endsAtClose).toBe(true);
    expect(out.body).toBe('abc');
  });

  it('reads chunk sizes with extensions and refuses anything else', () => {
    const size = (s: string) => chunkSize(Buffer.from(s), 0, s.length);
    expect([size('0'), size('1a3'), size('FF;x=1'), size('10 ')]).toEqual([0, 0x1a3, 255, 16]);
    expect([size(''), size('g'), size('1 2'), size('-1'), size('1234567890abc')]).toEqual([-1, -1, -1, -1, -1]);
  });
});
