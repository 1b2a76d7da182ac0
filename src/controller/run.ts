// The loop that drives stages: plan (decide) → run (stage runner) → judge → record, until stop.
// It owns the run directory; everything it decides comes from the pure functions it calls.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ToolError } from '../errors.ts';
import { JsonlWriter, writeFileAtomicSync } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import { makeRedactor, redactDeep, redactUrl, secretHeaderValues } from '../util/secrets.ts';
import type { RunBudget, StageExecutor } from '../load/executor.ts';
import { createInProcessExecutor } from '../load/stage-runner.ts';
import { createTransport } from '../load/transport.ts';
import { startWorkerPool } from '../load/worker-pool.ts';
import type { StageProgress } from '../model/stage.ts';
import { systemClock } from '../util/clock.ts';
import { transportConfig } from './transport-config.ts';
import type { Profile } from '../profile/types.ts';
import { effectiveDrainMs, planLevels } from '../profile/plan.ts';
import {
  buildSummary,
  environmentMeta,
  redactProfile,
  type StageWithWindow,
  type SummaryJson,
} from '../report/summary.ts';
import { renderReportHtml } from '../report/html.ts';
import { startSimulator, type RunningSimulator } from '../sim/index.ts';
import { TOOL_VERSION } from '../version.ts';
import { mulberry32 } from '../util/prng.ts';
import { decide, levelStatuses } from './decide.ts';
import { judgeStage } from './judge.ts';
import type { StageMeta } from '../model/verdict.ts';
import { GROUND_TRUTH_FILE, GroundTruthReader, measureTtftOverhead, summarizeOverhead } from './ttft-overhead.ts';
import type { Capacity, StageResult } from '../model/verdict.ts';
import type { StageWindow } from '../model/summary.ts';

export type RunEvent =
  | { type: 'target'; baseUrl: string; simulator: string | null }
  | { type: 'run-dir'; path: string }
  | { type: 'stage-start'; index: number; concurrency: number; kind: StageResult['kind'] | 'extend' }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'stage-end'; result: StageResult }
  | { type: 'stopping'; reason: string };

export interface RunOptions {
  profile: Profile;
  env: NodeJS.ProcessEnv;
  /** Overrides profile.report.dir. */
  outDir?: string;
  /** Interrupt: stop sending, let in-flight requests finish for a bounded time, write what was measured. */
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  /** Called once per stage before requests are sent (tests use it to starve the generator). */
  stageHook?: (index: number) => void;
}

export interface RunResult {
  runDir: string;
  summary: SummaryJson;
  capacity: Capacity;
}

/** Fails fast with one clear line when nothing listens at the target. */
export async function checkReachable(baseUrl: string, timeoutMs = 5000): Promise<void> {
  const u = new URL(baseUrl);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new ToolError(
          'target_unreachable',
          `target unreachable: no TCP connection to ${redactUrl(baseUrl)} within ${timeoutMs} ms`,
          'check base_url and that the service is up',
        ),
      );
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new ToolError(
          'target_unreachable',
          `target unreachable: ${redactUrl(baseUrl)} (${err.code ?? err.message})`,
          'check base_url and that the service is up',
        ),
      );
    });
  });
}

