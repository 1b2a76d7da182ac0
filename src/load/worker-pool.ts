// `workers: N`: the load generator on N worker threads. Each thread has its own transport and event loop and runs
// its part of a stage with the in-process executor; this executor (on the main thread) merges their records as they
// stream in, so the stage's records, window and verdict are those of one stage:
//   - one clock: every thread reads the run clock from the run's origin in epoch ms;
//   - one window: the pool fixes the stage start; the window closes at the same instant in every thread
//     (duration), at the last request of a shared request count (request limit), or when the pool stops it;
//   - one stagger and unique ids: thread k runs part k of the stage's load (closed loop: a contiguous range of its
//     C slots; open loop: every P-th arrival of the one schedule) and prefixes its request ids with `w<k>`;
//   - the breaker and the run-wide budgets are judged here, by the same StageTally, over every thread's records.
import { Worker } from 'node:worker_threads';
import { ToolError } from '../errors.ts';
import type { RequestRecord } from '../model/record.ts';
import type { StagePlan, StageRunResult } from '../model/stage.ts';
import type { Clock } from '../util/clock.ts';
import type { StageExecutor, StageHooks } from './executor.ts';
import { partsWithWork } from './load-model.ts';
import { StageTally, stageWindow } from './tally.ts';
import {
  SHARED,
  sharedWindowCounter,
  type FromWorker,
  type StageMessage,
  type ToWorker,
  type WorkerInit,
  type WorkerStageDone,
} from './worker-messages.ts';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);
const START_TIMEOUT_MS = 30_000;
/** How often the pool looks at the shared send count and the run-wide budgets. */
const POLL_MS = 25;
/** The stage starts this far ahead, so that every thread has the message before its first request. */
const START_AHEAD_MS = 5;

export interface WorkerPoolOptions extends Omit<WorkerInit, 'index'> {
  workers: number;
  /** The run clock (its origin is `originEpochMs`): the pool's timers, the stage start, the live progress. */
  clock: Clock;
  breakerMinRequests?: number;
  progressEveryMs?: number;
}

export interface WorkerPool extends StageExecutor {
  readonly size: number;
}

interface Thread {
  worker: Worker;
  /** The current stage's handlers. */
  onMessage: ((m: FromWorker) => void) | null;
  exited: boolean;
  error: Error | null;
}

export async function startWorkerPool(o: WorkerPoolOptions): Promise<WorkerPool> {
  const { workers: _n, clock: _c, breakerMinRequests: _b, progressEveryMs: _p, idPrefix, ...shared } = o;
  const threads: Thread[] = [];
  try {
    await Promise.all(
      Array.from({ length: o.workers }, (_, index) => {
        const { thread, ready } = spawnThread({ ...shared, idPrefix: `${idPrefix}w${index}`, index }, o.clock);
        threads.push(thread);
        return ready;
      }),
    );
  } catch (err) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw err;
  }
  return {
    size: threads.length,
    runStage: (plan, hooks) => runPoolStage(o, threads, plan, hooks),
    close: () => closeThreads(threads, o.clock),
  };
}

