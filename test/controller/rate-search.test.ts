// Whole rate searches on a fake clock: the real controller, fold, judge and in-process executor running an open
// loop against a server of N slots on the fake clock. The decision paths of a rate run: bisection in req/s, an
// INVALID stage when the generator falls behind its schedule, and dropped arrivals counting against a stage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlannedRequest, RequestSender } from '../../src/load/executor.ts';
import { createInProcessExecutor } from '../../src/load/stage-runner.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { StagePlan } from '../../src/model/stage.ts';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { runCapacitySearch, type RunResult } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { Clock, RunClock } from '../../src/util/clock.ts';
import { FakeClock } from '../fake-clock.ts';
import { fakeTarget } from '../fake-search.ts';
import { tempDir } from '../helpers.ts';

/** A server of `slots` slots, each request holding one for `serviceMs` (first token 50 ms after admission), FIFO. */
function slotServer(clock: FakeClock, slots: number, serviceMs: number): RequestSender {
  let busy = 0;
  const queue: (() => void)[] = [];
  const done = (req: PlannedRequest, admittedAt: number): RequestRecord => ({
    ...req,
    scheduledAt: req.scheduledAt ?? null,
    headersAt: req.t0,
    firstContentAt: admittedAt + 50,
    lastContentAt: clock.now(),
    end: clock.now(),
    gapsMs: [],
    contentChunks: 2,
    status: 200,
    ok: true,
    errorClass: null,
    error: null,
    errorPhase: null,
    finishReason: 'stop',
    promptTokens: 10,
    outputTokens: 2,
    outputTokensEstimated: false,
    retryAfterS: null,
  });
  const admit = (req: PlannedRequest, resolve: (r: RequestRecord) => void) => {
    busy++;
    const admittedAt = clock.now();
    clock.setTimeout(() => {
      busy--;
      queue.shift()?.();
      resolve(done(req, admittedAt));
    }, serviceMs);
  };
  return {
    send: (req) =>
      new Promise<RequestRecord>((resolve) => {
        if (busy < slots) admit(req, resolve);
        else queue.push(() => admit(req, resolve));
      }),
    abortAll: () => {},
    close: () => {},
  };
}

/** The executor's clock with timers firing `lateMs(plan)` late: a load generator that falls behind at some rates. */
function lateClock(clock: FakeClock, late: { ms: number }): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms + late.ms),
    setInterval: (fn, ms) => clock.setInterval(fn, ms),
    clear: (t) => clock.clear(t),
  };
}

async function search(
  yaml: string,
  server: { slots: number; serviceMs: number },
  lateMs: (plan: StagePlan) => number = () => 0,
): Promise<RunResult> {
  const dir = tempDir('fc-rate-search-');
  const { profile } = await loadProfile(join(dir, 'p.yaml'), { text: yaml, env: {} });
  const clock = new FakeClock();
  const runClock: RunClock = Object.assign(clock, { originEpochMs: 1_767_225_600_000 });
  const late = { ms: 0 };
  const run = runCapacitySearch({
    profile,
    env: {},
    outDir: dir,
    clock: runClock,
    target: () => Promise.resolve(fakeTarget),
    executor: (_target, _c, idPrefix) => {
      const inner = createInProcessExecutor({
        transport: slotServer(clock, server.slots, server.serviceMs),
        clock: lateClock(clock, late),
        idPrefix,
        pickPayload: () => 0,
      });
      return Promise.resolve({
        runStage: (plan, hooks) => {
          late.ms = lateMs(plan);
          return inner.runStage(plan, hooks);
        },
        close: () => inner.close(),
      });
    },
  });
  return clock.settle(run);
}

// The event-loop check watches the real machine, not the fake clock: lifted so a busy test machine cannot decide.
const profileYaml = (ramp: string, o: { slo?: string[]; verdict?: string } = {}) => `name: rate-search
target: {base_url: "http://127.0.0.1:9/v1", model: fake}
request:
  messages: [{role: user, content: "hi"}]
  timeouts: {first_token: 60s, idle: 60s, total: 120s}
ramp:
${ramp}
  warmup: 2s
  stage: {duration: 20s}
  drain: 60s
slo:
${(o.slo ?? ['p99(ttft) < 2s']).map((r) => `  - ${r}`).join('\n')}
verdict: {max_event_loop_delay: 10s${o.verdict ?? ''}}
`;

const steps = (r: RunResult) => r.summary.stages.map((s) => `${s.offered_rate}:${s.kind}:${s.verdict}`);

