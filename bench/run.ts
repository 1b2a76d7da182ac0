// `npm run bench`: the load generator's own cost, measured against the simulator's ground truth and against a
// reference client (raw node:http + line splitting: the floor). Not part of `npm test`.
//
// Every run (one client at one point) gets a fresh simulator child process (so its CPU, lateness and ground truth
// belong to that run alone) and a fresh client process (so peak RSS and JIT state do too).
//
//   npm run bench [-- --points 1,100,250,500,1000 --big 5000@50 --window 6000 --warmup 2000 --clients ref,tool
//                    --workers 1 --repeat 1 --json out.json]
//
// Point syntax: C[@ITL][:TOKENS][xW] — concurrency C, inter-token latency ITL ms (default 10), output tokens per
// request (default 64), W load-generator workers (default --workers).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSimulator } from '../src/sim/index.ts';
import type { PointArgs, PointResult } from './point.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_TOKENS = 64;

interface Options {
  points: string[];
  windowMs: number;
  warmupMs: number;
  clients: ('tool' | 'ref')[];
  workers: number;
  repeat: number;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    points: ['1', '100', '250', '500', '1000', '5000@50', '5000@250:16'],
    windowMs: 6000,
    warmupMs: 2000,
    clients: ['ref', 'tool'],
    workers: 1,
    repeat: 1,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1] ?? '';
    if (a === '--points') o.points = v.split(',');
    else if (a === '--window') o.windowMs = Number(v);
    else if (a === '--warmup') o.warmupMs = Number(v);
    else if (a === '--clients') o.clients = v.split(',') as Options['clients'];
    else if (a === '--workers') o.workers = Number(v);
    else if (a === '--repeat') o.repeat = Number(v);
    else if (a === '--json') o.json = v;
    else throw new Error(`unknown argument ${a}`);
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
  return { concurrency: Number(m[1]), itlMs: m[2] ? Number(m[2]) : 10, tokens: m[3] ? Number(m[3]) : DEFAULT_TOKENS, workers: m[4] ? Number(m[4]) : defaultWorkers };
}

interface GroundTruth {
  id: string;
  arrival_ms: number;
  first_token_ms: number | null;
}

export interface Row extends PointResult {
  itlMs: number;
  tokens: number;
  chunksPerS: number;
  cpuUsPerChunk: number;
  cpuPercent: number;
  simCpuPercent: number;
  ttftOverheadP50Ms: number | null;
  ttftOverheadP99Ms: number | null;
  serverTtftP50Ms: number | null;
  joined: number;
  load1: number;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
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

function runChild(args: PointArgs): Promise<PointResult> {
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...extra, join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'bench/point.ts'), JSON.stringify(args)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`bench point exited with ${code}: ${out}`));
      try {
        resolvePromise(JSON.parse(line) as PointResult);
      } catch (err) {
        reject(new Error(`bench point printed no result: ${out}\n${String(err)}`));
      }
    });
  });
}

async function runOne(p: Point, client: 'tool' | 'ref', o: Options, dir: string, tag: string): Promise<Row> {
  const gtPath = join(dir, `${tag}-gt.jsonl`);
  const sim = await startSimulator({
    preset: 'large',
    mode: 'process',
    groundTruthPath: gtPath,
    // Unlimited slots, fixed step = ITL, no prefill and no jitter: TTFT is one to two steps, every stream gets a token per step.
    overrides: { slots: 100_000, step_base_ms: p.itlMs, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 0, jitter: 0, default_max_tokens: p.tokens },
  });
  let result: PointResult;
  try {
    const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { pid: number };
    // Longer streams (slow ITL) need a longer warm-up so that the stagger and the first requests settle.
    const e2eMs = p.tokens * p.itlMs;
    const warmupMs = Math.max(o.warmupMs, Math.min(4000, e2eMs));
    const windowMs = Math.max(o.windowMs, Math.min(10_000, 2 * e2eMs));
    result = await runChild({
      client,
      baseUrl: sim.baseUrl,
      simPid: health.pid,
      concurrency: p.concurrency,
      warmupMs,
      windowMs,
      maxTokens: p.tokens,
      timingsFile: join(dir, `${tag}-timings.jsonl`),
      recordsFile: join(dir, `${tag}-requests.jsonl`),
      idPrefix: tag,
      workers: client === 'tool' ? p.workers : 1,
    });
  } finally {
    await sim.stop();
  }
  const gt = new Map<string, GroundTruth>();
  for (const g of readJsonlFile<GroundTruth>(gtPath)) gt.set(g.id, g);
  const overheads: number[] = [];
  const serverTtft: number[] = [];
  for (const t of readJsonlFile<{ id: string; t0: number; first: number }>(join(dir, `${tag}-timings.jsonl`))) {
    const g = gt.get(t.id);
    if (!g || g.first_token_ms === null) continue;
    const server = g.first_token_ms - g.arrival_ms;
    serverTtft.push(server);
    overheads.push(t.first - t.t0 - server);
  }
  overheads.sort((a, b) => a - b);
  serverTtft.sort((a, b) => a - b);
  const secs = result.windowMs / 1000;
  return {
    ...result,
    itlMs: p.itlMs,
    tokens: p.tokens,
    chunksPerS: result.chunks / secs,
    cpuUsPerChunk: result.chunks > 0 ? (result.cpuMs * 1000) / result.chunks : NaN,
    cpuPercent: (result.cpuMs / result.windowMs) * 100,
    simCpuPercent: (result.simCpuMs / result.windowMs) * 100,
    ttftOverheadP50Ms: quantile(overheads, 0.5),
    ttftOverheadP99Ms: quantile(overheads, 0.99),
    serverTtftP50Ms: quantile(serverTtft, 0.5),
    joined: overheads.length,
    load1: loadavg()[0]!,
  };
}

