// Bodies built per request (synthetic prompts, conversation turns) and the completions endpoint, on both transport
// paths: the server receives the same bytes the SDK would send, the records agree, and the answer (content only,
// never reasoning) is handed back only when asked for and only for a successful request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, type Transport, type TransportConfig } from '../../src/load/transport.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { systemClock } from '../../src/util/clock.ts';

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: string;
}

const seen: Seen[] = [];
let server: http.Server;
let base = '';

const chunk = (delta: object) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
const text = (t: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 't', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: t, logprobs: null, finish_reason: finish }] })}\n\n`;
const USAGE = `data: {"id":"c","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":2}}}\n\n`;

function reply(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const o = JSON.parse(body) as { stream?: boolean; messages?: { content: string }[] };
  if (o.messages?.some((m) => m.content === 'fail')) {
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
    return;
  }
  if (req.url!.includes('/completions') && !req.url!.includes('/chat/')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(text('Once') + text(' upon') + text('', 'length') + USAGE + 'data: [DONE]\n\n');
    return;
  }
  if (o.stream === false) {
    const message = { role: 'assistant', reasoning_content: 'hmm', content: 'The answer.' };
    const usage = { prompt_tokens: 4, completion_tokens: 5 };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        choices: [{ index: 0, message, finish_reason: 'stop' }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const parts = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning_content: 'Let me' }),
    chunk({ reasoning_content: ' think.' }),
    chunk({ content: 'The' }),
    chunk({ content: ' answer.' }),
  ];
  res.end(
    parts.join('') +
      `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n` +
      USAGE +
      'data: [DONE]\n\n',
  );
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (s: string) => (body += s));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      seen.push({ url: req.url ?? '', headers, body });
      reply(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const config = (o: { stream: boolean; endpoint?: 'chat' | 'completions' }): TransportConfig => ({
  baseUrl: base,
  apiKey: 'sk-own-body',
  headers: {},
  endpoint: o.endpoint ?? 'chat',
  body: {
    base: {
      model: 'm',
      stream: o.stream,
      max_tokens: 5,
      ...(o.stream ? { stream_options: { include_usage: true } } : {}),
    },
    payloads: [],
  },
  stream: o.stream,
  timeouts: { firstTokenMs: 2000, idleMs: 2000, totalMs: 5000 },
});

const transports = (c: TransportConfig): Record<'fast' | 'sdk', Transport> => {
  const clock = systemClock();
  return {
    fast: createTransport({ config: c, clock, redact: (s) => s, path: 'fast' }),
    sdk: createTransport({ config: c, clock, redact: (s) => s, path: 'sdk' }),
  };
};

const TIMES = [
  't0',
  'headersAt',
  'firstContentAt',
  'lastContentAt',
  'firstReasoningAt',
  'firstOutputAt',
  'end',
] as const;
const untimed = (r: RequestRecord) => {
  const out: Record<string, unknown> = { ...r, id: null, gapsMs: r.gapsMs.length };
  for (const k of TIMES) out[k] = r[k] == null ? null : 'set';
  return out;
};
const planned = (id: string, payload = 3, turn = 2) => ({
  id,
  stage: 0,
  phase: 'window' as const,
  worker: 0,
  payload,
  turn,
  t0: 0,
});

describe('bodies built per request', () => {
  for (const stream of [true, false]) {
    it(`${stream ? 'streaming' : 'non-streaming'}: the same bytes and records on both paths; the answer without the reasoning`, async () => {
      const t = transports(config({ stream }));
      try {
        const results: Record<string, { rec: RequestRecord; answer: string | null; seen: Seen }> = {};
        for (const path of ['fast', 'sdk'] as const) {
          for (const [i, content] of ['first — ünïcode "q"', 'second, longer\nwith a newline'].entries()) {
            seen.length = 0;
            let answer: string | null = null;
            const fields = { messages: [{ role: 'user', content }], max_tokens: 3 + i };
            const rec = await t[path].send(planned(`${path}-${i}`), { fields, onAnswer: (a) => (answer = a) });
            results[`${path}-${i}`] = { rec, answer, seen: seen[0]! };
            expect(JSON.parse(seen[0]!.body)).toEqual({ ...config({ stream }).body.base, ...fields });
            expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(seen[0]!.body)));
            expect(seen[0]!.headers['x-request-id']).toBe(`${path}-${i}`);
            expect(rec).toMatchObject({ ok: true, turn: 2, payload: 3, requestedOutputTokens: 3 + i, promptTokens: 4 });
            expect(answer).toBe('The answer.');
          }
        }
        for (const i of [0, 1]) {
          const fast = results[`fast-${i}`]!;
          const sdk = results[`sdk-${i}`]!;
          expect(fast.seen.body).toBe(sdk.seen.body);
          expect(fast.seen.url).toBe(sdk.seen.url);
          expect(untimed(fast.rec)).toEqual(untimed(sdk.rec));
        }
        if (stream) expect(results['fast-0']!.rec).toMatchObject({ reasoningTokens: 2, contentChunks: 4 });
      } finally {
        t.fast.close();
        t.sdk.close();
      }
    });
  }

  it('a failed request hands back no answer; without onAnswer none is kept', async () => {
    const t = transports(config({ stream: true }));
    try {
      for (const path of ['fast', 'sdk'] as const) {
        let called = false;
        const fields = { messages: [{ role: 'user', content: 'fail' }] };
        const rec = await t[path].send(planned(`${path}-fail`), { fields, onAnswer: () => (called = true) });
        expect(rec).toMatchObject({ ok: false, errorClass: 'http_5xx' });
        expect(called).toBe(false);
        const plain = await t[path].send(planned(`${path}-plain`), {
          fields: { messages: [{ role: 'user', content: 'hi' }] },
        });
        expect(plain.ok).toBe(true);
      }
    } finally {
      t.fast.close();
      t.sdk.close();
    }
  });

  it('the completions endpoint: /v1/completions with prompt, TTFT at the first text, on both paths', async () => {
    const c = config({ stream: true, endpoint: 'completions' });
    c.body.payloads = [{ prompt: 'Once upon a time' }];
    const t = transports(c);
    try {
      const recs: RequestRecord[] = [];
      for (const path of ['fast', 'sdk'] as const) {
        seen.length = 0;
        const rec = await t[path].send(planned(`${path}-c`, 0, 1));
        expect(seen[0]!.url).toBe('/v1/completions');
        expect(JSON.parse(seen[0]!.body)).toMatchObject({ prompt: 'Once upon a time', max_tokens: 5 });
        expect(rec).toMatchObject({ ok: true, contentChunks: 2, outputTokens: 5, requestedOutputTokens: 5 });
        expect(rec.firstOutputAt).toBe(rec.firstContentAt);
        recs.push(rec);
      }
      expect(untimed(recs[0]!)).toEqual(untimed(recs[1]!));
    } finally {
      t.fast.close();
      t.sdk.close();
    }
  });
});
