// `npm run bench`: the load generator's own cost, measured against the simulator's ground truth and against a
// reference client (raw node:http + line splitting: the floor). Not part of `npm test`. BENCHMARKS.md has a run.
//
// Every run (one client at one point) gets a fresh simulator child process (so its CPU, lateness and ground truth
// belong to that run alone) and a fresh client process (so peak RSS and JIT state do too). Each client first runs a
// JIT warm-up at the point's load (--jit-warmup ms, discarded), then the measured stage: warm-up, then the window.
//
//   npm run bench [-- --points 1,100,1000x2,5000@50 --window 5000 --warmup 2000 --jit-warmup 3000
//                    --clients ref,tool,tool:sdk --ttft 100 --repeat 1 --json out.json --no-pin]
//
// Point syntax: C[@ITL][:TOKENS][xW] — concurrency C, inter-token latency ITL ms (default 10), output tokens per
// request (default 64), W load-generator worker threads (default --workers, 1). --ttft MS: the simulator's fixed
// first-token delay (default 100; 0 = none): its first_token_delay_ms, prefill done elsewhere, so it stalls no other
// stream; the server's TTFT is that plus one to two steps (ITL). Clients: ref (the floor), tool
// (find-capacity's stage runner + transport + JSONL writer), tool:sdk (the same with the SDK's own fetch and web
// streams). With taskset and 2+ CPUs the simulator (and this process) run on CPU 0 and the client on CPU 1, so that
// neither takes the other's core (--no-pin: let the scheduler place them). Each tool run is paired with the floor run
// of its repeat, every other repeat in reverse order (ref, tool, tool, ref): the pairs table prints both TTFT-overhead
// p99s side by side (difference and ratio) and the CPU ratio, and the targets are judged on the medians over --repeat
// pairs. Per run, the overhead's tail is attributed: its sending and receiving sides, how bunched it is in time, and
// how much of it waited behind a GC pause.
// Env: BENCH_NODE_ARGS (flags for the client process, e.g. --cpu-prof; BENCH_TOOL_NODE_ARGS: the tool's only),
// BENCH_PROFILE_DIR (a CPU profile of each measurement window), BENCH_PROMOTED_DIR (a sampling heap profile of the
// window's allocations that outlived the young generation), BENCH_MARK (print the window's edges on the monotonic clock, for `perf report --time`),
// BENCH_WRAP (a command to run the client under, e.g. perf record).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { relaunchFlags } from '../src/cli/relaunch.ts';
import { startSimulator } from '../src/sim/index.ts';
import type { PointArgs, PointResult } from './point.ts';
import {
  DEFAULT_TOKENS,
  f,
  formatPairs,
  formatTable,
  quantile,
  tailAttribution,
  targetLines,
  type GcPause,
  type Joined,
  type Row,
} from './tables.ts';

const ROOT = resolve(import.meta.dirname, '..');

interface Options {
  points: string[];
  windowMs: number;
  warmupMs: number;
  /** ref, tool, or tool:<transport> to compare transport variants in one run. */
  clients: string[];
  workers: number;
  repeat: number;
  json: string | null;
  transport: string;
  jitWarmupMs: number;
  /** The simulator's first_token_delay_ms. */
  ttftMs: number;
  /** Simulator (and this process) on CPU 0, the client on CPU 1, so that neither takes the other's core. */
  pin: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    points: ['1', '100', '250', '500', '1000', '1000x2', '5000@50', '5000@50x2', '5000@250:16'],
    windowMs: 5000,
    warmupMs: 2000,
    clients: ['ref', 'tool'],
    workers: 1,
    repeat: 1,
    json: null,
    transport: 'fast',
    jitWarmupMs: 3000,
    ttftMs: 100,
    pin: cpus().length >= 2 && hasTaskset(),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1] ?? '';
    if (a === '--no-pin' || a === '--pin') {
      o.pin = a === '--pin';
      continue;
    }
    if (a === '--points') o.points = v.split(',');
    else if (a === '--window') o.windowMs = Number(v);
    else if (a === '--warmup') o.warmupMs = Number(v);
    else if (a === '--clients') o.clients = v.split(',');
    else if (a === '--workers') o.workers = Number(v);
    else if (a === '--repeat') o.repeat = Number(v);
    else if (a === '--json') o.json = v;
    else if (a === '--transport') o.transport = v;
    else if (a === '--jit-warmup') o.jitWarmupMs = Number(v);
    else if (a === '--ttft') {
      o.ttftMs = Number(v);
      if (v.trim() === '' || !Number.isFinite(o.ttftMs) || o.ttftMs < 0)
        throw new Error(`bad --ttft ${v}: expected milliseconds >= 0`);
    } else throw new Error(`unknown argument ${a}`);
    i++;
  }
  return o;
}

