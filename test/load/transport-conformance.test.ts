// The transport's fast path (node:http fetch, Node-stream body, chunk shapes) against the plain SDK path (the SDK's
// own fetch and web streams): for the same recorded streams, byte for byte and split the same way, both must give
// identical RequestRecords apart from timestamps, and the expected ones; every fault type must be classified the same.
import { transportConfig } from '../../src/controller/transport-config.ts';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/model/record.ts';
import { createTransport, type Transport } from '../../src/load/transport.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { FAULT_TYPES, startSimulator } from '../../src/sim/index.ts';
import { tempDir } from '../helpers.ts';
import { sleep, waitUntil } from '../reliability/helpers.ts';

type Part = string | Buffer | { pauseMs: number } | 'reset';

interface Recorded {
  status?: number;
  headers?: Record<string, string>;
  /** Written one by one, with a short pause between them so that most arrive as separate reads. */
  parts: Part[];
  /** Reset the connection before any response byte. */
  resetBeforeHeaders?: boolean;
  /** Never end the response (the client's timers must). */
  hang?: boolean;
  /** Pause between parts (default 2 ms; 0 = the next turn of the event loop). */
  gapMs?: number;
}

const SSE = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/** One chat.completion.chunk event; `delta` and the rest as JSON text, exactly as some server sent it. */
const ev = (delta: string, finish = 'null', more = '') =>
  `data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1795883397,"model":"m","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}]${more}}\n\n`;
const content = (s: string) => ev(`{"content":${JSON.stringify(s)}}`);
const ROLE = ev('{"role":"assistant","content":""}');
const usage = (completion: number) =>
  `data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1795883397,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":${completion},"total_tokens":${9 + completion}}}\n\n`;
const DONE = 'data: [DONE]\n\n';
const words = (n: number, from = 0) => Array.from({ length: n }, (_, i) => content(` w${from + i}`));
const bytewise = (s: string): Buffer[] => [...Buffer.from(s)].map((b) => Buffer.from([b]));

