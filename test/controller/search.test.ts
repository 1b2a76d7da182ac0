// A whole capacity search on a fake clock: the real controller, fold, judge and in-process executor, with a
// transport that models a server of N batch slots on the fake clock. Every decision of the search (ramp,
// extension of an undecided stage, confirmation, bisection, breaker, budget stop) runs in milliseconds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlannedRequest, RequestSender } from '../../src/load/executor.ts';
import { createInProcessExecutor } from '../../src/load/stage-runner.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { runCapacitySearch, type RunResult } from '../../src/controller/run.ts';
import type { Target } from '../../src/controller/target.ts';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { RunClock } from '../../src/util/clock.ts';
import { FakeClock } from '../fake-clock.ts';
import { tempDir } from '../helpers.ts';

interface ServerModel {
  slots: number;
  /** Time a request holds its slot (its E2E when it did not wait). */
  serviceMs: number;
  /** First token after admission. */
  ttftMs: number;
  /** Answer HTTP 503 at once while more than this many requests are in the server. */
  failAbove?: number;
}

/** A server of `slots` batch slots with a FIFO queue, on the fake clock: a request waits while every slot is busy. */
function slotServer(clock: FakeClock, model: ServerModel): RequestSender {
  let busy = 0;
  const queue: (() => void)[] = [];
  const pending = new Set<(cls: 'aborted') => void>();
  const record = (req: PlannedRequest, admittedAt: number | null, end: number, fail: string | null) => {
    const first = admittedAt === null ? null : admittedAt + model.ttftMs;
    const rec: RequestRecord = {
      ...req,
      headersAt: first,
      firstContentAt: first,
      lastContentAt: first === null ? null : end,
      end,
      gapsMs: first === null ? [] : [end - first],
      contentChunks: first === null ? 0 : 2,
      status: fail === null ? 200 : fail === 'http_5xx' ? 503 : null,
      ok: fail === null,
      errorClass: fail as RequestRecord['errorClass'],
      error: fail,
      errorPhase: null,
      finishReason: fail === null ? 'stop' : null,
      promptTokens: 10,
      outputTokens: first === null ? 0 : 2,
      outputTokensEstimated: false,
      retryAfterS: null,
    };
    return rec;
  };
  const admit = (req: PlannedRequest, resolve: (r: RequestRecord) => void) => {
    busy++;
    const admittedAt = clock.now();
    const abort = () => {
      clock.clear(timer);
      busy--;
      resolve(record(req, null, clock.now(), 'aborted'));
    };
    const timer = clock.setTimeout(() => {
      pending.delete(abort);
      busy--;
      queue.shift()?.();
      resolve(record(req, admittedAt, clock.now(), null));
    }, model.serviceMs);
    pending.add(abort);
  };
  return {
    send: (req) =>
      new Promise<RequestRecord>((resolve) => {
        if (model.failAbove !== undefined && busy + queue.length >= model.failAbove) {
          clock.setTimeout(() => resolve(record(req, null, clock.now(), 'http_5xx')), 5);
        } else if (busy < model.slots) admit(req, resolve);
        else queue.push(() => admit(req, resolve));
      }),
    abortAll: () => {
      for (const abort of pending) abort('aborted');
      pending.clear();
    },
    close: () => {},
  };
}

const fakeTarget: Target = {
  baseUrl: 'http://127.0.0.1:9',
  apiKey: null,
  headers: {},
  secrets: [],
  redact: (text) => text,
  simulator: null,
  measureOverhead: null,
  close: () => Promise.resolve(),
};

async function search(yaml: string, model: ServerModel): Promise<{ result: RunResult; clock: FakeClock }> {
  const dir = tempDir('fc-search-');
  const { profile } = await loadProfile(join(dir, 'p.yaml'), { text: yaml, env: {} });
  const clock = new FakeClock();
  const runClock: RunClock = Object.assign(clock, { originEpochMs: 1_767_225_600_000 });
  const run = runCapacitySearch({
    profile,
    env: {},
    outDir: dir,
    clock: runClock,
    target: () => Promise.resolve(fakeTarget),
    executor: (_target, c, idPrefix) =>
      Promise.resolve(
        createInProcessExecutor({
          transport: slotServer(clock, model),
          clock: c,
          idPrefix,
          pickPayload: () => 0,
          // This machine's event-loop delay is real time: a decision test must not depend on it.
          watchHealth: () => ({ finish: () => ({ eventLoopDelayP99Ms: 0, cpuPercent: 1 }) }),
        }),
      ),
  });
  return { result: await clock.settle(run), clock };
}

