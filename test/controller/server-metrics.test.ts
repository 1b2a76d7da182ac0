// The /metrics probe and scraper on a fake clock with a scripted fetch: the URL it picks, when credentials go
// out, one scrape at a time, a failure said once, and samples timed on the run clock.
import { describe, expect, it } from 'vitest';
import {
  probeServerMetrics,
  resolveMetricsUrl,
  ServerMetricsScraper,
  startServerMetrics,
} from '../../src/controller/server-metrics.ts';
import type { ServerMetricsSample, ServerMetricsSource } from '../../src/model/server-metrics.ts';
import { makeRedactor } from '../../src/util/secrets.ts';
import { FakeClock } from '../fake-clock.ts';

const BODY = '# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} 3\n';
const URL_ = 'http://127.0.0.1:9/metrics';

interface Call {
  url: string;
  headers: Record<string, string>;
}

/** A fetch that answers from `reply` (a status and body, or a thrown error) and records what it was asked. */
function scripted(reply: (call: Call, n: number) => { status: number; body?: string } | Error) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init?: { headers?: Record<string, string> }) => {
    const call = { url, headers: { ...(init?.headers ?? {}) } };
    calls.push(call);
    const r = reply(call, calls.length);
    if (r instanceof Error) throw r;
    return new Response(r.body ?? '', { status: r.status });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('resolveMetricsUrl', () => {
  it.each([
    [undefined, 'https://llm.example.com:8443/v1', 'https://llm.example.com:8443/metrics'],
    [null, 'http://127.0.0.1:8000/v1?api-version=2024-06-01', 'http://127.0.0.1:8000/metrics'],
    ['http://127.0.0.1:9400/stats', 'http://127.0.0.1:8000/v1', 'http://127.0.0.1:9400/stats'],
    [false, 'http://127.0.0.1:8000/v1', null],
  ] as const)('%j with base %s → %j', (setting, base, want) => {
    expect(resolveMetricsUrl(setting, base)).toBe(want);
  });
});

describe('probeServerMetrics', () => {
  const clock = new FakeClock();
  const redact = makeRedactor(['sk-probe-secret-123']);
  const auth = { authorization: 'Bearer sk-probe-secret-123' };

  it('no credentials when the server does not ask for them', async () => {
    const { fetch, calls } = scripted(() => ({ status: 200, body: BODY }));
    expect(await probeServerMetrics({ url: URL_, authHeaders: auth, clock, redact, fetch })).toEqual({
      ok: true,
      auth: false,
      engine: 'vllm',
    });
    expect(calls.map((c) => c.headers)).toEqual([{}]);
  });

  it('the target credentials after a 401, and only then', async () => {
    const { fetch, calls } = scripted((c) => (c.headers.authorization ? { status: 200, body: BODY } : { status: 401 }));
    expect(await probeServerMetrics({ url: URL_, authHeaders: auth, clock, redact, fetch })).toMatchObject({
      ok: true,
      auth: true,
    });
    expect(calls.map((c) => c.headers)).toEqual([{}, auth]);
  });

  it.each([
    ['a 404', () => ({ status: 404 }), 'answered HTTP 404'],
    [
      'an HTML page',
      () => ({ status: 200, body: '<html><body>hello</body></html>' }),
      'answered without Prometheus metrics',
    ],
    ['a 403 with no credentials to offer', () => ({ status: 403 }), 'answered HTTP 403'],
    [
      'a refused connection',
      () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      'ECONNREFUSED',
    ],
  ])('%s: not ok, and says why', async (_name, reply, detail) => {
    const { fetch } = scripted(reply as () => { status: number });
    const noAuth = _name.includes('no credentials') ? {} : auth;
    expect(await probeServerMetrics({ url: URL_, authHeaders: noAuth, clock, redact, fetch })).toEqual({
      ok: false,
      detail,
    });
  });
});

describe('ServerMetricsScraper', () => {
  it('scrapes at start and every second, one at a time, tagging the stage; stop waits for the one in flight', async () => {
    const clock = new FakeClock(1000);
    let release: (() => void) | null = null;
    const calls: number[] = [];
    const fetch = (async () => {
      calls.push(clock.now());
      // The second scrape hangs for 2.5 s of fake time: the ticks meanwhile must not start another.
      if (calls.length === 2) await new Promise<void>((r) => (release = r));
      return new Response(BODY, { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const samples: ServerMetricsSample[] = [];
    const failures: string[] = [];
    const scraper = new ServerMetricsScraper({
      url: URL_,
      authHeaders: {},
      clock,
      redact: (s) => s,
      fetch,
      auth: false,
      onSample: (s) => samples.push(s),
      onFailure: (d) => failures.push(d),
    });
    scraper.start(7);
    await clock.advance(1000);
    expect(calls).toEqual([1000, 2000]);
    await clock.advance(2500);
    expect(calls).toEqual([1000, 2000]);
    // Released at 4500: the ticks at 3000 and 4000 were skipped, the next scrape is the tick at 5000.
    release!();
    await clock.advance(1000);
    expect(calls).toEqual([1000, 2000, 5000]);
    await scraper.stop();
    const n = calls.length;
    await clock.advance(5000);
    expect(calls).toHaveLength(n);
    expect(samples.every((s) => s.stage === 7 && s.values.num_requests_waiting === 3)).toBe(true);
    expect(samples[0]!.t).toBe(1000);
    expect(scraper.samples).toHaveLength(samples.length);
    expect(failures).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('a failing scrape is left out and said once', async () => {
    const clock = new FakeClock();
    const { fetch } = scripted((_c, n) => (n % 2 === 0 ? { status: 503 } : { status: 200, body: BODY }));
    const failures: string[] = [];
    const samples: ServerMetricsSample[] = [];
    const scraper = new ServerMetricsScraper({
      url: URL_,
      authHeaders: {},
      clock,
      redact: (s) => s,
      fetch,
      auth: false,
      onSample: (s) => samples.push(s),
      onFailure: (d) => failures.push(d),
    });
    scraper.start(0);
    await clock.advance(4000);
    await scraper.stop();
    expect(samples).toHaveLength(3);
    expect(failures).toEqual(['HTTP 503']);
  });
});

describe('startServerMetrics', () => {
  it('opens the file with a redacted source line and says what it scrapes; nothing without a URL', async () => {
    const clock = new FakeClock();
    const { fetch } = scripted(() => ({ status: 200, body: BODY }));
    const opened: ServerMetricsSource[] = [];
    const notices: string[] = [];
    const sink = { openServerMetrics: (s: ServerMetricsSource) => opened.push(s), appendServerMetrics: () => {} };
    const run = await startServerMetrics({
      url: 'http://127.0.0.1:9/metrics?token=abcdef123456',
      apiKey: 'EMPTY',
      headers: {},
      clock,
      redact: (s) => s,
      sink,
      notice: (m) => notices.push(m),
      fetch,
    });
    expect(run?.source).toEqual({
      type: 'source',
      url: 'http://127.0.0.1:9/metrics?token=[REDACTED]',
      engine: 'vllm',
      auth: false,
    });
    expect(opened).toEqual([run!.source]);
    expect(notices).toEqual([
      'server metrics: scraping http://127.0.0.1:9/metrics?token=[REDACTED] every second during each stage (vllm names)',
    ]);
    const none = await startServerMetrics({
      url: null,
      apiKey: 'EMPTY',
      headers: {},
      clock,
      redact: (s) => s,
      sink,
      notice: (m) => notices.push(m),
      fetch,
    });
    expect(none).toBeNull();
    expect(notices).toHaveLength(1);
  });
});