/** Recorded streams: what each must give, and the bytes. */
const CASES: Record<string, { expect: Partial<RequestRecord>; rec: Recorded }> = {
  plain: {
    expect: {
      ok: true,
      contentChunks: 6,
      outputTokens: 6,
      outputTokensEstimated: false,
      finishReason: 'length',
      promptTokens: 9,
    },
    rec: { headers: SSE, parts: [ROLE, ...words(6), ev('{}', '"length"'), usage(6), DONE] },
  },
  escaped_strings: {
    expect: { ok: true, contentChunks: 8, finishReason: 'stop' },
    rec: {
      headers: SSE,
      parts: [
        ROLE,
        content('Hello'),
        content('line\nbreak'),
        content('"quoted"'),
        content('back\\slash'),
        ev('{"content":"caf\\u00e9 \\ud83c\\udf89"}'),
        content('wörld 🎉'),
        ev('{"content":"a\\/b\\t\\r\\b\\f"}'),
        content(''),
        ev('{"content":"\\""}'),
        ev('{}', '"stop"'),
        DONE,
      ],
    },
  },
  // Multi-byte characters split across reads, and every event boundary too.
  one_byte_per_write: {
    expect: { ok: true, contentChunks: 3, finishReason: 'stop' },
    rec: {
      headers: SSE,
      gapMs: 0,
      parts: bytewise(content('é🎉') + content('ü') + content(' x') + ev('{}', '"stop"') + DONE),
    },
  },
  reasoning_content_first: {
    expect: { ok: true, contentChunks: 5, finishReason: 'stop' },
    rec: {
      headers: SSE,
      parts: [
        ROLE,
        ev('{"reasoning_content":"Let"}'),
        ev('{"reasoning_content":" me","content":null}'),
        ev('{"reasoning_content":" think","content":""}'),
        content('The'),
        content(' answer'),
        ev('{}', '"stop"'),
        DONE,
      ],
    },
  },
  reasoning_field_after_content: {
    expect: { ok: true, contentChunks: 4, finishReason: 'stop' },
    rec: {
      headers: SSE,
      parts: [
        ROLE,
        content('a'),
        content('b'),
        ev('{"content":"","reasoning":"hm"}'),
        ev('{"content":"","reasoning":""}'),
        content('c'),
        ev('{}', '"stop"'),
        DONE,
      ],
    },
  },
  finish_reason_with_last_content: {
    expect: { ok: true, contentChunks: 3, finishReason: 'stop' },
    rec: { headers: SSE, parts: [ROLE, content('a'), content('b'), ev('{"content":"c"}', '"stop"'), DONE] },
  },
  usage_null_in_every_chunk: {
    expect: { ok: true, contentChunks: 3, outputTokens: 3, outputTokensEstimated: false },
    rec: {
      headers: SSE,
      parts: [
        ev('{"role":"assistant"}', 'null', ',"usage":null'),
        ev('{"content":"a"}', 'null', ',"usage":null'),
        ev('{"content":"b"}', 'null', ',"usage":null'),
        ev('{"content":"c"}', 'null', ',"usage":null'),
        ev('{}', '"stop"', ',"usage":{"prompt_tokens":2,"completion_tokens":3}'),
        DONE,
      ],
    },
  },
  crlf_comments_multiline_data: {
    expect: { ok: true, contentChunks: 3, finishReason: 'stop' },
    rec: {
      headers: SSE,
      parts: [
        ': ping\r\n\r\n',
        'event: message\r\nid: 1\r\n' + content('a').replace(/\n/g, '\r\n'),
        'data: {"choices":[{"delta":\ndata: {"content":"b"}}]}\n\n',
        content('c'),
        'retry: 100\n\n',
        ev('{}', '"stop"'),
        DONE,
      ],
    },
  },
  done_without_blank_line_at_eof: {
    expect: { ok: true, contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), ev('{"content":"b"}', '"stop"'), 'data: [DONE]'] },
  },
  finish_reason_then_clean_end: {
    expect: { ok: true, contentChunks: 2, finishReason: 'length' },
    rec: { headers: SSE, parts: [content('a'), content('b'), ev('{}', '"length"')] },
  },
  duplicate_content_key: {
    expect: { ok: true, contentChunks: 2 },
    rec: {
      headers: SSE,
      parts: [
        ev('{"content":"x","content":"y"}'),
        ev('{"content":"x","content":""}'),
        ev('{"content":"","content":"z"}'),
        ev('{}', '"stop"'),
        DONE,
      ],
    },
  },
  error_event: {
    expect: { ok: false, errorClass: 'stream_error_event', contentChunks: 2 },
    rec: {
      headers: SSE,
      parts: [
        content('a'),
        content('b'),
        'data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n',
        content('c'),
        DONE,
      ],
    },
  },
  malformed_event: {
    expect: { ok: false, errorClass: 'malformed_chunk', contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), content('b'), 'data: {not json\n\n', content('c'), DONE] },
  },
  // Same shape as the learned chunks, broken only near the end or inside the content string.
  malformed_like_a_chunk: {
    expect: { ok: false, errorClass: 'malformed_chunk', contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), content('b'), content('c').replace(']}\n\n', ']\n\n'), DONE] },
  },
  raw_quote_in_content: {
    expect: { ok: false, errorClass: 'malformed_chunk', contentChunks: 1 },
    rec: { headers: SSE, parts: [content('a'), content('b').replace('" b"', '" b"c"').replace('"b"', '"b"c"'), DONE] },
  },
  bad_escape_in_content: {
    expect: { ok: false, errorClass: 'malformed_chunk', contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), content('b'), ev('{"content":"bad \\x escape"}'), DONE] },
  },
  raw_tab_in_content: {
    expect: { ok: false, errorClass: 'malformed_chunk', contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), content('b'), ev('{"content":"tab\there"}'), DONE] },
  },
  truncated: {
    expect: { ok: false, errorClass: 'stream_truncated', contentChunks: 3 },
    rec: { headers: SSE, parts: [ROLE, ...words(3)] },
  },
  empty_completion: {
    expect: { ok: false, errorClass: 'empty_response', contentChunks: 0, outputTokens: 0 },
    rec: { headers: SSE, parts: [ROLE, ev('{}', '"stop"'), usage(0), DONE] },
  },
  empty_body: {
    expect: { ok: false, errorClass: 'stream_truncated', status: 200, contentChunks: 0 },
    rec: { headers: SSE, parts: [] },
  },
  status_204: { expect: { ok: false, errorClass: 'empty_response', status: 204 }, rec: { status: 204, parts: [] } },
  gzip_encoded: {
    expect: { ok: true, contentChunks: 4, finishReason: 'stop' },
    rec: {
      headers: { ...SSE, 'content-encoding': 'gzip' },
      parts: [gzipSync(ROLE + words(4).join('') + ev('{}', '"stop"') + DONE)],
    },
  },
  http_429: {
    expect: { ok: false, errorClass: 'http_429', status: 429, retryAfterS: 3 },
    rec: {
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '3' },
      parts: ['{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}'],
    },
  },
  http_500_text: {
    expect: { ok: false, errorClass: 'http_5xx', status: 500 },
    rec: { status: 500, headers: { 'content-type': 'text/plain' }, parts: ['upstream failed'] },
  },
  http_400: {
    expect: { ok: false, errorClass: 'http_4xx', status: 400 },
    rec: {
      status: 400,
      headers: { 'content-type': 'application/json' },
      parts: ['{"error":{"message":"bad model","type":"invalid_request_error","param":"model","code":null}}'],
    },
  },
  reset_before_headers: {
    expect: { ok: false, errorClass: 'connection_reset', errorPhase: 'before_headers', status: null },
    rec: { resetBeforeHeaders: true, parts: [] },
  },
  reset_mid_stream: {
    expect: { ok: false, errorClass: 'connection_reset', errorPhase: 'mid_stream', contentChunks: 2 },
    rec: { headers: SSE, parts: [ROLE, content('a'), content('b'), { pauseMs: 20 }, 'reset'] },
  },
  stall_after_headers: {
    expect: { ok: false, errorClass: 'timeout_first_token', errorPhase: 'before_first_token' },
    rec: { headers: SSE, parts: [ROLE], hang: true },
  },
  stall_mid_stream: {
    expect: { ok: false, errorClass: 'timeout_idle', errorPhase: 'mid_stream', contentChunks: 2 },
    rec: { headers: SSE, parts: [content('a'), content('b')], hang: true },
  },
};

