// The target misbehaving as a whole: dying in the middle of a run, and rate-limiting the load.
// The run must judge the affected stage with its errors, stop, keep its files readable and say why.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { startSimulator } from '../../src/sim/index.ts';
import { runCli, tempDir, writeProfile } from '../helpers.ts';
import { onlyRunDir, readGroundTruth, readJsonlStrict, sleep, startCli, type Rec } from './helpers.ts';

const FAST =
  'verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}';

function profileFor(baseUrl: string, o: { concurrency: string; tokens: number; extra?: string; slo?: string }): string {
  return `name: down
target: {base_url: "${baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: hi}]
  max_tokens: ${o.tokens}
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp:
  concurrency: ${o.concurrency}
  warmup: 300ms
  stage: {duration: 1500ms}
  drain: 5s
slo: [${o.slo ?? '"success_rate >= 90%"'}]
${FAST}
${o.extra ?? ''}
`;
}

// Concurrent: the tests are separate runs whose checks do not depend on measured latency (lax health, lax SLOs).
describe.concurrent('target down mid-run', () => {
  it('the dying stage is judged with its connection errors, the run stops, summary.json is written', async () => {
    const dir = tempDir('fc-down-');
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      overrides: { slots: 8, step_base_ms: 10, step_per_seq_ms: 0, jitter: 0 },
    });
    const file = writeProfile(dir, 'p.yaml', profileFor(sim.baseUrl, { concurrency: '[2, 4, 6, 8]', tokens: 20 }));
    const out = join(dir, 'out');
    const cli = startCli([file, '--out', out]);
    try {
      await cli.waitFor(/stage 1: concurrency 4 \(ramp\)/);
      await sleep(900); // well inside stage 1's window
    } finally {
      await sim.stop();
    }
    const r = await cli.done;
    expect(r.stderr).not.toMatch(/internal error/);
    const runDir = onlyRunDir(out);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/i);
    // The breaker stops the stage; its failures are refused connections, so the run says the target went away.
    expect(summary.capacity.stop_reason).toBe('target_unreachable');
    expect(summary.capacity.concurrency).toBe(2);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`Stopped: ${summary.capacity.stop_reason}`);
    expect(summary.stages.map((s: { concurrency: number }) => s.concurrency)).toEqual([2, 4]);
    expect(summary.stages[0].verdict).toBe('PASS');
    const dying = summary.stages[1];
    expect(dying.verdict).toBe('FAIL');
    expect(dying.failed).toBeGreaterThan(0);
    const connectionErrors = (dying.errors.connection_refused ?? 0) + (dying.errors.connection_reset ?? 0);
    expect(connectionErrors).toBeGreaterThan(0);
    expect(dying.ok).toBeGreaterThan(0); // what it measured before the target died is kept

    const { rows, tornLast } = readJsonlStrict<Rec>(join(runDir, 'requests.jsonl'));
    expect(tornLast).toBe(false);
    // The breaker bounds how long a dead target is hammered.
    expect(rows.filter((x) => x.errorClass === 'connection_refused').length).toBeLessThan(1000);
    for (const x of rows.filter((x) => x.errorClass === 'connection_refused')) expect(x.headersAt).toBeNull();
  });
});

describe.concurrent('rate limiting (429)', () => {
  it('a stage dominated by 429s stops the run as rate_limited; every 429 is recorded with Retry-After and none is retried', async () => {
    const dir = tempDir('fc-429-');
    const gtPath = join(dir, 'gt.jsonl');
    // Two slots and no queue: beyond 2 concurrent requests the endpoint answers 429 at once, like a rate limiter.
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      groundTruthPath: gtPath,
      overrides: { slots: 2, queue_limit: 0, step_base_ms: 10, step_per_seq_ms: 0, jitter: 0, retry_after_s: 3 },
    });
    // max_error_rate 100 %: the stage runs its course, so the decision rests on the judged stage (see the next test).
    const file = writeProfile(
      dir,
      'p.yaml',
      profileFor(sim.baseUrl, { concurrency: '[2, 4]', tokens: 10, extra: 'stop: {max_error_rate: 100%}' }),
    );
    const out = join(dir, 'out');
    let r;
    try {
      r = await runCli([file, '--out', out]);
    } finally {
      await sim.stop();
    }
    expect(r.stderr).not.toMatch(/internal error/);
    const runDir = onlyRunDir(out);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.capacity.stop_reason).toBe('rate_limited');
    expect(summary.capacity.stop_detail).toMatch(/rate limit/);
    expect(summary.capacity.concurrency).toBe(2);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Stopped: rate_limited/);
    const limited = summary.stages.find((s: { concurrency: number }) => s.concurrency === 4);
    expect(limited.errors.http_429).toBeGreaterThan(limited.failed / 2);
    expect(limited.retry_after_s).toEqual({ count: expect.any(Number), max: 3 });

    const { rows } = readJsonlStrict<Rec>(join(runDir, 'requests.jsonl'));
    const gt = readGroundTruth(gtPath);
    // Never retried: the server saw exactly one request per record, each under its own id.
    expect(gt.size).toBe(rows.length);
    expect(new Set(rows.map((x) => x.id)).size).toBe(rows.length);
    const rejected = [...gt.values()].filter((g) => g.status === 429);
    const recorded429 = rows.filter((x) => x.errorClass === 'http_429');
    expect(recorded429.length).toBe(rejected.length);
    expect(recorded429.length).toBeGreaterThan(0);
    for (const x of recorded429) {
      expect(x.status).toBe(429);
      expect(x.retryAfterS).toBe(3);
      expect(gt.get(x.id)?.status).toBe(429);
    }
  });

  // With the default breaker (50 %), the same rate limit trips max_error_rate at concurrency 4 (in-process run).
  let breakerRun: Promise<{
    capacity: { stopReason: string };
    summary: { stages: { stopped_by: string | null; errors: Record<string, number>; failed: number }[] };
  }> | null = null;
  const runWithBreaker = () =>
    (breakerRun ??= (async () => {
      const dir = tempDir('fc-429b-');
      const sim = await startSimulator({
        preset: 'tiny',
        mode: 'process',
        overrides: { slots: 2, queue_limit: 0, step_base_ms: 10, step_per_seq_ms: 0, jitter: 0 },
      });
      try {
        const { profile } = await loadProfile(join(dir, 'p.yaml'), {
          text: profileFor(sim.baseUrl, { concurrency: '[2, 4]', tokens: 10 }),
          env: {},
        });
        const result = await runCapacitySearch({ profile, env: {}, outDir: join(dir, 'out') });
        return {
          capacity: result.capacity,
          summary: JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8')),
        };
      } finally {
        await sim.stop();
      }
    })());

  it('429s trip the error-rate breaker: the stage stops early, its failures are 429s', async () => {
    const { summary, capacity } = await runWithBreaker();
    const last = summary.stages.at(-1)!;
    expect(last.stopped_by).toBe('breaker');
    expect(last.errors.http_429).toBeGreaterThan(last.failed / 2);
    expect(capacity.stopReason).toBe('rate_limited');
  });

  // When 429s trip the max_error_rate breaker, the stop reason still names the rate limit, not an error storm.
  it('... and the run still stops as rate_limited', async () => {
    const { capacity } = await runWithBreaker();
    expect(capacity.stopReason).toBe('rate_limited');
  });
});
