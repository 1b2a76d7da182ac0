// A load-generator worker thread: its own transport and event loop, running the in-process executor on its part of
// a stage and streaming every record back to the controller (src/load/worker-pool.ts).
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from '../util/clock.ts';
import type { RunBudget } from './executor.ts';
import { createPartExecutor } from './part-executor.ts';
import { recordBatcher } from './record-batch.ts';
import {
  SHARED,
  sharedWindowCounter,
  type FromWorker,
  type StageMessage,
  type ToWorker,
  type WorkerInit,
} from './worker-messages.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

// One clock for all threads: this thread's monotonic clock, shifted to the run's origin (epoch ms).
const clock = systemClock(init.originEpochMs - performance.timeOrigin);
const now = () => clock.now();

const { executor } = createPartExecutor(init, clock);

/** This thread's CPU time (ms) on Linux; null elsewhere (the executor's process-wide figure is used then). */
function threadCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

let interrupt: AbortController | null = null;

const batcher = recordBatcher(clock, (records) => post({ type: 'records', records }));
const push = batcher.push;
const flush = batcher.flush;

/** The run-wide limits as this thread sees them: the stage's shared send count, the controller's stop flag. */
function threadBudget(shared: Int32Array, m: StageMessage, c: Clock): RunBudget {
  return {
    remainingRequests: () => Math.max(0, m.maxRequests - Atomics.load(shared, SHARED.sent)),
    deadlineMs: m.maxDurationMs,
    countSent: (n) => void Atomics.add(shared, SHARED.sent, n),
    exceeded: () =>
      Atomics.load(shared, SHARED.stop) !== 0 ||
      Atomics.load(shared, SHARED.sent) >= m.maxRequests ||
      c.now() >= m.maxDurationMs,
  };
}

async function stage(m: StageMessage): Promise<void> {
  const shared = new Int32Array(m.shared);
  interrupt = new AbortController();
  const cpu0 = threadCpuMs();
  const t0 = now();
  const hooks = {
    onRecord: push,
    // The controller judges the error rate over every thread's records and raises the shared stop flag.
    maxErrorRate: Number.POSITIVE_INFINITY,
    stopSignal: interrupt.signal,
    budget: threadBudget(shared, m, clock),
  };
  const res = await executor.runStage(m.plan, hooks, { part: m.part, windowCounter: sharedWindowCounter(shared) });
  flush();
  const cpu1 = threadCpuMs();
  const wallMs = Math.max(1, now() - t0);
  // Percent of one core for this thread: what the judge's "close to its limit" warning is about.
  const cpuPercent = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / wallMs) * 100 : res.health.cpuPercent;
  interrupt = null;
  post({
    type: 'done',
    window: res.window,
    stoppedBy: res.stoppedBy,
    health: { eventLoopDelayP99Ms: res.health.eventLoopDelayP99Ms, cpuPercent },
  });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'stage') {
    stage(m).catch((err: unknown) =>
      post({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  } else if (m.type === 'interrupt') {
    interrupt?.abort();
  } else if (m.type === 'close') {
    void executor.close();
    port.close();
  }
});
post({ type: 'ready' });
