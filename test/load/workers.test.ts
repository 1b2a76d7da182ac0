// `workers`: the stage runner on worker threads, merged by the controller. One clock (checked against the
// simulator's ground truth), one window, unique ids, the stage's slots split without gaps, a request limit and a
// breaker that hold across threads, and a whole run whose summary is exactly what its records give.
import { transportConfig } from '../../src/controller/transport-config.ts';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { readJsonl } from '../../src/io/jsonl.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { shares } from '../../src/load/closed-loop.ts';
import { unlimitedBudget, type RunBudget, type StageHooks } from '../../src/load/executor.ts';
import { startWorkerPool, type WorkerPool } from '../../src/load/worker-pool.ts';
import type { StagePlan } from '../../src/model/stage.ts';
import { systemClock } from '../../src/util/clock.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { Profile } from '../../src/profile/types.ts';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { startSimulator } from '../../src/sim/index.ts';
import { summarizeStage } from '../../src/stats/summarize.ts';
import { readGroundTruth } from '../reliability/helpers.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';

describe('shares', () => {
  it.each([
    [10, 1, [10]],
    [10, 2, [5, 5]],
    [11, 3, [4, 4, 3]],
    [2, 4, [1, 1, 0, 0]],
    [1000, 7, [143, 143, 143, 143, 143, 143, 142]],
  ])('%i slots on %i threads: %j, contiguous from 0', (c, w, counts) => {
    const s = shares(c, w);
    expect(s.map((x) => x.count)).toEqual(counts);
    let offset = 0;
    for (const x of s) {
      expect(x.offset).toBe(offset);
      offset += x.count;
    }
    expect(offset).toBe(c);
  });
});

/** Numbers to 9 significant digits, recursively. */
/**
 * `actual` equals `expected` apart from the last bits of float sums (relative 1e-9): rounding both to 9 digits was
 * not that, since two values a few ulps apart can round to either side of a digit.
 */