/** Non-streaming responses (stream: false), read through the same two paths. */
const JSON_CASES: Record<string, { expect: Partial<RequestRecord>; rec: Recorded }> = {
  completion: {
    expect: { ok: true, outputTokens: 5, finishReason: 'stop', promptTokens: 4 },
    rec: {
      headers: { 'content-type': 'application/json' },
      parts: [
        '{"choices":[{"message":{"role":"assistant","content":"hi é"},"finish_reason":"stop"}],',
        '"usage":{"prompt_tokens":4,"completion_tokens":5}}',
      ],
    },
  },
  error_object: {
    expect: { ok: false, errorClass: 'stream_error_event' },
    rec: { headers: { 'content-type': 'application/json' }, parts: ['{"error":{"message":"overloaded"}}'] },
  },
  not_json: {
    expect: { ok: false, errorClass: 'malformed_chunk' },
    rec: { headers: { 'content-type': 'application/json' }, parts: ['{not json'] },
  },
  reset_mid_body: {
    expect: { ok: false, errorClass: 'connection_reset' },
    rec: { headers: { 'content-type': 'application/json' }, parts: ['{"choices":[', { pauseMs: 20 }, 'reset'] },
  },
};

/**
 * Serves recorded responses; the x-request-id header names the case (`<case>#<n>`). `hung()` counts the responses
 * that have written all their parts and hang.
 */
