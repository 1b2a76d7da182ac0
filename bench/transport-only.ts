// Per-chunk CPU of the transport alone, of the transport inside the stage runner, and of a bare node:http client
// with a line splitter (the floor), over the same simulator streams, in one process each: no JIT warm-up stage, no
// records file, no bench bookkeeping. Used to attribute the gap that `npm run bench` shows at 100 streams
// (BENCHMARKS.md): run the modes interleaved several times, this shared machine's run-to-run noise is ±25 %.
//
//   for m in floor transport stage floor transport stage; do node bin/run-ts.mjs bench/transport-only.ts $m; done
//
// Args: mode (floor | transport | stage), first-token delay ms (default 100), concurrency (default 100).
import { unlimitedBudget } from '../src/load/executor.ts';
import { createInProcessExecutor } from '../src/load/stage-runner.ts';
import { systemClock } from '../src/util/clock.ts';
import { benchTransport, chunksWithin, floorRequester, startBenchSimulator } from './one-process.ts';

const mode = process.argv[2] ?? 'floor';
const delayMs = Number(process.argv[3] ?? 100);
const C = Number(process.argv[4] ?? 100);
const TOKENS = 64;
const WARMUP_MS = 5000;
const WINDOW_MS = 10_000;

const sim = await startBenchSimulator(delayMs, TOKENS);
const origin = performance.now();
const now = () => performance.now() - origin;
const transport = await benchTransport(sim.baseUrl, TOKENS, origin);

// The window's CPU, and its content chunks (floor: counted as they arrive; tool: from the records' timestamps).
let cpu0 = process.cpuUsage();
let cpu1 = cpu0;
let t0 = 0;
let t1 = 0;
let floorChunks = 0;
let floorChunks0 = 0;
let floorChunks1 = 0;
setTimeout(() => {
  cpu0 = process.cpuUsage();
  t0 = now();
  floorChunks0 = floorChunks;
}, WARMUP_MS);
setTimeout(() => {
  cpu1 = process.cpuUsage(cpu0);
  t1 = now();
  floorChunks1 = floorChunks;
}, WARMUP_MS + WINDOW_MS);

const floor = floorRequester(sim.baseUrl, TOKENS, () => floorChunks++);

let chunks = 0;
const countRecord = (r: { firstContentAt: number | null; gapsMs: number[] }) => (chunks += chunksWithin(r, t0, t1));

const endAt = WARMUP_MS + WINDOW_MS;
if (mode === 'stage') {
  const executor = createInProcessExecutor({
    transport,
    clock: systemClock(origin),
    idPrefix: 's',
    pickPayload: () => 0,
  });
  const res = await executor.runStage(
    {
      index: 0,
      load: { kind: 'closed', concurrency: C },
      warmupMs: WARMUP_MS,
      durationMs: WINDOW_MS,
      requestLimit: null,
      drainMs: 20_000,
    },
    { onRecord: () => {}, maxErrorRate: 1, budget: unlimitedBudget() },
  );
  for (const r of res.records) countRecord(r);
} else {
  let seq = 0;
  const records: { firstContentAt: number | null; gapsMs: number[] }[] = [];
  await Promise.all(
    Array.from({ length: C }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * WARMUP_MS) / 2 / C));
      while (now() < endAt) {
        if (mode === 'floor') await floor.request();
        else
          records.push(
            await transport.send({ id: `t-${seq++}`, stage: 0, phase: 'window', worker: 0, payload: 0, t0: now() }),
          );
      }
    }),
  );
  for (const r of records) countRecord(r);
  if (mode === 'floor') chunks = floorChunks1 - floorChunks0;
}
console.log(
  `${mode} C=${C} first-token delay ${delayMs} ms: ${chunks} chunks in the window, ${((cpu1.user + cpu1.system) / chunks).toFixed(2)} µs/chunk (user ${(cpu1.user / chunks).toFixed(2)})`,
);
transport.close();
floor.close();
await sim.stop();