export function runDirName(name: string, date: Date): string {
  const ts = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${name}-${ts}`;
}

/** The capacity implied by the stages judged so far, when the run stops before decide does. */
export function provisionalCapacity(
  history: readonly StageResult[],
  levels: readonly number[],
  profile: Profile,
  reason: Capacity['stopReason'],
  detail: string,
): Capacity {
  const step = history.length > 0 ? decide({ profile, levels, history }) : null;
  if (step?.kind === 'stop')
    return { ...step.capacity, stopReason: reason, stopDetail: `${detail}; ${step.capacity.stopDetail}` };
  const status = levelStatuses(history, profile.verdict.confirmFailures);
  const passes = [...status].filter(([, st]) => st === 'PASS').map(([c]) => c);
  // An unconfirmed FAIL or an INVALID level still caps what can be claimed.
  const fails = [...status].filter(([, st]) => st !== 'PASS').map(([c]) => c);
  const minFail = fails.length > 0 ? Math.min(...fails) : Infinity;
  const below = passes.filter((c) => c < minFail);
  return {
    concurrency: below.length > 0 ? Math.max(...below) : null,
    stopReason: reason,
    stopDetail: detail,
    bracket: null,
  };
}

export async function runCapacitySearch(o: RunOptions): Promise<RunResult> {
  const { profile } = o;
  const emit = o.onEvent ?? (() => {});
  const startedAt = new Date();
  const origin = performance.now();
  const clockOriginEpochMs = performance.timeOrigin + origin;
  const now = () => performance.now() - origin;

  let apiKey = 'EMPTY';
  if (profile.target.apiKeyEnv) {
    const v = o.env[profile.target.apiKeyEnv];
    if (!v)
      throw new ToolError(
        'missing_api_key',
        `environment variable ${profile.target.apiKeyEnv} (target.api_key_env) is not set or empty`,
        `export ${profile.target.apiKeyEnv}=... before running`,
      );
    apiKey = v;
  }
  // Only credentials: redacting every header value would also blank harmless text such as `application/json`.
  const secrets = [apiKey === 'EMPTY' ? null : apiKey, ...secretHeaderValues(profile.target.headers)];
  const redact = makeRedactor(secrets);

  const runDir = join(o.outDir ?? profile.report.dir, runDirName(profile.name, startedAt));
  // The simulator writes its ground truth (ids and times only) into the run directory, so the directory exists
  // before the simulator starts; if the run ends before announcing it, it holds nothing worth keeping.
  const simConfig = profile.target.simulator;
  const createdDir = simConfig ? mkdirSync(runDir, { recursive: true }) : undefined;
  let announced = false;
  let sim: RunningSimulator | null = null;
  let groundTruth: GroundTruthReader | null = null;
  try {
    if (simConfig) {
      // A child process, not a worker thread: measured here, a simulator thread in this process adds 5–25 ms of event-loop delay to the load generator.
      sim = await startSimulator({
        preset: simConfig.preset,
        overrides: simConfig.overrides as Record<string, never>,
        mode: 'process',
        groundTruthPath: join(runDir, GROUND_TRUTH_FILE),
      });
      groundTruth = await GroundTruthReader.open(join(runDir, GROUND_TRUTH_FILE));
    }
    const baseUrl = sim ? sim.baseUrl : profile.target.baseUrl!;
    emit({ type: 'target', baseUrl: redactUrl(baseUrl), simulator: simConfig?.preset ?? null });
    await checkReachable(baseUrl);

    mkdirSync(runDir, { recursive: true });
    // profile.json first: a directory announced to the user is always one `find-capacity report` can rebuild.
    writeFileAtomicSync(join(runDir, 'profile.json'), JSON.stringify(redactProfile(profile), null, 2) + '\n');
    emit({ type: 'run-dir', path: runDir });
    announced = true;
    const requestsOut = new JsonlWriter(join(runDir, 'requests.jsonl'));
    const stagesOut = new JsonlWriter(join(runDir, 'stages.jsonl'));
    const rng = mulberry32(profile.request.seed);
    const nPayloads = profile.request.payloads.length;
    const pickPayload = nPayloads <= 1 ? () => 0 : () => Math.floor(rng() * nPayloads);
    const idPrefix = `fc${Math.floor(clockOriginEpochMs).toString(36)}`;
    const clock = systemClock(origin);
    // workers > 1: the requests run on worker threads (src/load/worker-pool.ts); this thread only merges and judges.
    const executor: StageExecutor =
      profile.workers > 1
        ? await startWorkerPool({
            workers: profile.workers,
            clock,
            idPrefix,
            transport: transportConfig(profile, baseUrl, apiKey),
            seed: profile.request.seed,
            secrets,
            originEpochMs: clockOriginEpochMs,
            path: 'fast',
          })
        : createInProcessExecutor({
            transport: createTransport({ config: transportConfig(profile, baseUrl, apiKey), now, redact }),
            clock,
            idPrefix,
            pickPayload,
          });
    const levels = planLevels(profile.ramp.concurrency);
    const history: StageResult[] = [];
    const staged: StageWithWindow[] = [];
    let nextIndex = 0;
    let totalRequests = 0;
    let totalOutputTokens = 0;
    let budgetReason: Capacity['stopReason'] | null = null;
    const budgetExceeded = () => {
      if (budgetReason) return true;
      if (now() >= profile.limits.maxDurationMs) budgetReason = 'limit_duration';
      else if (totalRequests >= profile.limits.maxRequests) budgetReason = 'limit_requests';
      else if (totalOutputTokens >= profile.limits.maxOutputTokens) budgetReason = 'limit_output_tokens';
      return budgetReason !== null;
    };
    const budget: RunBudget = {
      remainingRequests: () => Math.max(0, profile.limits.maxRequests - totalRequests),
      deadlineMs: profile.limits.maxDurationMs,
      countSent: (n) => (totalRequests += n),
      exceeded: budgetExceeded,
    };

    let capacity: Capacity | null = null;
    try {
      for (;;) {
        if (o.signal?.aborted) {
          capacity = provisionalCapacity(history, levels, profile, 'interrupted', 'interrupted by the user');
          break;
        }
        if (budgetExceeded()) {
          capacity = provisionalCapacity(history, levels, profile, budgetReason!, budgetDetail(budgetReason!, profile));
          break;
        }
        const step = decide({ profile, levels, history });
        if (step.kind === 'stop') {
          capacity = step.capacity;
          break;
        }
        const windows: StageWindow[] = [];
        const groupRecords: RequestRecord[] = [];
        let eldMax = 0;
        let cpuSum = 0;
        // Pooled over the extensions like the records; null once an attempt's ground truth could not be read.
        let overheadSamples: number[] | null = groundTruth ? [] : null;
        let result: StageResult;
        let meta: StageMeta;
        // An INCONCLUSIVE stage is extended: another window at the same concurrency, pooled with the first.
        for (let extension = 0; ; extension++) {
          const index = nextIndex++;
          emit({
            type: 'stage-start',
            index,
            concurrency: step.concurrency,
            kind: extension > 0 ? 'extend' : step.why,
          });
          o.stageHook?.(index);
          const plan = {
            index,
            load: { kind: 'closed' as const, concurrency: step.concurrency },
            warmupMs: profile.ramp.warmupMs,
            durationMs: profile.ramp.stage.durationMs,
            requestLimit: profile.ramp.stage.requests,
            // Requests are followed to their end or their own timeout: the drain bound never cuts the tail short.
            drainMs: effectiveDrainMs(profile),
          };
          const res = await executor.runStage(plan, {
            onRecord: (rec: RequestRecord) => {
              totalOutputTokens += rec.outputTokens;
              requestsOut.append(rec);
            },
            maxErrorRate: profile.stop.maxErrorRate,
            stopSignal: o.signal,
            budget,
            onProgress: (progress: StageProgress) => emit({ type: 'progress', progress }),
          });
          requestsOut.flush();
          if (overheadSamples !== null) {
            const samples = await measureTtftOverhead(res.records, () => sim!.flushGroundTruth(), groundTruth!);
            if (samples === null) overheadSamples = null;
            else for (const x of samples) overheadSamples.push(x);
          }
          windows.push(res.window);
          for (const r of res.records) groupRecords.push(r);
          eldMax = Math.max(eldMax, res.health.eventLoopDelayP99Ms);
          cpuSum += res.health.cpuPercent;
          const final =
            extension >= profile.verdict.maxExtensions ||
            res.stoppedBy !== null ||
            o.signal?.aborted === true ||
            budgetExceeded();
          meta = {
            window: windows[0]!,
            windows: [...windows],
            kind: step.why,
            final,
            stoppedBy: res.stoppedBy,
            eventLoopDelayP99Ms: eldMax,
            cpuPercent: cpuSum / windows.length,
            ttftOverhead: overheadSamples === null ? null : summarizeOverhead(overheadSamples),
          };
          result = judgeStage(profile, groupRecords, meta, final);
          if (result.verdict !== 'INCONCLUSIVE') break;
          emit({ type: 'stage-end', result });
        }
        stagesOut.append({ type: 'stage', ...meta });
        stagesOut.flush();
        // A stage cut short by an interrupt or a safety limit is reported but never decides the capacity.
        if (!result.partial) history.push(result);
        staged.push({
          result,
          windowStartMs: meta.window.startMs,
          windowEndMs: windows[windows.length - 1]!.endMs,
          stoppedBy: meta.stoppedBy,
          windows,
        });
        emit({ type: 'stage-end', result });
      }
    } finally {
      await executor.close();
      requestsOut.close();
    }
    stagesOut.append({ type: 'end', stop_reason: capacity.stopReason, stop_detail: capacity.stopDetail });
    stagesOut.close();
    const finishedAt = new Date();
    const summary = buildSummary(profile, staged, capacity, {
      toolVersion: TOOL_VERSION,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      baseUrl,
      clockOriginEpochMs,
      interrupted: capacity.stopReason === 'interrupted',
      ...environmentMeta(),
    });
    const safe = redactDeep(summary, redact);
    writeFileAtomicSync(join(runDir, 'summary.json'), JSON.stringify(safe, null, 2) + '\n');
    writeFileAtomicSync(join(runDir, 'report.html'), renderReportHtml(safe));
    return { runDir, summary: safe, capacity };
  } finally {
    await groundTruth?.close().catch(() => {});
    await sim?.stop();
    if (!announced && createdDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  }
}

export function budgetDetail(reason: Capacity['stopReason'], profile: Profile): string {
  if (reason === 'limit_duration')
    return `the run reached limits.max_duration (${profile.limits.maxDurationMs / 1000} s)`;
  if (reason === 'limit_requests') return `the run reached limits.max_requests (${profile.limits.maxRequests})`;
  return `the run reached limits.max_output_tokens (${profile.limits.maxOutputTokens})`;
}