function startRecordedServer(
  cases: Record<string, { rec: Recorded }>,
): Promise<{ url: string; hung(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let hung = 0;
  const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const name = String(req.headers['x-request-id'] ?? '').split('#')[0]!;
      const c = cases[name]?.rec;
      if (!c) {
        res.writeHead(404).end();
        return;
      }
      if (c.resetBeforeHeaders) {
        req.socket.resetAndDestroy();
        return;
      }
      res.writeHead(c.status ?? 200, c.headers ?? {});
      res.flushHeaders();
      void (async () => {
        for (const p of c.parts) {
          const pause = typeof p === 'object' && 'pauseMs' in p ? p.pauseMs : (c.gapMs ?? 2);
          await new Promise((r) => (pause === 0 ? setImmediate(r) : setTimeout(r, pause)));
          if (p === 'reset') {
            res.socket?.resetAndDestroy();
            return;
          }
          if (typeof p === 'string' || Buffer.isBuffer(p)) res.write(p);
        }
        if (c.hang) hung++;
        else res.end();
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        hung: () => hung,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

const TIMESTAMPS = [
  't0',
  'headersAt',
  'firstContentAt',
  'lastContentAt',
  'firstReasoningAt',
  'firstOutputAt',
  'end',
] as const;

/** A record without its timestamps: which ones are set, and how many gaps, stay. */
function untimed(r: RequestRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { ...r, gapsMs: r.gapsMs.length };
  for (const k of TIMESTAMPS) out[k] = r[k] === null ? null : 'set';
  return out;
}

async function transports(
  baseUrl: string,
  stream: boolean,
  dir: string,
  timeouts = '{first_token: 400ms, idle: 300ms, total: 5s}',
): Promise<Record<'fast' | 'sdk', Transport> & { now: () => number }> {
  const text = `target: {base_url: "${baseUrl}", model: m}
request:
  messages: [{role: user, content: hi}]
  max_tokens: 8
  stream: ${stream}
  timeouts: ${timeouts}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
  const { profile } = await loadProfile(join(dir, `p-${stream}.yaml`), { text, env: {} });
  const origin = performance.now();
  const now = () => performance.now() - origin;
  const clock = systemClock(origin);
  const redact = (s: string) => s;
  return {
    now,
    fast: createTransport({ config: transportConfig(profile, baseUrl, 'EMPTY'), clock, redact, path: 'fast' }),
    sdk: createTransport({ config: transportConfig(profile, baseUrl, 'EMPTY'), clock, redact, path: 'sdk' }),
  };
}

describe('transport conformance: fast path = plain SDK path', () => {
  let server: Awaited<ReturnType<typeof startRecordedServer>>;
  const dir = tempDir('fc-conf-');
  beforeAll(async () => {
    server = await startRecordedServer({
      ...CASES,
      ...Object.fromEntries(Object.entries(JSON_CASES).map(([k, v]) => [`json_${k}`, v])),
    });
  });
  afterAll(async () => {
    await server.close();
  });

  for (const [stream, cases] of [
    [true, CASES],
    [false, JSON_CASES],
  ] as const) {
    it(`${stream ? 'streams' : 'non-streaming responses'}: identical records apart from timestamps, each as expected`, async () => {
      const t = await transports(server.url, stream, dir);
      try {
        for (const [name, c] of Object.entries(cases)) {
          const id = `${stream ? '' : 'json_'}${name}#1`;
          const recs: Partial<Record<'fast' | 'sdk', RequestRecord>> = {};
          // Both paths at once: the same bytes, the same pauses.
          await Promise.all(
            (['fast', 'sdk'] as const).map(async (path) => {
              recs[path] = await t[path].send({ id, stage: 0, phase: 'window', worker: 0, payload: 0, t0: t.now() });
            }),
          );
          expect(untimed(recs.fast!), name).toEqual(untimed(recs.sdk!));
          expect(recs.fast, name).toMatchObject(c.expect);
          expect(recs.fast!.gapsMs.length, name).toBe(Math.max(0, recs.fast!.contentChunks - 1));
        }
        expect(t.fast.inFlight()).toBe(0);
        expect(t.sdk.inFlight()).toBe(0);
      } finally {
        t.fast.close();
        t.sdk.close();
      }
    });
  }

  it('abortAll ends requests in flight the same way on both paths', async () => {
    // Timers that cannot fire first however slow the machine; the abort comes once both streams have sent their parts.
    const t = await transports(server.url, true, dir, '{first_token: 60s, idle: 60s, total: 60s}');
    try {
      const hungBefore = server.hung();
      const pending = (['fast', 'sdk'] as const).map((path) =>
        t[path].send({ id: 'stall_mid_stream#2', stage: 0, phase: 'window', worker: 0, payload: 0, t0: t.now() }),
      );
      expect(await waitUntil(() => server.hung() === hungBefore + 2, 30_000, 10), 'both streams sent').toBe(true);
      await sleep(500);
      t.fast.abortAll('aborted', 'stage drain limit');
      t.sdk.abortAll('aborted', 'stage drain limit');
      const [fast, sdk] = await Promise.all(pending);
      expect(untimed(fast!)).toEqual(untimed(sdk!));
      expect(fast).toMatchObject({ ok: false, errorClass: 'aborted', errorPhase: 'mid_stream', contentChunks: 2 });
    } finally {
      t.fast.close();
      t.sdk.close();
    }
  });

  it('a refused connection is classified the same on both paths', async () => {
    const closed = await startRecordedServer({});
    const url = closed.url;
    await closed.close();
    const t = await transports(url, true, dir);
    try {
      const [fast, sdk] = await Promise.all(
        (['fast', 'sdk'] as const).map((path) =>
          t[path].send({ id: 'x', stage: 0, phase: 'window', worker: 0, payload: 0, t0: t.now() }),
        ),
      );
      expect(untimed(fast!)).toEqual(untimed(sdk!));
      expect(fast).toMatchObject({ ok: false, errorClass: 'connection_refused' });
    } finally {
      t.fast.close();
      t.sdk.close();
    }
  });
});

