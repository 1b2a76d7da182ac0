// A load-generator worker thread: its own transport and event loop, running the stage runner on its share of a
// stage's concurrency and streaming every record back to the controller (src/load/worker-pool.ts).
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../util/prng.ts';
import type { RequestRecord } from '../model/record.ts';
import { makeRedactor } from '../util/secrets.ts';
import { systemClock } from '../util/clock.ts';
import { runStage } from './stage-runner.ts';
import { createTransport } from './transport.ts';
import { SHARED, type FromWorker, type StageMessage, type ToWorker, type WorkerInit } from './worker-messages.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

// One clock for all threads: this thread's monotonic clock, shifted to the run's origin (epoch ms).
const shift = performance.timeOrigin - init.originEpochMs;
const clock = systemClock(-shift);
const now = () => clock.now();

const transport = createTransport({
  config: init.transport,
  clock,
  redact: makeRedactor(init.secrets),
  path: init.path,
});
const nPayloads = init.transport.body.payloads.length;
const rng = mulberry32((init.seed + 7919 * (init.index + 1)) >>> 0);
const pickPayload = nPayloads <= 1 ? () => 0 : () => Math.floor(rng() * nPayloads);

/** This thread's CPU time (ms) on Linux; null elsewhere (the stage runner's process-wide figure is used then). */
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

/** Records go back in batches: one message per ~20 ms or 64 records, not one per record. */
let batch: RequestRecord[] = [];
let batchTimer: NodeJS.Timeout | null = null;
function flush(): void {
  if (batchTimer) clearTimeout(batchTimer);
  batchTimer = null;
  if (batch.length === 0) return;
  post({ type: 'records', records: batch });
  batch = [];
}
function push(rec: RequestRecord): void {
  batch.push(rec);
  if (batch.length >= 64) flush();
  else batchTimer ??= setTimeout(flush, 20);
}

async function stage(m: StageMessage): Promise<void> {
  const shared = new Int32Array(m.shared);
  interrupt = new AbortController();
  const cpu0 = threadCpuMs();
  const t0 = now();
  const res = await runStage({
    plan: m.plan,
    sender: {
      send: (p) => {
        Atomics.add(shared, SHARED.sent, 1);
        return transport.send(p);
      },
      abortAll: (c, msg) => transport.abortAll(c, msg),
    },
    now,
    idPrefix: m.idPrefix,
    pickPayload,
    onRecord: push,
    // The controller judges the error rate over every thread's records and raises the shared stop flag.
    maxErrorRate: Number.POSITIVE_INFINITY,
    stopSignal: interrupt.signal,
    interruptGraceMs: m.interruptGraceMs,
    budgetExceeded: () =>
      Atomics.load(shared, SHARED.stop) !== 0 ||
      Atomics.load(shared, SHARED.sent) >= m.maxRequests ||
      now() >= m.maxDurationMs,
    slots: m.slots,
    stageStartMs: m.stageStartMs,
    claimWindowRequest: () => Atomics.add(shared, SHARED.windowStarted, 1) + 1,
  });
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
    transport.close();
    port.close();
  }
});
post({ type: 'ready' });
