// One bench point in a fresh process (spawned by bench/run.ts with --expose-gc): either find-capacity's real
// stage runner + transport + JSONL writer, or the reference client, at one concurrency against a running
// simulator. Measures CPU and chunks over the measurement window, event-loop delay, peak RSS and the heap
// held per record; writes per-request timings (epoch ms) for the parent to join with the ground truth.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { JsonlWriter } from '../src/io/jsonl.ts';
import type { RequestRecord } from '../src/load/record.ts';
import { runStage } from '../src/load/stage-runner.ts';
import { createTransport } from '../src/load/transport.ts';
import { loadProfile } from '../src/profile/load.ts';
import { runReference, type RefStats, type RefTiming } from './ref-client.ts';

export interface PointArgs {
  client: 'tool' | 'ref';
  baseUrl: string;
  simPid: number;
  concurrency: number;
  warmupMs: number;
  windowMs: number;
  maxTokens: number;
  /** Where to write per-request timings (JSONL) and, for the tool, its requests.jsonl. */
  timingsFile: string;
  recordsFile: string;
  idPrefix: string;
  /** Load-generator worker threads (tool only; 1 = in-process). */
  workers: number;
}

export interface PointResult {
  client: 'tool' | 'ref';
  concurrency: number;
  workers: number;
  windowMs: number;
  cpuMs: number;
  simCpuMs: number;
  chunks: number;
  requests: number;
  failed: number;
  eventLoopDelayP99Ms: number;
  peakRssMb: number;
  heapPerRecordB: number | null;
  heapRetainedPerRecordB: number | null;
  diskPerRecordB: number | null;
  errorClasses: Record<string, number>;
}

const args = JSON.parse(process.argv[2]!) as PointArgs;
const gc = (globalThis as { gc?: () => void }).gc;
const fullGc = () => {
  for (let i = 0; i < 3; i++) gc?.();
};

const origin = performance.now();
const originEpoch = performance.timeOrigin + origin;
const now = () => performance.now() - origin;