const profileYaml = (o: { concurrency: string; slo?: string; stage?: string; extra?: string }) => `name: search
target: {base_url: "http://127.0.0.1:9/v1", model: fake}
request:
  messages: [{role: user, content: "hi"}]
  timeouts: {first_token: 10s, idle: 10s, total: 60s}
ramp:
  concurrency: ${o.concurrency}
  warmup: 2s
  stage: ${o.stage ?? '{duration: 20s}'}
  drain: 10s
slo:
  - ${o.slo ?? 'p99(ttft) < 100ms'}
${o.extra ?? ''}`;

const steps = (r: RunResult) => r.summary.stages.map((s) => `${s.concurrency}:${s.kind}:${s.verdict}`);

describe('a whole capacity search on a fake clock', () => {
  it('ramps, confirms the first FAIL, bisects, and finds capacity = slots', async () => {
    const { result } = await search(profileYaml({ concurrency: '{start: 4, step: 4, max: 32}' }), {
      slots: 13,
      serviceMs: 1000,
      ttftMs: 50,
    });
    expect(steps(result)).toEqual([
      '4:ramp:PASS',
      '8:ramp:PASS',
      '12:ramp:PASS',
      '16:ramp:FAIL',
      '16:confirm:FAIL',
      '14:bisect:FAIL',
      '14:confirm:FAIL',
      '13:bisect:PASS',
    ]);
    expect(result.capacity).toMatchObject({ concurrency: 13, stopReason: 'knee_found', bracket: [13, 14] });
  });

  it('extends an undecided stage, pools its windows, then judges on the point estimate', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 2, step: 2, max: 2}', stage: '{requests: 20, duration: 60s}' }),
      { slots: 8, serviceMs: 200, ttftMs: 50 },
    );
    const [stage] = result.summary.stages;
    expect(result.summary.stages).toHaveLength(1);
    expect(stage!.verdict).toBe('PASS');
    expect(stage!.low_confidence).toBe(true);
    expect(stage!.requests).toBe(60);
    expect(stage!.reasons.join('\n')).toContain('extended 2 times: 60 requests pooled over 3 windows');
    const lines = readFileSync(join(result.runDir, 'stages.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].windows.map((w: { index: number }) => w.index)).toEqual([0, 1, 2]);
    expect(result.capacity.stopReason).toBe('max_reached');
  });

  it('stops on the error-rate breaker and keeps the capacity below it', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 4, step: 4, max: 16}', extra: 'stop: {max_error_rate: 10%}' }),
      { slots: 32, serviceMs: 500, ttftMs: 50, failAbove: 6 },
    );
    expect(steps(result)).toEqual(['4:ramp:PASS', '8:ramp:FAIL']);
    expect(result.summary.stages[1]!.reasons.join('\n')).toContain('stopped early by the error-rate breaker');
    expect(result.capacity).toMatchObject({ concurrency: 4, stopReason: 'error_rate_breaker', bracket: [4, 8] });
  });

  it('stops at a run-wide request budget, the cut stage shown but not deciding', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 4, step: 4, max: 32}', extra: 'limits: {max_requests: 300}' }),
      { slots: 13, serviceMs: 1000, ttftMs: 50 },
    );
    // Stage 4 is extended twice (every TTFT equal: a p99 from 80 samples is undecided), so 240 requests.
    expect(result.summary.stages.map((s) => [s.concurrency, s.requests])).toEqual([
      [4, 240],
      [8, 20],
    ]);
    expect(result.capacity).toMatchObject({ concurrency: 4, stopReason: 'limit_requests' });
    const last = result.summary.stages[result.summary.stages.length - 1]!;
    expect(last.reasons.join('\n')).toContain('a run-wide safety limit was reached');
    const requests = readFileSync(join(result.runDir, 'requests.jsonl'), 'utf8').trim().split('\n');
    expect(requests.length).toBeGreaterThanOrEqual(300);
  });

  it('writes files from which `find-capacity report` rebuilds the same summary', async () => {
    const { result } = await search(profileYaml({ concurrency: '{start: 4, step: 4, max: 32}' }), {
      slots: 13,
      serviceMs: 1000,
      ttftMs: 50,
    });
    const rebuilt = rebuildSummary(result.runDir).summary;
    expect(rebuilt.stages).toEqual(result.summary.stages);
    expect(rebuilt.capacity).toEqual(result.summary.capacity);
  });
});