interface Point {
  concurrency: number;
  itlMs: number;
  tokens: number;
  workers: number;
}

function parsePoint(s: string, defaultWorkers: number): Point {
  const m = /^(\d+)(?:@(\d+(?:\.\d+)?))?(?::(\d+))?(?:x(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`bad point ${s}: expected C[@ITL][:TOKENS][xWORKERS]`);
  return {
    concurrency: Number(m[1]),
    itlMs: m[2] ? Number(m[2]) : 10,
    tokens: m[3] ? Number(m[3]) : DEFAULT_TOKENS,
    workers: m[4] ? Number(m[4]) : defaultWorkers,
  };
}

interface GroundTruth {
  id: string;
  arrival_ms: number;
  first_token_ms: number | null;
}

function readJsonlFile<T>(path: string): T[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Whether util-linux's taskset can pin processes to CPUs here. */
function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Pins a running process, all its threads, to one CPU. */
function pinProcess(pid: number, cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`taskset could not pin process ${pid} to CPU ${cpu}`);
}

/** The V8 flags the CLI would relaunch itself with on the client's CPUs: --single-threaded-gc on one. */
function cliFlags(pin: boolean, execArgv: readonly string[] = []): string[] {
  const cpus = pin ? 1 : availableParallelism();
  return relaunchFlags({ cpus, execArgv, env: process.env, platform: process.platform }) ?? [];
}

/** Runs one point in a child process; `flush` answers its requests to flush the simulator's ground truth (IPC). */
function runChild(args: PointArgs, flush: () => Promise<boolean>, pin: boolean): Promise<PointResult> {
  const flags = (name: string) => (process.env[name] ?? '').split(' ').filter(Boolean);
  const extra = [...flags('BENCH_NODE_ARGS'), ...(args.client === 'tool' ? flags('BENCH_TOOL_NODE_ARGS') : [])];
  if (args.client === 'tool') extra.push(...cliFlags(pin, extra));
  return new Promise((resolvePromise, reject) => {
    // BENCH_WRAP: a command to run the child under, e.g. `perf record -e cpu-clock -o out.data --`.
    const wrap = (process.env.BENCH_WRAP ?? '').replace(/%t/g, args.idPrefix).split(' ').filter(Boolean);
    const argv = [
      ...(pin ? ['taskset', '-c', '1'] : []),
      ...wrap,
      process.execPath,
      '--expose-gc',
      ...extra,
      join(ROOT, 'bin/run-ts.mjs'),
      join(ROOT, 'bench/point.ts'),
      JSON.stringify(args),
    ];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    // The judge's TTFT-overhead check reads the simulator's ground truth once the simulator has flushed it.
    child.on('message', (m: { type?: string; seq?: number }) => {
      if (m.type === 'flush')
        void flush().then((ok) => child.connected && child.send({ type: 'flushed', seq: m.seq, ok }));
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      // The result is the last JSON line (node flags such as --trace-gc may print other lines).
      const line =
        out
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{"client"'))
          .pop() ?? '';
      if (code !== 0) return reject(new Error(`bench point exited with ${code}: ${out.slice(-2000)}`));
      if (process.env.BENCH_CHILD_LOG) writeFileSync(`${process.env.BENCH_CHILD_LOG}.${args.idPrefix}.txt`, out);
      try {
        resolvePromise(JSON.parse(line) as PointResult);
      } catch (err) {
        reject(new Error(`bench point printed no result: ${out.slice(-2000)}\n${String(err)}`));
      }
    });
  });
}

async function runOne(p: Point, clientSpec: string, o: Options, dir: string, tag: string): Promise<Row> {
  const client: 'tool' | 'ref' = clientSpec.startsWith('tool') ? 'tool' : 'ref';
  const transport = clientSpec.includes(':') ? clientSpec.slice(clientSpec.indexOf(':') + 1) : o.transport;
  const gtPath = join(dir, `${tag}-gt.jsonl`);
  const sim = await startSimulator({
    preset: 'large',
    mode: 'process',
    groundTruthPath: gtPath,
    // Unlimited slots, fixed step = ITL, no prefill and no jitter, a fixed first-token delay (prefill done elsewhere,
    // stalling no stream): TTFT is the delay plus one to two steps, every decoding stream gets a token per step.
    overrides: {
      slots: 100_000,
      step_base_ms: p.itlMs,
      step_per_seq_ms: 0,
      prefill_ms_per_1k_tokens: 0,
      first_token_delay_ms: o.ttftMs,
      jitter: 0,
      default_max_tokens: p.tokens,
    },
  });
  let result: PointResult;
  try {
    const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { pid: number };
    if (o.pin) pinProcess(health.pid, 0);
    // Longer streams (slow ITL) need a longer warm-up so that the stagger and the first requests settle.
    const e2eMs = o.ttftMs + p.tokens * p.itlMs;
    const warmupMs = Math.max(o.warmupMs, Math.min(4000, e2eMs));
    const windowMs = Math.max(o.windowMs, Math.min(10_000, 2 * e2eMs));
    result = await runChild(
      {
        client,
        baseUrl: sim.baseUrl,
        simPid: health.pid,
        concurrency: p.concurrency,
        warmupMs,
        windowMs,
        maxTokens: p.tokens,
        timingsFile: join(dir, `${tag}-timings.jsonl`),
        gcFile: join(dir, `${tag}-gc.jsonl`),
        recordsFile: join(dir, `${tag}-requests.jsonl`),
        idPrefix: tag,
        workers: client === 'tool' ? p.workers : 1,
        transport,
        jitWarmupMs: o.jitWarmupMs,
        groundTruthFile: gtPath,
      },
      () => sim.flushGroundTruth(),
      o.pin,
    );
  } finally {
    await sim.stop();
  }
  const gt = new Map<string, GroundTruth>();
  for (const g of readJsonlFile<GroundTruth>(gtPath)) gt.set(g.id, g);
  const joined: Joined[] = [];
  for (const t of readJsonlFile<{ id: string; t0: number; first: number }>(join(dir, `${tag}-timings.jsonl`))) {
    const g = gt.get(t.id);
    if (!g || g.first_token_ms === null) continue;
    joined.push({ t0: t.t0, first: t.first, arrival: g.arrival_ms, serverFirst: g.first_token_ms });
  }
  const overheads = joined.map((j) => j.first - j.t0 - (j.serverFirst - j.arrival)).sort((a, b) => a - b);
  const serverTtft = joined.map((j) => j.serverFirst - j.arrival).sort((a, b) => a - b);
  const tail = tailAttribution(joined, readJsonlFile<GcPause>(join(dir, `${tag}-gc.jsonl`)));
  const secs = result.windowMs / 1000;
  return {
    ...result,
    client: client === 'tool' && transport !== 'fast' ? `tool:${transport}` : client,
    itlMs: p.itlMs,
    ttftMs: o.ttftMs,
    tokens: p.tokens,
    chunksPerS: result.chunks / secs,
    cpuUsPerChunk: result.chunks > 0 ? (result.cpuMs * 1000) / result.chunks : NaN,
    cpuPercent: (result.cpuMs / result.windowMs) * 100,
    simCpuPercent: (result.simCpuMs / result.windowMs) * 100,
    ttftOverheadP50Ms: quantile(overheads, 0.5),
    ttftOverheadP99Ms: quantile(overheads, 0.99),
    serverTtftP50Ms: quantile(serverTtft, 0.5),
    joined: overheads.length,
    ...tail,
    load1: loadavg()[0]!,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const points = o.points.map((s) => parsePoint(s, o.workers));
  const dir = mkdtempSync(join(tmpdir(), 'fc-bench-'));
  const started = new Date();
  if (o.pin) pinProcess(process.pid, 0);
  const t0 = performance.now();
  console.log(
    `find-capacity bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${started.toISOString()}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `simulator: own process, slots 100000, step = ITL, first-token delay ${o.ttftMs} ms (TTFT = that + 1-2 steps, no stream stalled), no prefill, no jitter, ` +
      `${DEFAULT_TOKENS} tokens unless the point says; window ${o.windowMs} ms after ${o.warmupMs} ms warm-up (longer for slow ITL); files in ${dir}`,
  );
  const toolFlags = cliFlags(o.pin).join(' ') || 'no V8 flags';
  if (o.pin)
    console.log(`pinned: simulator on CPU 0, client on CPU 1; the tool as the CLI runs on one CPU: ${toolFlags}`);
  const rows: Row[] = [];
  let n = 0;
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const p of points) {
      // With worker threads the floor is the one-process reference of the same point: no second ref run.
      // Every other repeat runs the clients in reverse (floor, tool, tool, floor): a drift of the VM's speed over the
      // runs then favours neither side of the pairs.
      const clients = rep % 2 === 1 ? [...o.clients].reverse() : o.clients;
      for (const client of p.workers > 1 ? clients.filter((c) => c !== 'ref') : clients) {
        const tag = `b${n++}-${client.replace(/\W/g, '')}-${p.concurrency}x${p.workers}`;
        const row = { ...(await runOne(p, client, o, dir, tag)), repeat: rep };
        rows.push(row);
        console.log(
          `  ${client.padEnd(4)} C=${String(p.concurrency).padStart(5)} ITL=${p.itlMs}ms T=${p.tokens} W=${row.workers}: ${f(row.chunksPerS, 0)} chunks/s, ${f(row.cpuUsPerChunk)} µs/chunk, ` +
            `server TTFT p50 ${f(row.serverTtftP50Ms, 1)} ms, TTFT overhead p50 ${f(row.ttftOverheadP50Ms, 2)} / p99 ${f(row.ttftOverheadP99Ms, 2)} ms (n=${row.joined}), ELD p99 ${f(row.eventLoopDelayP99Ms)} ms, ` +
            `CPU ${f(row.cpuMs, 0)} ms (sys ${f(row.sysMs, 0)}, main thread ${f(row.mainThreadMs, 0)}), sim CPU ${f(row.simCpuPercent, 0)} %, load ${f(row.load1, 2)}; ` +
            `overhead p99 send ${f(row.sendP99Ms, 2)} / receive ${f(row.receiveP99Ms, 2)} ms, tail ${row.tailRequests} requests in ${row.tailBursts} burst(s), ` +
            `${row.tailBehindGc === null ? '-' : (row.tailBehindGc * 100).toFixed(0)} % behind a GC pause; GC pauses max ${f(row.gcMaxMs, 1)} ms, total ${f(row.gcTotalMs, 0)} ms, ${row.majorGcs} major, ` +
            `${row.longGcsHolding} of ${row.longGcs} pauses >= 2 ms held a first token back`,
        );
      }
    }
  }
  console.log('');
  console.log(formatTable(rows));
  console.log('');
  console.log(formatPairs(rows));
  console.log('');
  for (const l of targetLines(rows)) console.log(`- ${l}`);
  console.log(
    `\n${rows.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const json = o.json ?? join(dir, 'bench.json');
  writeFileSync(
    json,
    JSON.stringify(
      { started: started.toISOString(), node: process.version, cpus: cpus().length, options: o, rows },
      null,
      2,
    ) + '\n',
  );
  console.log(`results: ${json}`);
}

await main();
