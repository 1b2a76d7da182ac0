// Prepared requests (the fast path): the SDK builds each payload's request once and every request re-sends it with
// its own x-request-id. What reaches the server must be exactly what the SDK builds for that payload: the same
// method, path and query (Azure's api-version), every header with the same value (auth, default headers, the SDK's
// own), the same body bytes; and a redirect is still followed.
import { transportConfig } from '../../src/controller/transport-config.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/load/transport.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { tempDir } from '../helpers.ts';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const SSE_OK =
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n' +
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';

let server: http.Server;
let base = '';
const seen: Seen[] = [];
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (s: string) => (body += s));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
        headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers, body });
      if (req.url?.startsWith('/moved/')) {
        res.writeHead(307, { location: req.url.replace('/moved/', '/') }).end();
        return;
      }
      if (req.url?.startsWith('/permanent/')) {
        res.writeHead(301, { location: req.url.replace('/permanent/', '/') }).end();
        return;
      }
      if (req.url?.startsWith('/elsewhere/')) {
        // Another origin: the same server under another host name.
        res
          .writeHead(307, {
            location: `http://localhost:${(server.address() as AddressInfo).port}/v1/chat/completions`,
          })
          .end();
        return;
      }
      if (req.url?.startsWith('/slow/')) {
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(SSE_OK), 150);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end(SSE_OK);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** What the SDK itself hands to fetch for this body: the reference the prepared request must match. */
async function sdkBuilt(
  opts: ConstructorParameters<typeof OpenAI>[0],
  body: unknown,
  id: string,
): Promise<{ url: string; headers: Record<string, string>; body: string; method: string }> {
  let got: { url: string; init: RequestInit } | null = null;
  const recording = (async (url: string, init: RequestInit) => {
    got = { url: String(url), init };
    return new Response(SSE_OK, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as unknown as typeof fetch;
  const client = new OpenAI({ ...opts, fetch: recording });
  await client.chat.completions
    .create(body as OpenAI.ChatCompletionCreateParamsStreaming, { headers: { 'x-request-id': id } })
    .asResponse();
  const g = got as unknown as { url: string; init: RequestInit };
  const headers: Record<string, string> = {};
  new Headers(g.init.headers).forEach((v, k) => (headers[k] = v));
  return { url: g.url, headers, body: String(g.init.body), method: String(g.init.method).toUpperCase() };
}

async function transportFor(dir: string, baseUrl: string) {
  writeFileSync(
    join(dir, 'prompts.jsonl'),
    '[{"role":"user","content":"first payload"}]\n{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"second — ünïcode"}]}\n',
  );
  const text = `target:
  base_url: "${baseUrl}"
  model: m
  headers: {x-team: capacity, x-trace: "on"}
request:
  prompts_file: prompts.jsonl
  max_tokens: 8
  temperature: 0.5
  extra_body: {top_p: 0.9}
  timeouts: {first_token: 2s, idle: 2s, total: 5s}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
  const { profile } = await loadProfile(join(dir, 'p.yaml'), { text, env: {} });
  const origin = performance.now();
  return {
    profile,
    transport: createTransport({
      config: transportConfig(profile, baseUrl, 'sk-prepared-test'),
      clock: systemClock(origin),
      redact: (s) => s,
      path: 'fast',
    }),
  };
}

describe('prepared requests', () => {
  it('send, per request, exactly what the SDK builds for that payload, with the request id', async () => {
    const dir = tempDir();
    const baseUrl = `${base}/v1?api-version=2024-10-21`;
    const { profile, transport } = await transportFor(dir, baseUrl);
    try {
      seen.length = 0;
      const plan = [
        { id: 'a-1', payload: 0 },
        { id: 'a-2', payload: 1 },
        { id: 'a-3', payload: 0 },
      ];
      for (const p of plan) {
        const rec = await transport.send({ ...p, stage: 0, phase: 'window', worker: 0, t0: 0 });
        expect(rec).toMatchObject({ ok: true, status: 200, contentChunks: 1, finishReason: 'stop' });
      }
      expect(seen.map((s) => s.headers['x-request-id'])).toEqual(['a-1', 'a-2', 'a-3']);
      const sdkOpts = {
        baseURL: `${base}/v1`,
        defaultQuery: { 'api-version': '2024-10-21' },
        apiKey: 'sk-prepared-test',
        maxRetries: 0,
        timeout: profile.request.timeouts.totalMs + 60_000,
        defaultHeaders: profile.target.headers as Record<string, string>,
      };
      for (let i = 0; i < plan.length; i++) {
        const p = plan[i]!;
        const wire = seen[i]!;
        const body = {
          ...profile.request.extraBody,
          model: 'm',
          stream: true,
          max_tokens: 8,
          temperature: 0.5,
          stream_options: { include_usage: true },
          messages: profile.request.payloads[p.payload]!.messages,
        };
        const ref = await sdkBuilt(sdkOpts, body, p.id);
        expect(wire.method).toBe(ref.method);
        expect(`${base}${wire.url}`).toBe(ref.url);
        expect(wire.url).toBe('/v1/chat/completions?api-version=2024-10-21');
        expect(wire.body).toBe(ref.body);
        // Every header the SDK built, with its value; beyond them only what HTTP/1.1 itself needs.
        for (const [k, v] of Object.entries(ref.headers)) expect(wire.headers[k], k).toBe(v);
        const extra = Object.keys(wire.headers).filter((k) => !(k in ref.headers));
        expect(extra.sort()).toEqual(['connection', 'content-length', 'host']);
        expect(wire.headers['content-length']).toBe(String(Buffer.byteLength(wire.body)));
        expect(wire.headers.authorization).toBe('Bearer sk-prepared-test');
        expect(wire.headers['x-team']).toBe('capacity');
      }
      // The two payloads differ on the wire as they should.
      expect(JSON.parse(seen[1]!.body).messages[1].content).toBe('second — ünïcode');
      expect(seen[0]!.body).toBe(seen[2]!.body);
    } finally {
      transport.close();
    }
  });

  it('follow a 307 to the same origin with the same request, once; refuse other redirects and say why', async () => {
    const send = async (prefix: string) => {
      const { transport } = await transportFor(tempDir(), `${base}/${prefix}/v1`);
      try {
        seen.length = 0;
        return await transport.send({ id: `${prefix}-1`, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 });
      } finally {
        transport.close();
      }
    };
    const moved = await send('moved');
    expect(moved).toMatchObject({ ok: true, status: 200, contentChunks: 1 });
    expect(seen.map((s) => s.url)).toEqual(['/moved/v1/chat/completions', '/v1/chat/completions']);
    expect(seen.map((s) => [s.method, s.headers['x-request-id'], s.headers.authorization])).toEqual([
      ['POST', 'moved-1', 'Bearer sk-prepared-test'],
      ['POST', 'moved-1', 'Bearer sk-prepared-test'],
    ]);
    expect(seen[1]!.body).toBe(seen[0]!.body);

    // fetch would re-send a 301'd POST as a GET without its body: a load test of nothing.
    const permanent = await send('permanent');
    expect(permanent).toMatchObject({ ok: false, errorClass: 'client_error' });
    expect(permanent.error).toContain('HTTP 301 redirect to');
    expect(permanent.error).toContain('set target.base_url to the final URL');
    expect(seen).toHaveLength(1);

    // Another origin would receive the API key.
    const elsewhere = await send('elsewhere');
    expect(elsewhere).toMatchObject({ ok: false, errorClass: 'client_error' });
    expect(elsewhere.error).toContain('only a 307/308 to the same origin is followed');
    expect(seen).toHaveLength(1);
  });

  it("keep every slot's connection between waves of requests (no reconnection storm at the next stage)", async () => {
    const { transport } = await transportFor(tempDir(), `${base}/slow/v1`);
    try {
      const C = 300;
      const wave = (w: number) =>
        Promise.all(
          Array.from({ length: C }, (_, i) =>
            transport.send({ id: `w${w}-${i}`, payload: 0, stage: w, phase: 'window', worker: 0, t0: 0 }),
          ),
        );
      const before = connections;
      expect((await wave(0)).every((r) => r.ok)).toBe(true);
      expect(connections - before).toBe(C);
      // All C sockets were idle at once: node's default pool keeps only 256 of them.
      expect((await wave(1)).every((r) => r.ok)).toBe(true);
      expect(connections - before).toBe(C);
    } finally {
      transport.close();
    }
  });

  it('re-send a request whose idle keep-alive connection the server had closed, never one on a connection reused at once', async () => {
    // A server that, like one whose idle timeout fired as the connection was reused, drops every connection's second
    // request unread.
    let attempts = 0;
    let conns = 0;
    const perSocket = new WeakMap<object, number>();
    const closing = http.createServer((req, res) => {
      attempts++;
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n >= 2) {
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(SSE_OK));
    });
    closing.on('connection', () => conns++);
    await new Promise<void>((r) => closing.listen(0, '127.0.0.1', r));
    const { transport } = await transportFor(
      tempDir(),
      `http://127.0.0.1:${(closing.address() as AddressInfo).port}/v1`,
    );
    const send = (id: string) => transport.send({ id, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 });
    try {
      expect(await send('k-1')).toMatchObject({ ok: true });
      // Reused at once: the server's reset is the server's, recorded as it is.
      expect(await send('k-2')).toMatchObject({
        ok: false,
        errorClass: 'connection_reset',
        errorPhase: 'before_headers',
      });
      expect([attempts, conns]).toEqual([2, 1]);
      expect(await send('k-3')).toMatchObject({ ok: true });
      expect([attempts, conns]).toEqual([3, 2]);
      // Idle for over a second, then dropped unread: sent again on a new connection.
      await new Promise((r) => setTimeout(r, 1200));
      expect(await send('k-4')).toMatchObject({ ok: true, status: 200 });
      expect([attempts, conns]).toEqual([5, 3]);
    } finally {
      transport.close();
      closing.closeAllConnections();
      await new Promise<void>((r) => closing.close(() => r()));
    }
  });
});