describe('transport conformance: simulator faults', () => {
  it('every fault type, in the same seeded order, gets the same record (apart from timestamps) on both paths', async () => {
    const dir = tempDir('fc-conf-sim-');
    const faults = Object.fromEntries(FAULT_TYPES.map((f) => [f, 0.08]));
    const records: Record<string, RequestRecord[]> = {};
    for (const path of ['fast', 'sdk'] as const) {
      // A fresh simulator per path with the same seed: the n-th request gets the same fault on both.
      const sim = await startSimulator({
        preset: 'tiny',
        overrides: { ...faults, seed: 5, slots: 4, step_base_ms: 2, step_per_seq_ms: 0, jitter: 0 },
      });
      try {
        const t = await transports(sim.baseUrl, true, dir);
        try {
          const recs: RequestRecord[] = [];
          for (let i = 0; i < 80; i++)
            recs.push(
              await t[path].send({ id: `f${i}`, stage: 0, phase: 'window', worker: 0, payload: 0, t0: t.now() }),
            );
          records[path] = recs;
        } finally {
          t.fast.close();
          t.sdk.close();
        }
      } finally {
        await sim.stop();
      }
    }
    const classes = new Set<string | null>();
    for (let i = 0; i < 80; i++) {
      const fast = records.fast![i]!;
      const sdk = records.sdk![i]!;
      // Where a reset or a stall cuts a stream, how much of it was read depends on timing; the rest must agree.
      const cut = fast.errorClass === 'connection_reset' || fast.errorClass?.startsWith('timeout');
      const a = untimed(fast);
      const b = untimed(sdk);
      if (cut)
        for (const k of ['contentChunks', 'gapsMs', 'outputTokens', 'firstContentAt', 'lastContentAt'] as const) {
          delete a[k];
          delete b[k];
        }
      expect(
        a,
        `request ${i}: ${records
          .fast!.slice(Math.max(0, i - 3), i + 1)
          .map((r) => r.errorClass)
          .join(', ')}`,
      ).toEqual(b);
      classes.add(fast.errorClass);
    }
    expect(classes.size).toBeGreaterThanOrEqual(8);
  });
});
