// The loop that drives stages: decide what runs next, run it, fold it, until decide says stop.
import { join } from 'node:path';
import type { StageExecutor } from '../load/executor.ts';
import type { LoadSpec, StagePlan, StageProgress, StageRunResult } from '../model/stage.ts';
import { stageSeed } from '../load/arrivals.ts';
import { DEFAULTS } from '../profile/keys.ts';
import type { Capacity, StageResult } from '../model/verdict.ts';
import { effectiveDrainMs, levelUnit, rampLevels } from '../profile/plan.ts';
import type { Profile } from '../profile/types.ts';
import { buildSummary, environmentMeta, type SummaryJson } from '../report/summary.ts';
import { systemClock, type RunClock } from '../util/clock.ts';
import { redactDeep, redactUrl } from '../util/secrets.ts';
import { TOOL_VERSION } from '../version.ts';
import { budgetDetail, createRunBudget, type RunBudgetState } from './budget.ts';
import { decide, type NextStep, type RunStep } from './decide.ts';
import { createExecutor } from './executors.ts';
import { emptyFold, foldStage, provisionalCapacity, type FoldState } from './fold.ts';
import { sloFrontier } from './frontier.ts';
import { readRunRecords } from './run-dir.ts';
import { RunFiles, runDirName } from './run-files.ts';
import { startServerMetrics, type ServerMetricsRun } from './server-metrics.ts';
import { groupMeta, poolAttempt, type StageGroup } from './stage-group.ts';
import { checkReachable, openTarget, type Target } from './target.ts';

export type RunEvent =
  | { type: 'target'; baseUrl: string; simulator: string | null }
  | { type: 'run-dir'; path: string }
  // `stage` numbers the stages as the report does (0, 1, 2, ...); an extension is another `attempt` of the same
  // stage. `index` is the attempt's own index, the `stage` field of its records.
  | {
      type: 'stage-start';
      stage: number;
      attempt: number;
      index: number;
      /** The stage's concurrency; 0 in a rate run, whose stages carry `rate` (req/s). */
      concurrency: number;
      rate?: number;
      kind: StageResult['kind'];
    }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'stage-end'; stage: number; result: StageResult }
  | { type: 'stopping'; reason: string }
  /** A one-time remark for the user (e.g. the server has no /metrics, an agent connected or was lost). */
  | { type: 'notice'; message: string };

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
  /** The run's clock (tests: a fake one); the real one by default. */
  clock?: RunClock;
  /** Builds the stage executor (tests: a fake one); threads or this thread by default. */
  executor?: (target: Target, clock: RunClock, idPrefix: string) => Promise<StageExecutor>;
  /** Resolves the target (tests: a fake one); the simulator or base_url by default, checked for reachability. */
  target?: (runDir: string) => Promise<Target>;
  /** Remote agents: how long to wait for agents that do not listen yet (default 10 s). */
  agentsWaitMs?: number;
}

export interface RunResult {
  runDir: string;
  summary: SummaryJson;
  capacity: Capacity;
}

/** What one search needs while it runs: the pieces the loop below hands around. */
interface Search {
  o: RunOptions;
  profile: Profile;
  clock: RunClock;
  executor: StageExecutor;
  target: Target;
  files: RunFiles;
  budget: RunBudgetState;
  levels: number[];
  emit: (e: RunEvent) => void;
  nextIndex: number;
  /** The server's /metrics scraper; absent or null when not scraped. */
  serverMetrics?: ServerMetricsRun | null;
}

