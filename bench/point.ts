// One bench point in a fresh process (spawned by bench/run.ts with --expose-gc): either find-capacity's real
// stage runner + transport + JSONL writer, or the reference client, at one concurrency against a running
// simulator. Measures CPU and chunks over the measurement window, event-loop delay, peak RSS and the heap
// held per record; writes per-request timings (epoch ms) for the parent to join with the ground truth.
import { transportConfig } from '../src/controller/transport-config.ts';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { judgeStage } from '../src/controller/judge.ts';
import { GroundTruthReader, measureTtftOverhead, summarizeOverhead } from '../src/controller/ttft-overhead.ts';
import { JsonlWriter } from '../src/io/jsonl.ts';
import type { RequestRecord } from '../src/model/record.ts';
import type { StageExecutor, StageHooks } from '../src/load/executor.ts';
import { createRunBudget } from '../src/controller/budget.ts';
import { createInProcessExecutor } from '../src/load/stage-runner.ts';
import type { StagePlan, StageRunResult } from '../src/model/stage.ts';
import { systemClock } from '../src/util/clock.ts';
import { startWorkerPool } from '../src/load/worker-pool.ts';
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
  /** Where to write the window's GC pauses (JSONL, epoch ms), for the tail attribution. */
  gcFile: string;
  /** The simulator's ground-truth log: the judge's TTFT-overhead check reads it (after a flush asked over IPC). */
  groundTruthFile: string;
  idPrefix: string;
  /** Load-generator worker threads (tool only; 1 = in-process). */
  workers: number;
  /** JIT warm-up before the measured stage (ms of short requests; 0 = none). */
  jitWarmupMs: number;
  /** The transport's path: 'fast' (default) or 'sdk' (the SDK's own fetch and web streams). */
  transport?: string;
}

export interface PointResult {
  client: 'tool' | 'ref';
  concurrency: number;
  workers: number;
  windowMs: number;
  cpuMs: number;
  /** Of which system (kernel) time. */
  sysMs: number;
  /** Of which the main thread (the event loop), the rest being GC helpers and other threads. */
  mainThreadMs: number;
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
  /** What find-capacity's judge says about this stage's generator health (tool only): INVALID problems, warnings. */
  judged: { verdict: string; problems: string[]; warnings: string[] } | null;
}

const args = JSON.parse(process.argv[2]!) as PointArgs;

/** Asks the bench (which runs the simulator) to flush its ground truth; false when it could not. */
let flushSeq = 0;
function flushGroundTruth(): Promise<boolean> {
  const seq = ++flushSeq;
  return new Promise((resolve) => {
    if (!process.send) return resolve(false);
    const onMessage = (m: { type?: string; seq?: number; ok?: boolean }) => {
      if (m.type !== 'flushed' || m.seq !== seq) return;
      process.off('message', onMessage);
      resolve(m.ok === true);
    };
    process.on('message', onMessage);
    process.send({ type: 'flush', seq });
  });
}
const gc = (globalThis as { gc?: () => void }).gc;
const fullGc = () => {
  for (let i = 0; i < 3; i++) gc?.();
};

const origin = performance.now();
const originEpoch = performance.timeOrigin + origin;
const now = () => performance.now() - origin;

const mark = (what: string) => {
  // With the monotonic clock in seconds, for `perf record -k CLOCK_MONOTONIC` and `perf report --time a,b`.
  if (process.env.BENCH_MARK)
    process.stdout.write(
      `=== ${what} ${now().toFixed(0)} ms, monotonic ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} s\n`,
    );
};

