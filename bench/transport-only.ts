// Per-chunk CPU of the transport alone, of the transport inside the stage runner, and of a bare node:http client
// with a line splitter (the floor), over the same simulator streams, in one process each: no JIT warm-up stage, no
// records file, no bench bookkeeping. Used to attribute the gap that `npm run bench` shows at 100 streams
// (BENCHMARKS.md): run the modes interleaved several times, this shared machine's run-to-run noise is ±25 %.
//
//   for m in floor transport stage floor transport stage; do node bin/run-ts.mjs bench/transport-only.ts $m; done
//
// Args: mode (floor | transport | stage), first-token delay ms (default 100), concurrency (default 100).
import { transportConfig } from '../src/controller/transport-config.ts';
import http from 'node:http';
import { unlimitedBudget } from '../src/load/executor.ts';
import { createInProcessExecutor } from '../src/load/stage-runner.ts';
import { systemClock } from '../src/util/clock.ts';
import { floorLines } from './ref-client.ts';
import { createTransport } from '../src/load/transport.ts';
import { loadProfile } from '../src/profile/load.ts';
import { startSimulator } from '../src/sim/index.ts';

const mode = process.argv[2] ?? 'floor';
const delayMs = Number(process.argv[3] ?? 100);
const C = Number(process.argv[4] ?? 100);
const TOKENS = 64;
const WARMUP_MS = 5000;
const WINDOW_MS = 10_000;

const sim = await startSimulator({
  preset: 'large',
  mode: 'process',
  overrides: {
    slots: 100_000,
    step_base_ms: 10,
    step_per_seq_ms: 0,
    prefill_ms_per_1k_tokens: 0,
    jitter: 0,
    default_max_tokens: TOKENS,
    first_token_delay_ms: delayMs,
  },
});
const origin = performance.now();
const now = () => performance.now() - origin;
const text = `target: {base_url: "${sim.baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: "Explain continuous batching in 50 words."}]
  max_tokens: ${TOKENS}
  timeouts: {first_token: 20s, idle: 10s, total: 60s}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
const { profile } = await loadProfile('transport-only.yaml', { text, env: {} });
const transport = createTransport({
  config: transportConfig(profile, sim.baseUrl, 'EMPTY'),
  clock: systemClock(origin),
  redact: (s) => s,
});

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

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
const url = new URL(sim.baseUrl + '/chat/completions');
const body = JSON.stringify({
  model: 'sim-llm',
  messages: [{ role: 'user', content: 'Explain continuous batching in 50 words.' }],
  stream: true,
  max_tokens: TOKENS,
  stream_options: { include_usage: true },
});
function floorRequest(): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on(
          'data',
          floorLines(() => floorChunks++),
        );
        res.on('end', resolve);
        res.on('error', () => resolve());
      },
    );
    req.on('error', () => resolve());
    req.end(body);
  });
}

let chunks = 0;
const countRecord = (r: { firstContentAt: number | null; gapsMs: number[] }) => {
  if (r.firstContentAt === null) return;
  let t = r.firstContentAt;
  if (t >= t0 && t < t1) chunks++;
  for (const g of r.gapsMs) if ((t += g) >= t0 && t < t1) chunks++;
};

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
        if (mode === 'floor') await floorRequest();
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
agent.destroy();
await sim.stop();