export async function runCapacitySearch(o: RunOptions): Promise<RunResult> {
  const { profile } = o;
  const emit = o.onEvent ?? (() => {});
  const clock = o.clock ?? systemClock();
  const startedAt = new Date();
  const files = new RunFiles(join(o.outDir ?? profile.report.dir, runDirName(profile.name, startedAt)));
  if (profile.target.simulator && !o.target) files.create();
  try {
    const target = await (o.target ?? ((dir) => defaultTarget(profile, o.env, dir, emit)))(files.dir);
    try {
      files.open(profile);
      emit({ type: 'run-dir', path: files.dir });
      const idPrefix = `fc${Math.floor(clock.originEpochMs).toString(36)}`;
      const context = {
        env: o.env,
        notice: (message: string) => emit({ type: 'notice', message }),
        agentsWaitMs: o.agentsWaitMs,
      };
      const executor = await (o.executor ?? ((t, c, id) => createExecutor(profile, t, c, id, context)))(
        target,
        clock,
        idPrefix,
      );
      const budget = createRunBudget(profile.limits, clock);
      const search: Search = { o, profile, clock, executor, target, files, budget, levels: [], emit, nextIndex: 0 };
      search.levels = rampLevels(profile.ramp);
      search.serverMetrics = await openServerMetrics(profile, target, clock, files, emit);
      const { state, capacity } = await runSearch(search);
      files.writeEnd(capacity.stopReason, capacity.stopDetail);
      return finish(search, state, capacity, startedAt);
    } finally {
      await target.close();
    }
  } finally {
    files.discardIfUnannounced();
  }
}

async function defaultTarget(profile: Profile, env: NodeJS.ProcessEnv, runDir: string, emit: (e: RunEvent) => void) {
  const target = await openTarget(profile, env, runDir);
  try {
    emit({ type: 'target', baseUrl: redactUrl(target.baseUrl), simulator: target.simulator });
    await checkReachable(target.baseUrl);
    return target;
  } catch (err) {
    await target.close();
    throw err;
  }
}

function openServerMetrics(
  profile: Profile,
  target: Target,
  clock: RunClock,
  files: RunFiles,
  emit: (e: RunEvent) => void,
) {
  const notice = (message: string) => emit({ type: 'notice', message });
  const { apiKey, redact } = target;
  const sink = files;
  return startServerMetrics({
    url: target.metricsUrl,
    apiKey,
    headers: target.headers,
    clock,
    redact,
    sink,
    notice,
  });
}

/** The search itself: one stage (or one more window of it) per turn, until decide or a limit stops it. */
async function runSearch(s: Search): Promise<{ state: FoldState; capacity: Capacity }> {
  let state = emptyFold();
  let group: StageGroup | null = null;
  let open: StageResult | null = null;
  try {
    for (;;) {
      const halt = haltCapacity(s, state);
      if (halt) return { state, capacity: halt };
      const step = decide({
        profile: s.profile,
        levels: s.levels,
        history: state.history,
        open,
        unit: levelUnit(s.profile),
      });
      if (step.kind === 'stop') return { state, capacity: step.capacity };
      const kind = step.why === 'extend' ? group!.kind : step.why;
      const number = { stage: state.staged.length, attempt: step.why === 'extend' ? group!.windows.length + 1 : 1 };
      const attempt = await runAttempt(s, step, kind, number);
      group = poolAttempt(step.why === 'extend' ? group : null, kind, attempt.result, attempt.overhead);
      const meta = groupMeta(group, isFinal(s, group));
      const folded = foldStage(state, s.profile, meta, group.records, s.serverMetrics?.scraper.samples);
      open = folded.result.verdict === 'INCONCLUSIVE' ? folded.result : null;
      if (!open) {
        state = folded.state;
        s.files.appendStage(meta);
      }
      s.emit({ type: 'stage-end', stage: number.stage, result: folded.result });
    }
  } finally {
    // A stage that threw left its scraper running.
    await s.serverMetrics?.scraper.stop();
    await s.executor.close();
    s.files.closeRecords();
  }
}

/** An interrupt or a run-wide limit stops the search before decide does: the capacity of the stages judged. */
function haltCapacity(s: Search, state: FoldState): Capacity | null {
  const { profile, levels } = s;
  if (s.o.signal?.aborted) {
    // The caller may say what interrupted the run (a signal, the launcher going away) as the abort reason.
    const reason = s.o.signal.reason;
    const why = typeof reason === 'string' ? reason : 'interrupted by the user';
    return provisionalCapacity(state.history, levels, profile, 'interrupted', why);
  }
  const lost = s.executor.halted?.() ?? null;
  if (lost !== null) return provisionalCapacity(state.history, levels, profile, 'agent_lost', lost);
  if (!s.budget.exceeded()) return null;
  const reason = s.budget.reason()!;
  return provisionalCapacity(state.history, levels, profile, reason, budgetDetail(reason, profile.limits));
}