/** CPU ms of a process or thread from /proc: utime + stime. */
function procCpuMs(pid: number, path = `/proc/${pid}/stat`): number {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** The profile the tool runs with, for the JIT warm-up and the measured stage alike. */
const profileYaml = (maxTokens: number, concurrency: number) => `name: bench
target: {base_url: "${args.baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: "Explain continuous batching in 50 words."}]
  max_tokens: ${maxTokens}
  timeouts: {first_token: 20s, idle: 10s, total: 60s}
ramp: {concurrency: [${concurrency}], warmup: ${args.warmupMs}ms, stage: {duration: ${args.windowMs}ms}, drain: 20s}
# The judge's health limits follow the tightest latency SLO: max(30 ms, 5 %) of event-loop delay p99 here.
slo: [p99(ttft) < 500ms]
workers: ${args.workers}
`;

/**
 * JIT warm-up, discarded: the same client at the same concurrency for `args.jitWarmupMs` before the measured stage.
 * The per-request code (the SDK's request building, node:http's ClientRequest) runs ~64 times less often than the
 * per-chunk code, so V8 takes 10–20 s of load to optimise all of it: the first stage of a real run pays for that,
 * the later ones do not. Both clients get the same warm-up, so the table compares steady states.
 */
type RunTool = (
  plan: StagePlan,
  onRecord: (r: RequestRecord) => void,
  stageStartMs?: number,
) => Promise<StageRunResult>;

async function jitWarmup(runTool: RunTool | null): Promise<void> {
  if (args.jitWarmupMs <= 0) return;
  const until = now() + args.jitWarmupMs;
  if (runTool === null) {
    const stats: RefStats = { chunks: 0, started: 0, completed: 0, failed: 0 };
    await runReference({
      baseUrl: args.baseUrl,
      concurrency: args.concurrency,
      maxTokens: args.maxTokens,
      now,
      spanMs: Math.min(args.jitWarmupMs / 2, args.warmupMs / 2),
      ws: until,
      we: until,
      idPrefix: `${args.idPrefix}-jit`,
      stats,
      timings: [],
    });
    return;
  }
  await runTool(
    {
      // A stage index of its own: its request ids differ from the measured stage's (index 0).
      index: 1,
      load: { kind: 'closed', concurrency: args.concurrency },
      warmupMs: 0,
      durationMs: args.jitWarmupMs,
      requestLimit: null,
      drainMs: 20_000,
    },
    () => {},
  );
}
/** The hooks a real run gives a stage (controller/run.ts): the record, the budget's count, the live progress. */
function runHooks(onRecord: (r: RequestRecord) => void): StageHooks {
  const budget = createRunBudget(profile.limits, systemClock(origin));
  return {
    onRecord: (rec) => {
      budget.countRecord(rec);
      onRecord(rec);
    },
    // Not printed (no TTY, as in CI), but computed every 500 ms as a run computes it.
    onProgress: () => {},
    maxErrorRate: 1,
    budget,
  };
}

mark('start');
const { profile } = await loadProfile('bench.yaml', { text: profileYaml(args.maxTokens, args.concurrency), env: {} });
const path = (args.transport ?? 'fast') as 'fast' | 'sdk';
// One transport (or one pool of worker threads) for the warm-up and the measured stage, as for every stage of a run.
let runTool: RunTool | null = null;
let closeTool = async (): Promise<void> => {};
if (args.client === 'tool' && args.workers > 1) {
  const pool = await startWorkerPool({
    workers: args.workers,
    clock: systemClock(origin),
    idPrefix: args.idPrefix,
    transport: transportConfig(profile, args.baseUrl, 'EMPTY'),
    seed: profile.request.seed,
    secrets: [],
    originEpochMs: originEpoch,
    path,
  });
  runTool = (plan, onRecord) => pool.runStage(plan, runHooks(onRecord));
  closeTool = () => pool.close();
} else if (args.client === 'tool') {
  const transport = createTransport({
    config: transportConfig(profile, args.baseUrl, 'EMPTY'),
    clock: systemClock(origin),
    redact: (x: string) => x,
    path,
  });
  const executor: StageExecutor = createInProcessExecutor({
    transport,
    clock: systemClock(origin),
    idPrefix: args.idPrefix,
    pickPayload: () => 0,
  });
  runTool = (plan, onRecord, stageStartMs) => executor.runStage({ ...plan, startMs: stageStartMs }, runHooks(onRecord));
  closeTool = () => executor.close();
}
await jitWarmup(runTool);
mark('jit warm-up done');

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
let main0 = 0;
let main1 = 0;
let refChunks0 = 0;
let refChunks1 = 0;
const refStats: RefStats = { chunks: 0, started: 0, completed: 0, failed: 0 };
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
// BENCH_PROFILE_DIR: a CPU profile of the measurement window only (no start-up, no drain).
const profileDir = process.env.BENCH_PROFILE_DIR;
// BENCH_PROMOTED_DIR: a sampling heap profile of the window's allocations that outlived the young generation.
const promotedDir = process.env.BENCH_PROMOTED_DIR;
const session = profileDir || promotedDir ? new Session() : null;
if (session) {
  mkdirSync((profileDir ?? promotedDir)!, { recursive: true });
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
}
// GC pauses of the main thread (one entry per collection), to attribute the TTFT tail (bench/run.ts).
const gcPauses: { at: number; ms: number; kind: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcPauses.push({
      at: performance.timeOrigin + e.startTime,
      ms: e.duration,
      kind: (e as PerformanceEntry & { detail: { kind: number } }).detail.kind,
    });
});
gcObserver.observe({ entryTypes: ['gc'] });
const writeGcPauses = () => {
  gcObserver.disconnect();
  const inWindow = gcPauses.filter((g) => g.at >= originEpoch + cpuT0 && g.at < originEpoch + cpuT1);
  writeFileSync(args.gcFile, inWindow.map((g) => JSON.stringify(g)).join('\n') + '\n');
};
const atWindowStart = () => {
  mark('window start');
  if (profileDir) session?.post('Profiler.start');
  if (promotedDir)
    session?.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
  cpuT0 = now();
  cpu0 = process.cpuUsage();
  sim0 = procCpuMs(args.simPid);
  main0 = procCpuMs(0, `/proc/self/task/${process.pid}/stat`);
  refChunks0 = refStats.chunks;
  eld.reset();
};
const atWindowEnd = () => {
  mark('window end');
  cpuT1 = now();
  cpu1 = process.cpuUsage(cpu0);
  sim1 = procCpuMs(args.simPid);
  main1 = procCpuMs(0, `/proc/self/task/${process.pid}/stat`);
  refChunks1 = refStats.chunks;
  if (profileDir)
    session?.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(`${profileDir}/${args.idPrefix}.cpuprofile`, JSON.stringify(res.profile));
    });
  if (promotedDir)
    session?.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) writeFileSync(`${promotedDir}/${args.idPrefix}.heapprofile`, JSON.stringify(res.profile));
    });
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
    sysMs: cpu1.system / 1000,
    mainThreadMs: main1 - main0,
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
    judged: null,
  };
} else {
  const writer = new JsonlWriter(args.recordsFile);
  fullGc();
  heap0 = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, start - now()));
  setTimeout(atWindowStart, ws - now());
  setTimeout(atWindowEnd, we - now());
  let records: RequestRecord[] | null = null;
  const res = await runTool!(
    {
      index: 0,
      load: { kind: 'closed', concurrency: args.concurrency },
      warmupMs: args.warmupMs,
      durationMs: args.windowMs,
      requestLimit: null,
      drainMs: 20_000,
    },
    process.env.BENCH_NO_JSONL ? () => {} : (rec) => writer.append(rec),
    start,
  );
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
    if (r.phase === 'window' && r.ok)
      lines.push(JSON.stringify({ id: r.id, t0: originEpoch + r.t0, first: originEpoch + r.firstContentAt }));
  }
  writeFileSync(args.timingsFile, lines.join('\n') + '\n');
  // As runCapacitySearch does against the built-in simulator: the TTFT overhead from its ground truth, judged too.
  const reader = await GroundTruthReader.open(args.groundTruthFile);
  const samples = await measureTtftOverhead(records, flushGroundTruth, reader);
  await reader.close();
  const ttftOverhead = samples === null ? null : summarizeOverhead(samples);
  const verdict = judgeStage(profile, records, {
    window: res.window,
    windows: [res.window],
    kind: 'ramp',
    final: true,
    stoppedBy: res.stoppedBy,
    eventLoopDelayP99Ms: res.health.eventLoopDelayP99Ms,
    cpuPercent: res.health.cpuPercent,
    ttftOverhead,
  });
  const judged = {
    verdict: verdict.verdict,
    problems: verdict.health.problems,
    warnings: verdict.reasons.filter((r) => r.startsWith('warning: ')).map((r) => r.slice(9)),
  };
  fullGc();
  const heapHeld = process.memoryUsage().heapUsed;
  const n = records.length;
  records = null;
  res.records.length = 0;
  writer.close();
  await closeTool();
  fullGc();
  const heapAfter = process.memoryUsage().heapUsed;
  result = {
    client: 'tool',
    concurrency: args.concurrency,
    workers: args.workers,
    windowMs: cpuT1 - cpuT0,
    cpuMs: (cpu1.user + cpu1.system) / 1000,
    sysMs: cpu1.system / 1000,
    mainThreadMs: main1 - main0,
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
    judged,
  };
}
writeGcPauses();
// This process ran only this point: its lifetime peak is the point's peak (getrusage, no sampling cost).
result.peakRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
