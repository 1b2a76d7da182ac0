// `workers: N`: the load generator on N worker threads. Each thread has its own transport and event loop and runs
// its share of a stage's concurrency with the same stage runner; the controller (this module, on the main thread)
// merges their records as they stream in, so the stage's records, window and verdict are those of one stage:
//   - one clock: every thread reads the run clock from the run's origin in epoch ms;
//   - one window: the controller fixes the stage start; the window closes at the same instant in every thread
//     (duration), at the last request of a shared request count (request limit), or when the controller stops it;
//   - one stagger and unique ids: thread k runs slots [offset_k, offset_k + share_k) of the stage's C slots and
//     prefixes its request ids with `w<k>`;
//   - the breaker and the run-wide budgets are judged here, over every thread's records, and stop all threads.
import { Worker } from 'node:worker_threads';
import { ToolError } from '../errors.ts';
import type { RequestRecord } from '../model/record.ts';
import { progressSnapshot, type StageRunOptions, type StageRunResult } from './stage-runner.ts';
import { SHARED, type FromWorker, type ToWorker, type WorkerInit, type WorkerStageDone } from './worker-messages.ts';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);
const START_TIMEOUT_MS = 30_000;
/** How often the controller looks at the shared send count and the run-wide budgets. */
const POLL_MS = 25;

export interface WorkerPoolOptions extends Omit<WorkerInit, 'index'> {
  workers: number;
}

export interface WorkerPoolStageOptions extends Omit<
  StageRunOptions,
  'sender' | 'pickPayload' | 'slots' | 'stageStartMs' | 'claimWindowRequest'
> {
  /** Requests the run may still send (run-wide limit) and the run clock at which it must stop sending. */
  maxRequests: number;
  maxDurationMs: number;
  /** Called with the number of requests sent since the last call (the run's request count). */
  countSent: (n: number) => void;
}

export interface WorkerPool {
  readonly size: number;
  runStage(o: WorkerPoolStageOptions): Promise<StageRunResult>;
  close(): Promise<void>;
}

/** Thread k's share of C slots: as even as possible, the first C mod N threads one more. */
export function shares(concurrency: number, workers: number): { offset: number; count: number }[] {
  const out: { offset: number; count: number }[] = [];
  let offset = 0;
  for (let k = 0; k < workers; k++) {
    const count = Math.floor(concurrency / workers) + (k < concurrency % workers ? 1 : 0);
    out.push({ offset, count });
    offset += count;
  }
  return out;
}

interface Thread {
  worker: Worker;
  /** The current stage's handlers. */
  onMessage: ((m: FromWorker) => void) | null;
  exited: boolean;
  error: Error | null;
}

