// CPU per chunk of the floor (bare node:http + line splitting) and the transport in one process, in alternating
// phases. This VM's speed drifts by ±25 % within minutes, which two separate runs cannot tell from a difference of
// the code; phases of a few seconds, alternated ABAB/BABA, see the same drift. Each phase runs C streams of one client
// for PHASE_MS and measures its middle; the next starts once they end. Both share one heap and JIT, so the floor
// pays for some of the tool's garbage: a cross-check of `npm run bench`, not its judge (BENCHMARKS.md).
//
//   taskset -c 1 node bin/run-ts.mjs bench/ab.ts [rounds] [concurrency] [tokens]
//
// To compare two variants of the transport, give the second client a switch of its own in `phase`.
import { spawnSync } from 'node:child_process';
import { benchTransport, chunksWithin, floorRequester, startBenchSimulator } from './one-process.ts';

const clientA = 'floor';
const clientB = 'tool';
const ROUNDS = Number(process.argv[2] ?? 8);
const C = Number(process.argv[3] ?? 100);
const TOKENS = Number(process.argv[4] ?? 64);
/** A stream's length in ms (first-token delay + one token per 10 ms step): the stagger of a phase's starts. */
const STREAM_MS = 100 + TOKENS * 10;
const PHASE_MS = 3500;
const SKIP_MS = 1000;
const MEASURE_MS = 2000;

const sim = await startBenchSimulator(100, TOKENS);
const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { pid: number };
spawnSync('taskset', ['-a', '-p', '-c', '0', String(health.pid)], { stdio: 'ignore' });

const origin = performance.now();
const now = () => performance.now() - origin;
const transport = await benchTransport(sim.baseUrl, TOKENS, origin);
let floorChunks = 0;
const floor = floorRequester(sim.baseUrl, TOKENS, () => floorChunks++);

let seq = 0;
/** One phase of `client`: CPU µs per chunk over its middle. */
async function phase(client: string): Promise<number> {
  const start = now();
  const ws = start + SKIP_MS;
  const we = ws + MEASURE_MS;
  let cpu0 = process.cpuUsage();
  let cpu = cpu0;
  let floor0 = 0;
  let floor1 = 0;
  const t0 = setTimeout(() => ((cpu0 = process.cpuUsage()), (floor0 = floorChunks)), ws - now());
  const t1 = setTimeout(() => ((cpu = process.cpuUsage(cpu0)), (floor1 = floorChunks)), we - now());
  let chunks = 0;
  await Promise.all(
    Array.from({ length: C }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * STREAM_MS) / C));
      while (now() < start + PHASE_MS) {
        if (client === 'floor') {
          await floor.request();
          continue;
        }
        // Awaited first: `chunks += f(await …)` would read chunks before the wait and lose the others' counts.
        const rec = await transport.send({
          id: `ab-${seq++}`,
          stage: 0,
          phase: 'window',
          worker: 0,
          payload: 0,
          t0: now(),
        });
        chunks += chunksWithin(rec, ws, we);
      }
    }),
  );
  clearTimeout(t0);
  clearTimeout(t1);
  if (client === 'floor') chunks = floor1 - floor0;
  return (cpu.user + cpu.system) / chunks;
}

// Warm-up of both, discarded.
for (const c of [clientA, clientB, clientA, clientB]) await phase(c);
const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [clientA, clientB] : [clientB, clientA];
  for (const c of order) (c === clientA ? a : b).push(await phase(c));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const ratios = a.map((x, i) => b[i]! / x);
console.log(`${clientA}: ${a.map((x) => x.toFixed(2)).join(' ')} µs/chunk, median ${median(a).toFixed(2)}`);
console.log(`${clientB}: ${b.map((x) => x.toFixed(2)).join(' ')} µs/chunk, median ${median(b).toFixed(2)}`);
console.log(
  `${clientB} ÷ ${clientA} per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}, median ${median(ratios).toFixed(3)}`,
);
transport.close();
floor.close();
await sim.stop();
