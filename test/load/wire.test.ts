// The wire sender (the fast path's own HTTP/1.1) against real node:http(s) servers on 127.0.0.1: what a server may do
// that the simulator does not, each read as node:http would read it. A compressed body, a UTF-8 character split
// between reads, a body framed by the close, a connection the server closes after its response or cuts mid-stream,
// a response that lingers after [DONE], TLS; and a header that would break the request is refused.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transportConfig } from '../../src/controller/transport-config.ts';
import { createTransport } from '../../src/load/transport.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { tempDir } from '../helpers.ts';

const event = (delta: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: delta ? { content: delta } : {}, finish_reason: finish }] })}\n\n`;
const ANSWER = ['héllo', ' wörld', ' ✓'];
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const SSE = ANSWER.map((t) => event(t)).join('') + event('', 'stop') + 'data: [DONE]\n\n';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const routes = new Map<string, Handler>();
let connections = 0;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  req.on('end', () => routes.get(req.url!.split('/')[1]!)!(req, res));
}

const servers: { http: http.Server | null; https: https.Server | null } = { http: null, https: null };
let base = '';
let secureBase = '';

beforeAll(async () => {
  const tls = join(import.meta.dirname, '../fixtures/tls');
  servers.http = http.createServer(handle);
  servers.https = https.createServer(
    { key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) },
    handle,
  );
  servers.http.on('connection', () => connections++);
  for (const s of [servers.http, servers.https]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(servers.http.address() as AddressInfo).port}`;
  secureBase = `https://127.0.0.1:${(servers.https.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of [servers.http!, servers.https!]) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function transportFor(baseUrl: string, headers = '{}') {
  const text = `target: {base_url: "${baseUrl}", model: m, headers: ${headers}}
request:
  messages: [{role: user, content: hi}]
  max_tokens: 8
  timeouts: {first_token: 2s, idle: 2s, total: 5s}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
  const { profile } = await loadProfile(join(tempDir(), 'p.yaml'), { text, env: {} });
  return createTransport({
    config: transportConfig(profile, baseUrl, 'sk-wire-test'),
    clock: systemClock(performance.now()),
    redact: (s) => s,
    path: 'fast',
  });
}

/** Sends `n` requests one after another to `route`; the records and the answer of the last one. */
async function sendTo(route: string, n = 1, baseUrl = base) {
  const transport = await transportFor(`${baseUrl}/${route}/v1`);
  try {
    const recs = [];
    for (let i = 0; i < n; i++)
      recs.push(await transport.send({ id: `${route}-${i}`, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 }));
    return recs;
  } finally {
    transport.close();
  }
}

const sse = { 'content-type': 'text/event-stream' };

