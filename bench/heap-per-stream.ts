// Heap kept per in-flight request: C streams held open (a slow simulator), then gc and compare with idle. What lives
// as long as a stream is promoted by the GC and marked again and again, so this is a cost per stream, not only memory.
//
//   node --expose-gc bin/run-ts.mjs bench/heap-per-stream.ts [fast|sdk|ref] [streams=200]
import { transportConfig } from '../src/controller/transport-config.ts';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createTransport } from '../src/load/transport.ts';
import { loadProfile } from '../src/profile/load.ts';
import { startSimulator } from '../src/sim/index.ts';
import { systemClock } from '../src/util/clock.ts';

const client = (process.argv[2] ?? 'fast') as 'fast' | 'sdk' | 'ref';
const C = Number(process.argv[3] ?? 200);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const sim = await startSimulator({
  preset: 'large',
  mode: 'process',
  overrides: {
    slots: 100_000,
    step_base_ms: 200,
    step_per_seq_ms: 0,
    prefill_ms_per_1k_tokens: 0,
    jitter: 0,
    default_max_tokens: 64,
  },
});
const { profile } = await loadProfile('heap.yaml', {
  text: `target: {base_url: "${sim.baseUrl}", model: m}\nrequest: {messages: [{role: user, content: hi}], max_tokens: 64}\nramp: {concurrency: [1]}\nslo: ["p99(ttft) < 1s"]\n`,
  env: {},
});
const transport =
  client === 'ref'
    ? null
    : createTransport({
        config: transportConfig(profile, sim.baseUrl, 'x'),
        clock: systemClock(0),
        redact: (s) => s,
        path: client,
      });
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const body = JSON.stringify({
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
  max_tokens: 64,
  stream_options: { include_usage: true },
});
const raw = () =>
  new Promise<void>((resolve) => {
    const req = http.request(
      `${sim.baseUrl}/chat/completions`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', () => {});
        res.on('end', resolve);
      },
    );
    req.end(body);
  });
let n = 0;
const one = () =>
  transport
    ? transport.send({ id: `h${n++}`, stage: 0, phase: 'window', worker: 0, payload: 0, t0: performance.now() })
    : raw();
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
// A first round opens the connections and compiles the code; the second is measured while all C are in flight.
await Promise.all(Array.from({ length: C }, one));
const idle = heap();
const inFlight = Array.from({ length: C }, one);
await new Promise((r) => setTimeout(r, 3000));
const busy = heap();
await Promise.all(inFlight);
console.log(`${client}: ${((busy - idle) / C).toFixed(0)} B of heap per in-flight request (${C} streams)`);
transport?.close();
agent.destroy();
await sim.stop();