describe("the OpenAI account's environment", () => {
  it('sends no OpenAI-Organization or OpenAI-Project header from OPENAI_ORG_ID / OPENAI_PROJECT_ID, on either path', async () => {
    const saved = { org: process.env.OPENAI_ORG_ID, project: process.env.OPENAI_PROJECT_ID };
    process.env.OPENAI_ORG_ID = 'org-from-the-environment';
    process.env.OPENAI_PROJECT_ID = 'proj-from-the-environment';
    try {
      for (const path of ['fast', 'sdk'] as const) {
        const { profile } = await transportFor(tempDir(), `${base}/v1`);
        const transport = createTransport({
          config: transportConfig(profile, `${base}/v1`, 'sk-env-test'),
          clock: systemClock(performance.now()),
          redact: (s) => s,
          path,
        });
        seen.length = 0;
        const rec = await transport.send({
          id: `env-${path}`,
          payload: 0,
          stage: 0,
          phase: 'window',
          worker: 0,
          t0: 0,
        });
        transport.close();
        expect(rec.ok).toBe(true);
        expect(seen).toHaveLength(1);
        expect(seen[0]!.headers['x-team'], path).toBe('capacity');
        expect(
          Object.keys(seen[0]!.headers).filter((h) => h.startsWith('openai-')),
          path,
        ).toEqual([]);
      }
    } finally {
      for (const [k, v] of [
        ['OPENAI_ORG_ID', saved.org],
        ['OPENAI_PROJECT_ID', saved.project],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});