describe('the wire sender', () => {
  it('reads a gzip body, and a UTF-8 character split between two reads', async () => {
    routes.set('gzip', (_req, res) => {
      res.writeHead(200, { ...sse, 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(SSE));
    });
    routes.set('split', (_req, res) => {
      res.writeHead(200, sse);
      const bytes = Buffer.from(SSE);
      const cut = bytes.indexOf(Buffer.from('ö')) + 1;
      res.write(bytes.subarray(0, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    });
    for (const route of ['gzip', 'split']) {
      const [rec] = await sendTo(route);
      expect(rec, route).toMatchObject({ ok: true, status: 200, contentChunks: 3, finishReason: 'stop' });
    }
  });

  it('reads a body framed by the close, and opens a new connection after `connection: close` or bytes beyond a body', async () => {
    routes.set('eof', (req, _res) => {
      // No content-length and no chunks: HTTP/1.0-style, the body ends when the server closes.
      req.socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n${SSE}`);
      req.socket.end();
    });
    routes.set('close', (_req, res) => {
      res.writeHead(200, { ...sse, connection: 'close' });
      res.end(SSE);
    });
    const before = connections;
    for (const rec of await sendTo('eof', 2)) expect(rec).toMatchObject({ ok: true, contentChunks: 3 });
    for (const rec of await sendTo('close', 2)) expect(rec).toMatchObject({ ok: true, contentChunks: 3 });
    expect(connections - before).toBe(4);
    routes.set('extra', (req) => {
      // Bytes beyond the body's content-length, in the same write: the response is whole, the connection is not.
      const body = Buffer.from(SSE);
      req.socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: ${body.length}\r\n\r\n${SSE}junk`,
      );
    });
    const extra = connections;
    for (const rec of await sendTo('extra', 2)) expect(rec).toMatchObject({ ok: true, contentChunks: 3 });
    expect(connections - extra).toBe(2);
    routes.set('stray', (req, res) => {
      // An empty line after a whole response, as some servers send: node's parser ignores it, and so must we.
      res.writeHead(200, { ...sse, 'content-length': Buffer.byteLength(SSE) }).end(SSE);
      setTimeout(() => req.socket.write('\r\n'), 5);
    });
    const stray = connections;
    for (const rec of await sendTo('stray', 3)) expect(rec).toMatchObject({ ok: true, contentChunks: 3 });
    expect(connections - stray).toBe(1);
    routes.set('keep', (_req, res) => res.writeHead(200, sse).end(SSE));
    const kept = connections;
    for (const rec of await sendTo('keep', 3)) expect(rec).toMatchObject({ ok: true });
    expect(connections - kept).toBe(1);
    // The request itself asks for `connection: close`: its connection is not reused, even by a server that does not
    // answer with `connection: close` (this one writes its response by hand, and keeps the connection open).
    routes.set('noecho', (req) => {
      req.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(SSE)}\r\n\r\n${SSE}`);
    });
    const transport = await transportFor(`${base}/noecho/v1`, '{connection: close}');
    const asked = connections;
    try {
      for (const id of ['close-1', 'close-2'])
        expect(await transport.send({ id, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 })).toMatchObject({
          ok: true,
        });
    } finally {
      transport.close();
    }
    expect(connections - asked).toBe(2);
  });

  it('classifies a connection cut mid-stream as a reset, and a server error with its status and body', async () => {
    routes.set('cut', (req, res) => {
      res.writeHead(200, sse);
      res.write(event('one'));
      setTimeout(() => req.socket.destroy(), 20);
    });
    routes.set('overloaded', (_req, res) =>
      res
        .writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' })
        .end('{"error":{"message":"busy"}}'),
    );
    routes.set('garbled', (req) => {
      // A chunk size that is not one, after a good chunk: node:http and undici call it a reset mid-stream.
      req.socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${chunk(event('one'))}zz\r\n`);
    });
    const [garbled] = await sendTo('garbled');
    expect(garbled).toMatchObject({ errorClass: 'connection_reset', errorPhase: 'mid_stream', contentChunks: 1 });
    const [cut] = await sendTo('cut');
    expect(cut).toMatchObject({
      ok: false,
      errorClass: 'connection_reset',
      errorPhase: 'mid_stream',
      contentChunks: 1,
    });
    const [busy] = await sendTo('overloaded');
    expect(busy).toMatchObject({ ok: false, errorClass: 'http_5xx', status: 503, retryAfterS: 7 });
    expect(busy!.error).toContain('busy');
  });

  it('lets a response that lingers after [DONE] end, then drops its connection if it does not', async () => {
    routes.set('linger', (_req, res) => {
      res.writeHead(200, sse);
      res.write(SSE);
      // Never ended: the connection cannot be reused, and must not stay open for ever.
    });
    const transport = await transportFor(`${base}/linger/v1`);
    const open = () => new Promise<number>((r) => servers.http!.getConnections((_e, n) => r(n)));
    try {
      const before = connections;
      for (const id of ['linger-1', 'linger-2']) {
        const rec = await transport.send({ id, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 });
        expect(rec).toMatchObject({ ok: true, contentChunks: 3 });
      }
      expect(connections - before).toBe(2);
      expect(await open()).toBe(2);
      // The transport stays open: only its linger limit (2 s) closes them.
      const t0 = performance.now();
      while ((await open()) > 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
      expect(await open()).toBe(0);
    } finally {
      transport.close();
    }
  });

  it('speaks TLS, and refuses a certificate it cannot verify', async () => {
    routes.set('secure', (_req, res) => res.writeHead(200, sse).end(SSE));
    const [refused] = await sendTo('secure', 1, secureBase);
    expect(refused).toMatchObject({ ok: false, errorClass: 'client_error', errorPhase: null });
    expect(refused!.error).toMatch(/certificate/i);
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const quiet = process.emitWarning;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    process.emitWarning = () => {};
    try {
      const [rec] = await sendTo('secure', 1, secureBase);
      expect(rec).toMatchObject({ ok: true, status: 200, contentChunks: 3 });
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
      process.emitWarning = quiet;
    }
  });

  it('refuses a header value with a control character, as node:http does, and sends nothing', async () => {
    let reached = 0;
    routes.set('ok', (_req, res) => (reached++, res.writeHead(200, sse).end(SSE)));
    const transport = await transportFor(`${base}/ok/v1`, '{x-bad: "a\\x01b"}');
    try {
      const rec = await transport.send({ id: 'bad-1', payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 });
      expect(rec).toMatchObject({ ok: false, errorClass: 'client_error' });
      expect(rec.error).toMatch(/invalid character/i);
      expect(reached).toBe(0);
    } finally {
      transport.close();
    }
  });
});