describe('a rate search on a fake clock', () => {
  it('ramps the offered rate, confirms the first FAIL and bisects in req/s to the resolution', async () => {
    // 4 slots × 1 s: the server completes 4 requests/s. Constant arrivals: no queue below it, a growing one above.
    const result = await search(profileYaml('  rate: {start: 1, step: 1, max: 8}\n  arrival: constant'), {
      slots: 4,
      serviceMs: 1000,
    });
    expect(steps(result)).toEqual([
      '1:ramp:PASS',
      '2:ramp:PASS',
      '3:ramp:PASS',
      '4:ramp:PASS',
      '5:ramp:FAIL',
      '5:confirm:FAIL',
      '4.5:bisect:FAIL',
      '4.5:confirm:FAIL',
      '4.25:bisect:PASS',
    ]);
    // Resolution: 5 % of the first failing rate (0.25 req/s). The queue grows by (rate/4 − 1) per second of the
    // stage: 1.4 s after 22 s at 4.25/s, so a window this short passes a rate just above the service rate.
    expect(result.capacity).toMatchObject({
      concurrency: null,
      rate: 4.25,
      stopReason: 'knee_found',
      bracket: [4.25, 4.5],
      stopDetail: 'the SLO held at 4.25 req/s and failed (confirmed) at 4.5 req/s',
    });
    expect(result.summary.capacity).toMatchObject({ rate: 4.25, concurrency: null });
    expect(result.summary.capacity.at_capacity!.achieved_rate).toBeCloseTo(4, 1);
    const at5 = result.summary.stages[4]!;
    expect(at5).toMatchObject({ offered_rate: 5, concurrency: 0, dropped: 0 });
    expect(at5.achieved_rate).toBeLessThanOrEqual(4);
    // TTFT from the scheduled time shows the queue; from t0 (the server's view) it shows it too (the wait is inside
    // the server here), and the send lag is 0 on a fake clock.
    expect(at5.ttft_ms.p99!).toBeGreaterThan(2000);
    expect(at5.send_lag_ms.max).toBe(0);
  });

  it('a send lag p99 above the health limit makes the stage INVALID, and twice stops the search', async () => {
    const result = await search(
      // The health limit is verdict.max_event_loop_delay (1 s here, far above a busy machine's real event loop).
      profileYaml('  rate: [2, 4, 6, 8]\n  arrival: constant', { verdict: '', slo: ['p99(ttft) < 30s'] }).replace(
        'max_event_loop_delay: 10s',
        'max_event_loop_delay: 1s',
      ),
      { slots: 64, serviceMs: 500 },
      (plan) => (plan.load.kind === 'open' && plan.load.rate >= 6 ? 1500 : 0),
    );
    expect(steps(result)).toEqual(['2:ramp:PASS', '4:ramp:PASS', '6:ramp:INVALID', '6:confirm:INVALID']);
    const invalid = result.summary.stages[2]!;
    expect(invalid.send_lag_ms.p99!).toBe(1500);
    expect(invalid.reasons[0]).toMatch(
      /^generator: send lag p99 1500\.0 ms > 1000 ms: the load generator fell behind its own arrival schedule \(\d+ requests\)$/,
    );
    expect(result.capacity).toMatchObject({ rate: 4, stopReason: 'generator_limit' });
    expect(result.capacity.stopDetail).toContain('could not hold an offered rate of 6 req/s (twice)');
  });

  it('dropped arrivals are recorded, fail the success rate and rebuild from requests.jsonl', async () => {
    // 2 slots × 1 s: 2 requests/s. At 3/s the queue grows until 4 are open; later arrivals are dropped.
    const result = await search(
      profileYaml('  rate: [1, 1.5, 3]\n  arrival: constant\n  max_in_flight: 4', {
        slo: ['p99(ttft) < 10s', 'success_rate >= 99%'],
        verdict: ', bisect: false',
      }),
      { slots: 2, serviceMs: 1000 },
    );
    expect(steps(result)).toEqual(['1:ramp:PASS', '1.5:ramp:PASS', '3:ramp:FAIL', '3:confirm:FAIL']);
    const at3 = result.summary.stages[2]!;
    expect(at3.dropped).toBeGreaterThan(10);
    expect(at3.errors).toEqual({ dropped: at3.dropped });
    expect(at3.failed).toBe(at3.dropped);
    expect(at3.requests).toBe(60);
    expect(at3.success_rate).toBe(Math.round(((60 - at3.dropped) / 60) * 1000) / 1000);
    expect(result.capacity).toMatchObject({ rate: 1.5, stopReason: 'knee_found', bracket: [1.5, 3] });
    const lines = readFileSync(join(result.runDir, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RequestRecord);
    // Records carry the attempt index of their window; summary.json numbers stages by their place in the run.
    const attempts = new Set(at3.windows.map((w) => w.index));
    const drops = lines.filter((r) => attempts.has(r.stage) && r.phase === 'window' && r.errorClass === 'dropped');
    expect(drops).toHaveLength(at3.dropped);
    expect(drops.every((r) => r.scheduledAt !== null && r.end === r.t0 && !r.ok)).toBe(true);
    const rebuilt = rebuildSummary(result.runDir).summary;
    expect(rebuilt.stages).toEqual(result.summary.stages);
    expect(rebuilt.capacity).toEqual(result.summary.capacity);
  });
});