/** CPU ms of another process (the simulator) from /proc: utime + stime. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

let peakRss = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);

const ELD_RESOLUTION_MS = 10;
const start = now() + 50;
const ws = start + args.warmupMs;
const we = ws + args.windowMs;
let cpu0 = process.cpuUsage();
let cpu1 = cpu0;
let sim0 = 0;
let sim1 = 0;
let cpuT0 = ws;
let cpuT1 = we;
let refChunks0 = 0;
let refChunks1 = 0;
const refStats: RefStats = { chunks: 0, started: 0, completed: 0, failed: 0 };
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
const atWindowStart = () => {
  cpuT0 = now();
  cpu0 = process.cpuUsage();
  sim0 = procCpuMs(args.simPid);
  refChunks0 = refStats.chunks;
  eld.reset();
};
const atWindowEnd = () => {
  cpuT1 = now();
  cpu1 = process.cpuUsage(cpu0);
  sim1 = procCpuMs(args.simPid);
  refChunks1 = refStats.chunks;
};

fullGc();
let heap0 = process.memoryUsage().heapUsed;
let result: PointResult;

if (args.client === 'ref') {
  const timings: RefTiming[] = [];
  eld.enable();
  setTimeout(atWindowStart, ws - now());
  setTimeout(atWindowEnd, we - now());
  await new Promise((r) => setTimeout(r, start - now()));
  await runReference({
    baseUrl: args.baseUrl,
    concurrency: args.concurrency,
    maxTokens: args.maxTokens,
    now,
    spanMs: args.warmupMs / 2,
    ws,
    we,
    idPrefix: args.idPrefix,
    stats: refStats,
    timings,
  });
  eld.disable();
  writeFileSync(
    args.timingsFile,
    timings
      .filter((t) => t.window)
      .map((t) => JSON.stringify({ id: t.id, t0: originEpoch + t.t0, first: originEpoch + t.first }))
      .join('\n') + '\n',
  );
  result = {
    client: 'ref',
    concurrency: args.concurrency,
    workers: 1,
    windowMs: cpuT1 - cpuT0,
    cpuMs: (cpu1.user + cpu1.system) / 1000,
    simCpuMs: sim1 - sim0,
    chunks: refChunks1 - refChunks0,
    requests: refStats.completed + refStats.failed,
    failed: refStats.failed,
    eventLoopDelayP99Ms: eld.count > 0 ? Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS) : 0,
    peakRssMb: 0,
    heapPerRecordB: null,
    heapRetainedPerRecordB: null,
    diskPerRecordB: null,
    errorClasses: {},
  };
} else {
  const yaml = `name: bench
target: {base_url: "${args.baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: "Explain continuous batching in 50 words."}]
  max_tokens: ${args.maxTokens}
  timeouts: {first_token: 20s, idle: 10s, total: 60s}
ramp: {concurrency: [${args.concurrency}], warmup: ${args.warmupMs}ms, stage: {duration: ${args.windowMs}ms}, drain: 20s}
slo: [p99(ttft) < 10s]
workers: ${args.workers}
`;
  const { profile } = await loadProfile('bench.yaml', { text: yaml, env: {} });
  const writer = new JsonlWriter(args.recordsFile);
  const transport = createTransport({ profile, baseUrl: args.baseUrl, apiKey: 'EMPTY', now, redact: (s) => s });
  fullGc();
  heap0 = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, start - now()));
  setTimeout(atWindowStart, ws - now());
  setTimeout(atWindowEnd, we - now());
  let records: RequestRecord[] | null = null;
  const res = await runStage({
    plan: { index: 0, concurrency: args.concurrency, warmupMs: args.warmupMs, durationMs: args.windowMs, requestLimit: null, drainMs: 20_000 },
    sender: transport,
    now,
    idPrefix: args.idPrefix,
    pickPayload: () => 0,
    onRecord: (rec) => writer.append(rec),
    maxErrorRate: 1,
  });
  records = res.records;
  writer.flush();
  // Content chunks received inside the CPU window, reconstructed from each record's first chunk and gaps.
  let chunks = 0;
  const errorClasses: Record<string, number> = {};
  const lines: string[] = [];
  for (const r of records) {
    if (r.errorClass) errorClasses[r.errorClass] = (errorClasses[r.errorClass] ?? 0) + 1;
    if (r.firstContentAt === null) continue;
    let t = r.firstContentAt;
    if (t >= cpuT0 && t < cpuT1) chunks++;
    for (const g of r.gapsMs) {
      t += g;
      if (t >= cpuT0 && t < cpuT1) chunks++;
    }
    if (r.phase === 'window' && r.ok) lines.push(JSON.stringify({ id: r.id, t0: originEpoch + r.t0, first: originEpoch + r.firstContentAt }));
  }
  writeFileSync(args.timingsFile, lines.join('\n') + '\n');
  fullGc();
  const heapHeld = process.memoryUsage().heapUsed;
  const n = records.length;
  records = null;
  res.records.length = 0;
  writer.close();
  transport.close();
  fullGc();
  const heapAfter = process.memoryUsage().heapUsed;
  result = {
    client: 'tool',
    concurrency: args.concurrency,
    workers: args.workers,
    windowMs: cpuT1 - cpuT0,
    cpuMs: (cpu1.user + cpu1.system) / 1000,
    simCpuMs: sim1 - sim0,
    chunks,
    requests: n,
    failed: Object.values(errorClasses).reduce((a, b) => a + b, 0),
    eventLoopDelayP99Ms: res.health.eventLoopDelayP99Ms,
    peakRssMb: 0,
    // The stage's records themselves: heap freed when they are dropped.
    heapPerRecordB: gc && n > 0 ? (heapHeld - heapAfter) / n : null,
    // What stays once they are dropped (connections, pools, JIT), per record of the stage.
    heapRetainedPerRecordB: gc && n > 0 ? (heapAfter - heap0) / n : null,
    diskPerRecordB: n > 0 ? statSync(args.recordsFile).size / n : null,
    errorClasses,
  };
}
clearInterval(rssTimer);
result.peakRssMb = peakRss / 1024 / 1024;
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
