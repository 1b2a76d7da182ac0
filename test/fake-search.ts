// A whole capacity search on a fake clock: the real controller, fold, judge and in-process executor, with a
// transport that models a server of N batch slots on the fake clock (test/controller/search.test.ts,
// test/controller/search-decisions.test.ts). Every decision of the search runs in milliseconds of real time.
import { join } from 'node:path';
import type { PlannedRequest, RequestSender, StageExecutor } from '../src/load/executor.ts';
import { createInProcessExecutor } from '../src/load/stage-runner.ts';
import type { RequestRecord } from '../src/model/record.ts';
import type { ExecutorHealth } from '../src/model/stage.ts';
import { runCapacitySearch, type RunOptions, type RunResult } from '../src/controller/run.ts';
import type { Target } from '../src/controller/target.ts';
import { loadProfile } from '../src/profile/load.ts';
import type { RunClock } from '../src/util/clock.ts';
import { FakeClock } from './fake-clock.ts';
import { tempDir } from './helpers.ts';

export interface ServerModel {
  slots: number;
  /** Time a request holds its slot (its E2E when it did not wait). */
  serviceMs: number;
  /** First token after admission. */
  ttftMs: number;
  /** Answer HTTP 503 at once while more than this many requests are in the server. */
  failAbove?: number;
  /** Output tokens of a successful request (default 2). */
  outputTokens?: number;
}

/** A server of `slots` batch slots with a FIFO queue, on the fake clock: a request waits while every slot is busy. */
export function slotServer(clock: FakeClock, model: ServerModel): RequestSender {
  let busy = 0;
  const queue: (() => void)[] = [];
  const pending = new Set<(cls: 'aborted') => void>();
  const tokens = model.outputTokens ?? 2;
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
      outputTokens: first === null ? 0 : tokens,
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

/** A target that is never contacted: the fake executors answer every request. */
export const fakeTarget: Target = {
  baseUrl: 'http://127.0.0.1:9',
  apiKey: null,
  headers: {},
  secrets: [],
  redact: (text) => text,
  simulator: null,
  measureOverhead: null,
  close: () => Promise.resolve(),
};

/**
 * The generator's health as the executor reports it, per stage index: a starved load generator (a blocked event
 * loop) is modelled by a high event-loop delay. The executor's own measurement is of the real event loop and CPU
 * over fake time, meaningless here (a busy machine would make stages INVALID at random), so it is always replaced.
 */
export type HealthOf = (stageIndex: number) => ExecutorHealth;

export const healthy: HealthOf = () => ({ eventLoopDelayP99Ms: 1, cpuPercent: 10 });

function withHealth(executor: StageExecutor, healthOf: HealthOf): StageExecutor {
  return {
    runStage: async (plan, hooks) => ({ ...(await executor.runStage(plan, hooks)), health: healthOf(plan.index) }),
    close: () => executor.close(),
  };
}

export interface FakeSearchOptions {
  /** Default: every stage healthy. */
  healthOf?: HealthOf;
  /** Passed to runCapacitySearch (signal, onEvent, stageHook). */
  run?: Pick<RunOptions, 'signal' | 'onEvent' | 'stageHook'>;
}

export async function searchOnFakeClock(
  yaml: string,
  model: ServerModel,
  o: FakeSearchOptions = {},
): Promise<{ result: RunResult; clock: FakeClock }> {
  const dir = tempDir('fc-search-');
  const { profile } = await loadProfile(join(dir, 'p.yaml'), { text: yaml, env: {} });
  const clock = new FakeClock();
  const runClock: RunClock = Object.assign(clock, { originEpochMs: 1_767_225_600_000 });
  const run = runCapacitySearch({
    ...o.run,
    profile,
    env: {},
    outDir: dir,
    clock: runClock,
    target: () => Promise.resolve(fakeTarget),
    executor: (_target, c, idPrefix) =>
      Promise.resolve(
        withHealth(
          createInProcessExecutor({ transport: slotServer(clock, model), clock: c, idPrefix, pickPayload: () => 0 }),
          o.healthOf ?? healthy,
        ),
      ),
  });
  return { result: await clock.settle(run), clock };
}

/** A profile against the fake target: 2 s warm-up, 20 s windows, p99(ttft) < 100ms unless told otherwise. */
export const fakeProfileYaml = (o: {
  concurrency: string;
  slo?: string;
  stage?: string;
  extra?: string;
}) => `name: search
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

/** The search's stages as `concurrency:kind:verdict`. */
export const steps = (r: RunResult) => r.summary.stages.map((s) => `${s.concurrency}:${s.kind}:${s.verdict}`);