function expectSameUpToFloatSums(actual: unknown, expected: unknown, path = 'summary'): void {
  if (typeof expected === 'number' && typeof actual === 'number' && Number.isFinite(expected)) {
    const scale = Math.max(1, Math.abs(expected), Math.abs(actual));
    expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(1e-9 * scale);
  } else if (expected && typeof expected === 'object' && actual && typeof actual === 'object') {
    expect(Object.keys(actual), path).toEqual(Object.keys(expected));
    for (const [k, v] of Object.entries(expected))
      expectSameUpToFloatSums((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else expect(actual, path).toEqual(expected);
}

async function profileFor(baseUrl: string, dir: string, extra = ''): Promise<Profile> {
  const text = `target: {base_url: "${baseUrl}", model: m}
request:
  messages: [{role: user, content: hi}]
  max_tokens: 10
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp: {concurrency: [6]}
slo: ["p99(ttft) < 1s"]
${extra}`;
  return (await loadProfile(join(dir, 'p.yaml'), { text, env: {} })).profile;
}

const plan = (index: number, concurrency: number, over: Partial<StagePlan> = {}): StagePlan => ({
  index,
  load: { kind: 'closed', concurrency },
  warmupMs: 300,
  durationMs: 1200,
  requestLimit: null,
  drainMs: 5000,
  ...over,
});

function stageHooks(over: Partial<StageHooks> = {}): StageHooks & { records: RequestRecord[] } {
  const records: RequestRecord[] = [];
  return { onRecord: (r) => records.push(r), maxErrorRate: 1, budget: unlimitedBudget(), records, ...over };
}

/** A run-wide request budget of `max` requests. */
function requestBudget(max: number): RunBudget {
  let sent = 0;
  return {
    remainingRequests: () => Math.max(0, max - sent),
    deadlineMs: Number.POSITIVE_INFINITY,
    countSent: (n) => void (sent += n),
    exceeded: () => sent >= max,
  };
}

describe('worker pool', () => {
  it('runs a stage on two threads: one clock, one window, unique ids, every slot, records streamed and merged', async () => {
    const dir = tempDir('fc-workers-');
    const gtPath = join(dir, 'gt.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      groundTruthPath: gtPath,
      overrides: { slots: 64, step_base_ms: 10, step_per_seq_ms: 0, jitter: 0 },
    });
    const origin = performance.now();
    const originEpochMs = performance.timeOrigin + origin;
    const now = () => performance.now() - origin;
    let pool: WorkerPool | null = null;
    try {
      pool = await startWorkerPool({
        workers: 2,
        clock: systemClock(origin),
        idPrefix: 'wt',
        transport: transportConfig(await profileFor(sim.baseUrl, dir), sim.baseUrl, 'EMPTY'),
        seed: 1,
        secrets: [],
        originEpochMs,
        path: 'fast',
      });
      const budget = unlimitedBudget();
      const o = stageHooks({ budget });
      const t0 = now();
      const res = await pool.runStage(plan(3, 6), o);
      expect(res.records).toEqual(o.records);
      expect(res.records.length).toBeGreaterThan(20);
      expect(budget.sent).toBe(res.records.length);
      expect(new Set(res.records.map((r) => r.id)).size).toBe(res.records.length);
      expect(new Set(res.records.map((r) => r.id.replace(/-.*/, '')))).toEqual(new Set(['wtw0', 'wtw1']));
      expect(new Set(res.records.map((r) => r.worker))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
      expect(res.records.every((r) => r.stage === 3 && r.ok)).toBe(true);
      expect(res.window.concurrency).toBe(6);
      expect(res.window.startMs).toBeGreaterThanOrEqual(t0 + 300);
      expect(res.window.startMs).toBeLessThan(t0 + 300 + 50);
      expect(res.window.endMs - res.window.startMs).toBeCloseTo(1200, 0);
      for (const r of res.records) expect(r.phase).toBe(r.t0 < res.window.startMs ? 'warmup' : 'window');
      expect(res.stoppedBy).toBeNull();
      expect(res.health.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
      // Both threads' timestamps are on this thread's clock: the server saw every request between the client's t0
      // and its first token (the ground truth is in epoch ms; 1 ms allows for the two clocks' epoch mappings).
      await sim.stop();
      const gt = readGroundTruth(gtPath);
      for (const r of res.records) {
        const g = gt.get(r.id)!;
        expect(g, r.id).toBeDefined();
        expect(originEpochMs + r.t0, r.id).toBeLessThanOrEqual(g.arrival_ms + 1);
        expect(originEpochMs + r.firstContentAt!, r.id).toBeGreaterThanOrEqual(g.first_token_ms! - 1);
      }
      // The merged records give the same summary in any order (up to the last bits of float sums): nothing depends
      // on how the threads' batches interleaved.
      const shuffled = [...res.records].reverse();
      expectSameUpToFloatSums(summarizeStage(shuffled, res.window), summarizeStage(res.records, res.window));
    } finally {
      await pool?.close();
      await sim.stop();
    }
  });

  it('a request limit and the breaker hold across threads', async () => {
    const dir = tempDir('fc-workers-');
    const sim = await startSimulator({
      preset: 'tiny',
      overrides: { slots: 64, step_base_ms: 5, step_per_seq_ms: 0, jitter: 0 },
    });
    const origin = performance.now();
    let pool: WorkerPool | null = null;
    try {
      pool = await startWorkerPool({
        workers: 3,
        clock: systemClock(origin),
        idPrefix: 'wt',
        transport: transportConfig(await profileFor(sim.baseUrl, dir), sim.baseUrl, 'EMPTY'),
        seed: 1,
        secrets: [],
        originEpochMs: performance.timeOrigin + origin,
        path: 'fast',
      });
      const limited = await pool.runStage(
        plan(0, 7, { warmupMs: 100, durationMs: null, requestLimit: 45 }),
        stageHooks(),
      );
      expect(limited.records.filter((r) => r.phase === 'window')).toHaveLength(45);
      // The window closed when the 45th window request started: none started after it.
      const windowT0 = limited.records.filter((r) => r.phase === 'window').map((r) => r.t0);
      expect(Math.max(...windowT0)).toBeLessThanOrEqual(limited.window.endMs);
      expect(new Set(limited.records.map((r) => r.id)).size).toBe(limited.records.length);
      const budget = await pool.runStage(
        plan(1, 6, { warmupMs: 0, durationMs: 5000 }),
        stageHooks({ budget: requestBudget(20) }),
      );
      // The run-wide request budget, shared by the threads (a thread may overshoot it by its own in-flight check).
      expect(budget.records.length).toBeGreaterThanOrEqual(20);
      expect(budget.records.length).toBeLessThanOrEqual(22);
      expect(budget.stoppedBy).toBe('budget');
    } finally {
      await pool?.close();
      await sim.stop();
    }
    const failing = await startSimulator({
      preset: 'tiny',
      overrides: { slots: 64, step_base_ms: 5, step_per_seq_ms: 0, jitter: 0, http_500: 1 },
    });
    try {
      pool = await startWorkerPool({
        workers: 2,
        clock: systemClock(origin),
        idPrefix: 'wt',
        transport: transportConfig(await profileFor(failing.baseUrl, dir), failing.baseUrl, 'EMPTY'),
        seed: 1,
        secrets: [],
        originEpochMs: performance.timeOrigin + origin,
        path: 'fast',
      });
      const res = await pool.runStage(plan(0, 4, { warmupMs: 0, durationMs: 5000 }), stageHooks({ maxErrorRate: 0.5 }));
      expect(res.stoppedBy).toBe('breaker');
      expect(res.window.endMs - res.window.startMs).toBeLessThan(4000);
    } finally {
      await pool?.close();
      await failing.stop();
    }
  });
});

describe('a run with workers: 2', () => {
  it('finds the knee, and its summary is exactly what its requests.jsonl gives (find-capacity report)', async () => {
    const dir = tempDir('fc-workers-run-');
    const file = writeProfile(
      dir,
      'p.yaml',
      // Short stages, none extended (pooled windows: test/controller/search.test.ts): 10 tokens (200 ms) still put a
      // whole request between the TTFT regimes either side of the knee.
      simProfile({
        slots: 6,
        concurrency: '[3, 6, 9]',
        warmup: '300ms',
        duration: '1s',
        tokens: 10,
        extra: 'workers: 2\nverdict: {bisect: false, max_extensions: 0}',
      }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    expect(profile.workers).toBe(2);
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir });
    expect(result.capacity.concurrency).toBe(6);
    const { rows } = readJsonl<RequestRecord>(join(result.runDir, 'requests.jsonl'));
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.id.replace(/-.*/, '')).map((p) => p.slice(-2)))).toEqual(new Set(['w0', 'w1']));
    const rebuilt = rebuildSummary(result.runDir);
    expect(rebuilt.summary.stages).toEqual(result.summary.stages);
    expect(rebuilt.summary.capacity).toEqual(result.summary.capacity);
  });
});

describe('--workers', () => {
  it('overrides the profile (the dry run shows the profile is valid) and rejects a bad count before anything is sent', async () => {
    const dir = tempDir('fc-workers-cli-');
    const file = writeProfile(dir, 'p.yaml', simProfile({ slots: 4, concurrency: '[2]' }));
    // Neither sends a request: both CLIs start at once.
    const [bad, ok] = await Promise.all([
      runCli([file, '--workers', '0', '--out', dir]),
      runCli([file, '--workers', '3', '--dry-run']),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers must be a whole number from 1 to 256, got "0"/);
    expect(ok.code).toBe(0);
  });
});