export async function startWorkerPool(o: WorkerPoolOptions): Promise<WorkerPool> {
  const threads: Thread[] = [];
  try {
    await Promise.all(
      Array.from({ length: o.workers }, (_, index) => {
        const { workers: _n, ...rest } = o;
        const init: WorkerInit = { ...rest, index };
        // execArgv []: the parent's flags (--cpu-prof, --inspect, ...) are not for the worker.
        const worker = new Worker(ENTRY, { workerData: init, execArgv: [] });
        const t: Thread = { worker, onMessage: null, exited: false, error: null };
        threads.push(t);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new ToolError(
                  'internal',
                  `load-generator worker ${index} did not start within ${START_TIMEOUT_MS / 1000} s`,
                ),
              ),
            START_TIMEOUT_MS,
          );
          worker.on('message', (m: FromWorker) => {
            if (m.type === 'ready') {
              clearTimeout(timer);
              resolve();
            } else t.onMessage?.(m);
          });
          worker.on('error', (err) => {
            t.error = err;
            clearTimeout(timer);
            reject(new ToolError('internal', `load-generator worker ${index} failed: ${err.message}`));
          });
          worker.on('exit', (code) => {
            t.exited = true;
            clearTimeout(timer);
            const err = t.error ?? new Error(`exited with code ${code}`);
            t.onMessage?.({ type: 'failed', message: err.message });
            reject(new ToolError('internal', `load-generator worker ${index} exited during start-up (code ${code})`));
          });
        });
      }),
    );
  } catch (err) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw err;
  }
  const send = (t: Thread, m: ToWorker) => {
    if (!t.exited) t.worker.postMessage(m);
  };

  async function runStage(s: WorkerPoolStageOptions): Promise<StageRunResult> {
    const { plan, now } = s;
    const C = plan.concurrency;
    const shared = new SharedArrayBuffer(SHARED.length * 4);
    const flags = new Int32Array(shared);
    // A few ms ahead, so that every thread has the message before the first slot starts.
    const stageStart = now() + 5;
    const ws = stageStart + plan.warmupMs;
    const active = shares(C, threads.length)
      .map((share, k) => ({ share, t: threads[k]! }))
      .filter((x) => x.share.count > 0);
    const records: RequestRecord[] = [];
    const minReq = s.breakerMinRequests ?? 20;
    let windowDone = 0;
    let windowFailed = 0;
    const windowTtft: number[] = [];
    let stoppedBy: StageRunResult['stoppedBy'] = null;
    let sentSeen = 0;
    const done: WorkerStageDone[] = [];

    const stopAll = (why: 'breaker' | 'budget') => {
      if (Atomics.load(flags, SHARED.stop) !== 0) return;
      Atomics.store(flags, SHARED.stop, 1);
      stoppedBy ??= why;
    };
    const onInterrupt = () => {
      stoppedBy ??= 'interrupted';
      for (const { t } of active) send(t, { type: 'interrupt' });
    };
    s.stopSignal?.addEventListener('abort', onInterrupt);

    const onRecord = (rec: RequestRecord) => {
      records.push(rec);
      s.onRecord(rec);
      if (rec.phase !== 'window') return;
      windowDone++;
      if (!rec.ok) windowFailed++;
      else if (rec.firstContentAt !== null) windowTtft.push(rec.firstContentAt - rec.t0);
      if (windowDone >= minReq && windowFailed / windowDone > s.maxErrorRate) stopAll('breaker');
    };
    const poll = setInterval(() => {
      const sent = Atomics.load(flags, SHARED.sent);
      if (sent > sentSeen) s.countSent(sent - sentSeen);
      sentSeen = sent;
      if (s.budgetExceeded?.()) stopAll('budget');
    }, POLL_MS);
    let progress: NodeJS.Timeout | null = null;
    if (s.onProgress) {
      const onProgress = s.onProgress;
      progress = setInterval(() => {
        const t = now();
        onProgress(
          progressSnapshot({
            stage: plan.index,
            concurrency: C,
            now: t,
            stageStart,
            ws,
            windowEnd: plan.durationMs !== null ? ws + plan.durationMs : Infinity,
            done: windowDone,
            failed: windowFailed,
            ttfts: windowTtft,
          }),
        );
      }, s.progressEveryMs ?? 500);
      progress.unref();
    }

    try {
      await new Promise<void>((resolve, reject) => {
        for (const { share, t } of active) {
          t.onMessage = (m) => {
            if (m.type === 'records') for (const r of m.records) onRecord(r);
            else if (m.type === 'done') {
              done.push(m);
              if (done.length === active.length) resolve();
            } else if (m.type === 'failed')
              reject(new ToolError('internal', `a load-generator worker failed: ${m.message}`));
          };
          send(t, {
            type: 'stage',
            plan: { ...plan, concurrency: share.count },
            stageStartMs: stageStart,
            slots: { offset: share.offset, total: C },
            idPrefix: `${s.idPrefix}w${threads.indexOf(t)}`,
            interruptGraceMs: s.interruptGraceMs ?? 5000,
            maxRequests: s.maxRequests,
            maxDurationMs: s.maxDurationMs,
            shared,
          });
        }
        if (s.stopSignal?.aborted) onInterrupt();
      });
    } finally {
      clearInterval(poll);
      if (progress) clearInterval(progress);
      s.stopSignal?.removeEventListener('abort', onInterrupt);
      for (const { t } of active) t.onMessage = null;
    }
    const sent = Atomics.load(flags, SHARED.sent);
    if (sent > sentSeen) s.countSent(sent - sentSeen);
    // The window ends where the first thread's ended: all share the duration; with a request limit or a stop, the
    // thread that started the last request (or saw the stop first) closed it, the others noticed later.
    const endMs = Math.min(...done.map((d) => d.window.endMs));
    return {
      window: { index: plan.index, concurrency: C, startMs: ws, endMs: Math.max(ws, endMs) },
      records,
      stoppedBy: stoppedBy ?? done.map((d) => d.stoppedBy).find((x) => x !== null) ?? null,
      health: {
        eventLoopDelayP99Ms: Math.max(...done.map((d) => d.health.eventLoopDelayP99Ms)),
        // The busiest thread, in percent of one core: what "close to its limit" means for a generator thread.
        cpuPercent: Math.max(...done.map((d) => d.health.cpuPercent)),
      },
    };
  }

  return {
    size: threads.length,
    runStage,
    async close() {
      await Promise.all(
        threads.map(
          (t) =>
            new Promise<void>((resolve) => {
              if (t.exited) return resolve();
              const timer = setTimeout(() => void t.worker.terminate(), 2000);
              t.worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              send(t, { type: 'close' });
            }),
        ),
      );
    },
  };
}