const f = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

export function formatTable(rows: Row[]): string {
  const head = [
    'C',
    'ITL',
    'client',
    'W',
    'chunks/s',
    '% ideal',
    'CPU µs/chunk',
    '× floor',
    'CPU %',
    'TTFT ovh p50',
    'p99',
    'ELD p99',
    'peak RSS MB',
    'records B/rec',
    'after B/rec',
    'sim CPU %',
    'failed',
    'load',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    const ref = rows.find((x) => x.client === 'ref' && x.concurrency === r.concurrency && x.itlMs === r.itlMs && x.tokens === r.tokens);
    // Upper bound: every stream gets one token per step.
    const ideal = (r.concurrency * 1000) / r.itlMs;
    lines.push(
      `| ${[
        r.concurrency,
        r.tokens === DEFAULT_TOKENS ? `${r.itlMs} ms` : `${r.itlMs} ms, ${r.tokens} tok`,
        r.client,
        r.workers,
        f(r.chunksPerS, 0),
        f((r.chunksPerS / ideal) * 100, 0),
        f(r.cpuUsPerChunk, 1),
        r.client === 'ref' || !ref ? '1' : f(r.cpuUsPerChunk / ref.cpuUsPerChunk, 2),
        f(r.cpuPercent, 0),
        f(r.ttftOverheadP50Ms, 2),
        f(r.ttftOverheadP99Ms, 2),
        f(r.eventLoopDelayP99Ms, 1),
        f(r.peakRssMb, 0),
        f(r.heapPerRecordB, 0),
        f(r.heapRetainedPerRecordB, 0),
        f(r.simCpuPercent, 0),
        r.failed,
        f(r.load1, 1),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const points = o.points.map((s) => parsePoint(s, o.workers));
  const dir = mkdtempSync(join(tmpdir(), 'fc-bench-'));
  const started = new Date();
  const t0 = performance.now();
  console.log(`find-capacity bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${started.toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`simulator: own process, slots 100000, step = ITL, no prefill, no jitter, ${DEFAULT_TOKENS} tokens unless the point says; window ${o.windowMs} ms after ${o.warmupMs} ms warm-up (longer for slow ITL); files in ${dir}`);
  const rows: Row[] = [];
  let n = 0;
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const p of points) {
      for (const client of o.clients) {
        const tag = `b${n++}-${client}-${p.concurrency}`;
        const row = await runOne(p, client, o, dir, tag);
        rows.push(row);
        console.log(
          `  ${client.padEnd(4)} C=${String(p.concurrency).padStart(5)} ITL=${p.itlMs}ms T=${p.tokens} W=${row.workers}: ${f(row.chunksPerS, 0)} chunks/s, ${f(row.cpuUsPerChunk)} µs/chunk, ` +
            `TTFT overhead p50 ${f(row.ttftOverheadP50Ms, 2)} / p99 ${f(row.ttftOverheadP99Ms, 2)} ms (n=${row.joined}), ELD p99 ${f(row.eventLoopDelayP99Ms)} ms, ` +
            `sim CPU ${f(row.simCpuPercent, 0)} %, load ${f(row.load1, 2)}`,
        );
      }
    }
  }
  console.log('');
  console.log(formatTable(rows));
  console.log(`\n${rows.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const json = o.json ?? join(dir, 'bench.json');
  writeFileSync(json, JSON.stringify({ started: started.toISOString(), node: process.version, cpus: cpus().length, options: o, rows }, null, 2) + '\n');
  console.log(`results: ${json}`);
}

await main();