function spawnThread(init: WorkerInit, clock: Clock): { thread: Thread; ready: Promise<void> } {
  const { index } = init;
  // execArgv []: the parent's flags (--cpu-prof, --inspect, ...) are not for the worker.
  const worker = new Worker(ENTRY, { workerData: init, execArgv: [] });
  const t: Thread = { worker, onMessage: null, exited: false, error: null };
  const ready = new Promise<void>((resolve, reject) => {
    const timer = clock.setTimeout(
      () =>
        reject(
          new ToolError('internal', `load-generator worker ${index} did not start within ${START_TIMEOUT_MS / 1000} s`),
        ),
      START_TIMEOUT_MS,
    );
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        clock.clear(timer);
        resolve();
      } else t.onMessage?.(m);
    });
    worker.on('error', (err) => {
      t.error = err;
      clock.clear(timer);
      reject(new ToolError('internal', `load-generator worker ${index} failed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      t.exited = true;
      clock.clear(timer);
      const err = t.error ?? new Error(`exited with code ${code}`);
      t.onMessage?.({ type: 'failed', message: err.message });
      reject(new ToolError('internal', `load-generator worker ${index} exited during start-up (code ${code})`));
    });
  });
  return { thread: t, ready };
}

function post(t: Thread, m: ToWorker): void {
  if (!t.exited) t.worker.postMessage(m);
}

async function runPoolStage(
  o: WorkerPoolOptions,
  threads: Thread[],
  plan: StagePlan,
  hooks: StageHooks,
): Promise<StageRunResult> {
  const { clock } = o;
  const shared = new SharedArrayBuffer(SHARED.length * 4);
  const flags = new Int32Array(shared);
  const stagePlan = { ...plan, startMs: plan.startMs ?? clock.now() + START_AHEAD_MS };
  const tally = new StageTally({
    plan,
    clock,
    stageStartMs: stagePlan.startMs,
    maxErrorRate: hooks.maxErrorRate,
    breakerMinRequests: o.breakerMinRequests,
    windowCounter: sharedWindowCounter(flags),
    onStop: () => Atomics.store(flags, SHARED.stop, 1),
  });
  const active = partsWithWork(plan.load, threads.length).map((k) => ({ k, t: threads[k]! }));
  const stage: Omit<StageMessage, 'part'> = {
    type: 'stage',
    plan: stagePlan,
    maxRequests: hooks.budget.remainingRequests(),
    maxDurationMs: hooks.budget.deadlineMs,
    shared,
  };
  let sentSeen = 0;
  const countSent = () => {
    const sent = Atomics.load(flags, SHARED.sent);
    if (sent > sentSeen) hooks.budget.countSent(sent - sentSeen);
    sentSeen = sent;
  };
  const onInterrupt = () => {
    tally.interrupt();
    for (const { t } of active) post(t, { type: 'interrupt' });
  };
  hooks.stopSignal?.addEventListener('abort', onInterrupt);
  const poll = clock.setInterval(() => {
    countSent();
    tally.checkBudget(hooks.budget);
  }, POLL_MS);
  tally.start(hooks.onProgress ? (p) => hooks.onProgress!(p) : undefined, o.progressEveryMs);
  const records: RequestRecord[] = [];
  try {
    const started = runThreads(active, threads.length, stage, (r) => {
      records.push(r);
      hooks.onRecord(r);
      tally.record(r);
    });
    if (hooks.stopSignal?.aborted) onInterrupt();
    const done = await started;
    countSent();
    return mergeThreads(plan, tally, done, records);
  } finally {
    clock.clear(poll);
    tally.dispose();
    hooks.stopSignal?.removeEventListener('abort', onInterrupt);
    for (const { t } of active) t.onMessage = null;
  }
}

/** Sends each active thread its part of the stage; resolves with every thread's end of stage. */
function runThreads(
  active: { k: number; t: Thread }[],
  of: number,
  stage: Omit<StageMessage, 'part'>,
  onRecord: (r: RequestRecord) => void,
): Promise<WorkerStageDone[]> {
  return new Promise<WorkerStageDone[]>((resolve, reject) => {
    const finished: WorkerStageDone[] = [];
    for (const { k, t } of active) {
      t.onMessage = (m) => {
        if (m.type === 'records') for (const r of m.records) onRecord(r);
        else if (m.type === 'done') {
          finished.push(m);
          if (finished.length === active.length) resolve(finished);
        } else if (m.type === 'failed')
          reject(new ToolError('internal', `a load-generator worker failed: ${m.message}`));
      };
      post(t, { ...stage, part: { index: k, of } });
    }
  });
}

/** One stage from the threads' ends: the window, the first stop, the busiest thread's health. */
function mergeThreads(
  plan: StagePlan,
  tally: StageTally,
  done: WorkerStageDone[],
  records: RequestRecord[],
): StageRunResult {
  const ws = tally.windowStartMs;
  // The window ends where the first thread's ended: all share the duration; with a request limit or a stop, the
  // thread that started the last request (or saw the stop first) closed it, the others noticed later.
  const endMs = Math.min(...done.map((d) => d.window.endMs));
  return {
    window: stageWindow(plan, ws, endMs),
    records,
    stoppedBy: tally.stoppedBy ?? done.map((d) => d.stoppedBy).find((x) => x !== null) ?? null,
    health: {
      eventLoopDelayP99Ms: Math.max(...done.map((d) => d.health.eventLoopDelayP99Ms)),
      // The busiest thread, in percent of one core: what "close to its limit" means for a generator thread.
      cpuPercent: Math.max(...done.map((d) => d.health.cpuPercent)),
    },
  };
}

function closeThreads(threads: Thread[], clock: Clock): Promise<void> {
  return Promise.all(
    threads.map(
      (t) =>
        new Promise<void>((resolve) => {
          if (t.exited) return resolve();
          const timer = clock.setTimeout(() => void t.worker.terminate(), 2000);
          t.worker.once('exit', () => {
            clock.clear(timer);
            resolve();
          });
          post(t, { type: 'close' });
        }),
    ),
  ).then(() => undefined);
}