/** Judged with no extension left: an undecided rule then falls back to its point estimate. */
function isFinal(s: Search, group: StageGroup): boolean {
  const extensions = group.windows.length - 1;
  return (
    extensions >= s.profile.verdict.maxExtensions ||
    group.stoppedBy !== null ||
    s.o.signal?.aborted === true ||
    s.budget.exceeded()
  );
}

async function runAttempt(
  s: Search,
  step: Extract<NextStep, { kind: 'run' }>,
  kind: StageResult['kind'],
  number: { stage: number; attempt: number },
): Promise<{ result: StageRunResult; overhead: number[] | null }> {
  const index = s.nextIndex++;
  const rate = step.rate !== undefined ? { rate: step.rate } : {};
  s.emit({ type: 'stage-start', ...number, index, concurrency: step.concurrency ?? 0, ...rate, kind });
  s.o.stageHook?.(index);
  const { ramp } = s.profile;
  const plan: StagePlan = {
    index,
    load: stageLoad(s.profile, step, index),
    warmupMs: ramp.warmupMs,
    durationMs: ramp.stage.durationMs,
    requestLimit: ramp.stage.requests,
    // Requests are followed to their end or their own timeout: the drain bound never cuts the tail short.
    drainMs: effectiveDrainMs(s.profile),
  };
  s.serverMetrics?.scraper.start(index);
  const result = await s.executor.runStage(plan, {
    onRecord: (rec) => {
      s.budget.countRecord(rec);
      s.files.appendRecord(rec);
    },
    onProgress: (progress) => s.emit({ type: 'progress', progress }),
    stopSignal: s.o.signal,
    budget: s.budget,
    maxErrorRate: s.profile.stop.maxErrorRate,
  });
  await s.serverMetrics?.scraper.stop();
  s.files.flushRecords();
  const overhead = s.target.measureOverhead ? await s.target.measureOverhead(result.records) : null;
  return { result, overhead };
}

/** A stage's load: C slots of a closed loop, or an open loop at the step's rate with the stage's own seed. */
function stageLoad(profile: Profile, step: RunStep, index: number): LoadSpec {
  if (step.rate === undefined) return { kind: 'closed', concurrency: step.level };
  const { ramp } = profile;
  return {
    kind: 'open',
    rate: step.rate,
    arrival: ramp.arrival ?? DEFAULTS.ramp.arrival,
    burstiness: ramp.burstiness ?? DEFAULTS.ramp.burstiness,
    seed: stageSeed(profile.request.seed, index),
    maxInFlight: ramp.maxInFlight ?? DEFAULTS.ramp.maxInFlight,
  };
}

function finish(s: Search, state: FoldState, capacity: Capacity, startedAt: Date): RunResult {
  const finishedAt = new Date();
  // The SLA tiers re-judge every stage's records: read back from the files, as `find-capacity report` does.
  const recorded = readRunRecords(s.files.dir);
  const frontier = sloFrontier(s.profile, recorded.lines, recorded.records);
  const summary = buildSummary(
    s.profile,
    state.staged,
    capacity,
    {
      toolVersion: TOOL_VERSION,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      baseUrl: s.target.baseUrl,
      clockOriginEpochMs: s.clock.originEpochMs,
      interrupted: capacity.stopReason === 'interrupted',
      ...environmentMeta(),
      serverMetrics: s.serverMetrics?.source ?? null,
    },
    frontier,
  );
  const agents = s.executor.agentSummaries?.();
  const safe = redactDeep(agents ? { ...summary, agents } : summary, s.target.redact);
  s.files.writeResults(safe);
  return { runDir: s.files.dir, summary: safe, capacity };
}
