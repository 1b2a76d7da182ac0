// The in-process executor: runs a stage's requests on this thread's event loop through one transport. The load
// model decides when requests are sent, the tally keeps the window, breaker and stop; this module sends, records,
// bounds the drain and measures the generator's own health. Knows nothing of SLOs.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RequestRecord } from '../model/record.ts';
import type { ExecutorHealth, StagePlan, StageRunResult } from '../model/stage.ts';
import { sleep, type Clock, type Timer } from '../util/clock.ts';
import type { PlannedRequest, RequestSender, StageExecutor, StageHooks, StagePart, StageRequests } from './executor.ts';
import { loadModelFor, WHOLE_STAGE } from './load-model.ts';
import { droppedRecord } from './open-loop.ts';
import type { PayloadSource } from './payload-source.ts';
import { StageTally, type WindowRequestCounter } from './tally.ts';

export interface InProcessExecutorOptions {
  /** Owned by the executor: closed by close(). */
  transport: RequestSender;
  clock: Clock;
  /** Prefix of request ids (x-request-id), unique per run: ids are `${idPrefix}-${stage}-${seq}`. */
  idPrefix: string;
  /** What each request sends (payloads, synthetic prompts, conversations); or `pickPayload`, a payload index. */
  payloads?: PayloadSource;
  pickPayload?: () => number;
  /** After an interrupt, in-flight requests get this long before they are aborted (default 5 s). */
  interruptGraceMs?: number;
  /** Window records before the breaker may trip (default 20). */
  breakerMinRequests?: number;
  progressEveryMs?: number;
  /** Measures the generator's own health over a stage (default: this thread's event-loop delay and CPU). */
  watchHealth?: HealthWatcher;
}

/** Starts watching at a stage's start; `finish` gives the health over its window (from `windowStartMs`). */
export type HealthWatcher = (clock: Clock, windowStartMs: number) => { finish(): ExecutorHealth };

/** One part of a stage that several executors run together (worker threads) and their shared window count. */
export interface SharedStage {
  part: StagePart;
  windowCounter: WindowRequestCounter;
}

export interface InProcessExecutor extends StageExecutor {
  runStage(plan: StagePlan, hooks: StageHooks, shared?: SharedStage): Promise<StageRunResult>;
}

export function createInProcessExecutor(o: InProcessExecutorOptions): InProcessExecutor {
  return {
    runStage: (plan, hooks, shared) => runStageInProcess(o, plan, hooks, shared),
    close: async () => o.transport.close(),
  };
}

async function runStageInProcess(
  o: InProcessExecutorOptions,
  plan: StagePlan,
  hooks: StageHooks,
  shared?: SharedStage,
): Promise<StageRunResult> {
  const { clock } = o;
  const stageStartMs = plan.startMs ?? clock.now();
  const tally = new StageTally({
    plan,
    clock,
    stageStartMs,
    maxErrorRate: hooks.maxErrorRate,
    breakerMinRequests: o.breakerMinRequests,
    windowCounter: shared?.windowCounter,
  });
  const health = (o.watchHealth ?? watchHealth)(clock, tally.windowStartMs);
  const onAbort = () => tally.interrupt();
  hooks.stopSignal?.addEventListener('abort', onAbort);
  if (hooks.stopSignal?.aborted) tally.interrupt();
  tally.start(hooks.onProgress ? (p) => hooks.onProgress!(p) : undefined, o.progressEveryMs);

  const records: RequestRecord[] = [];
  const model = loadModelFor(plan, { clock, stageStartMs, part: shared?.part ?? WHOLE_STAGE });
  const all = model.run(stageRequests(o, plan, hooks, tally, records));
  const drain = boundDrain(o, plan, tally, hooks.stopSignal);
  await Promise.race([all, drain.done.then(() => all)]);
  drain.dispose();
  tally.dispose();
  hooks.stopSignal?.removeEventListener('abort', onAbort);
  const generatorHealth = health.finish();
  return { window: tally.window(), records, stoppedBy: tally.stoppedBy, health: generatorHealth };
}

/** Sending one request for a load model: stop and budget checks, the window's admission, the record. */
function stageRequests(
  o: InProcessExecutorOptions,
  plan: StagePlan,
  hooks: StageHooks,
  tally: StageTally,
  records: RequestRecord[],
): StageRequests {
  let seq = 0;
  const source = o.payloads ?? pickedPayloads(o.pickPayload ?? (() => 0));
  const keep = (worker: number, rec: RequestRecord) => {
    source.ended(worker, rec);
    records.push(rec);
    hooks.onRecord(rec);
    tally.record(rec);
  };
  /** Admits a request about to start (at `scheduledAt` in an open loop, else now) and plans it; null: none may. */
  const admitAndPlan = (worker: number, scheduledAt: number | null) => {
    if (tally.checkBudget(hooks.budget)) return null;
    // Built before t0: a long prompt's text is the generator's work, not the server's latency.
    const next = source.next(worker);
    const t0 = o.clock.now();
    const admitted = tally.admit(scheduledAt ?? t0);
    if (!admitted) return null;
    const id = `${o.idPrefix}-${plan.index}-${seq++}`;
    const { phase, last } = admitted;
    const req: PlannedRequest = {
      id,
      stage: plan.index,
      phase,
      worker,
      payload: next.payload,
      turn: next.turn,
      t0,
      scheduledAt,
    };
    return { req, body: next.body, last };
  };
  const send = (worker: number, scheduledAt: number | null): Promise<void> | null => {
    const planned = admitAndPlan(worker, scheduledAt);
    if (!planned) return null;
    hooks.budget.countSent(1);
    const pending = o.transport.send(planned.req, planned.body);
    if (planned.last) tally.closeAtLastRequest();
    return pending.then((rec) => keep(worker, rec));
  };
  // No async frame per request: a frame waiting for a whole stream is promoted by the GC (BENCHMARKS.md).
  const sendNow = (worker: number): Promise<boolean> => {
    const sent = tally.sendingOpen ? send(worker, null) : null;
    return sent === null ? NOT_SENT : sent.then(SENT);
  };
  // Think time between turns, cut short when the stage stops sending: a stage never waits out a pause.
  const pauseThenSend = async (worker: number, pauseMs: number): Promise<boolean> => {
    const until = o.clock.now() + pauseMs;
    while (tally.sendingOpen && o.clock.now() < until) await sleep(o.clock, Math.min(100, until - o.clock.now()));
    return sendNow(worker);
  };
  return {
    sendNext(worker: number): Promise<boolean> {
      const pauseMs = source.pauseMs(worker);
      return pauseMs > 0 ? pauseThenSend(worker, pauseMs) : sendNow(worker);
    },
    sendScheduled: (worker, scheduledAt) => (tally.stopped ? null : send(worker, scheduledAt)),
    drop(worker, scheduledAt) {
      const planned = tally.stopped ? null : admitAndPlan(worker, scheduledAt);
      if (!planned) return false;
      keep(worker, droppedRecord({ ...planned.req, scheduledAt }, openCap(plan)));
      if (planned.last) tally.closeAtLastRequest();
      return true;
    },
    stopped: () => tally.stopped,
  };
}

const NOT_SENT = Promise.resolve(false);
const SENT = (): boolean => true;

/** Single-turn payloads picked by index. */
function pickedPayloads(pick: () => number): PayloadSource {
  return { pauseMs: () => 0, next: () => ({ payload: pick(), turn: 1, body: undefined }), ended: () => {} };
}

const openCap = (plan: StagePlan) => (plan.load.kind === 'open' ? plan.load.maxInFlight : 0);

/**
 * Bounds the wait for in-flight requests: `drainMs` once sending has stopped, a short grace after an interrupt
 * (also one arriving during the drain). `done` resolves when the bound has cut the stage's requests short.
 */
function boundDrain(
  o: InProcessExecutorOptions,
  plan: StagePlan,
  tally: StageTally,
  signal: AbortSignal | undefined,
): { done: Promise<void>; dispose(): void } {
  const { clock } = o;
  const graceMs = o.interruptGraceMs ?? 5000;
  const graceMessage = 'aborted after interrupt grace period';
  let timer: Timer | null = null;
  const done = new Promise<void>((resolve) => {
    const check = () => {
      if (tally.sendingOpen && clock.now() < tally.windowEnd) {
        timer = clock.setTimeout(check, Math.min(250, Math.max(1, tally.windowEnd - clock.now())));
        return;
      }
      const bound = tally.stoppedBy === 'interrupted' ? graceMs : plan.drainMs;
      timer = clock
        .setTimeout(() => {
          const why = tally.stoppedBy === 'interrupted' ? graceMessage : `stage drain limit of ${plan.drainMs} ms`;
          o.transport.abortAll('aborted', why);
          resolve();
        }, bound)
        .unref();
    };
    check();
  });
  const onInterruptDuringDrain = () => {
    clock.clear(timer);
    timer = clock.setTimeout(() => o.transport.abortAll('aborted', graceMessage), graceMs);
  };
  signal?.addEventListener('abort', onInterruptDuringDrain);
  return {
    done,
    dispose() {
      clock.clear(timer);
      signal?.removeEventListener('abort', onInterruptDuringDrain);
    },
  };
}

const ELD_RESOLUTION_MS = 10;

/** The generator's health over the measurement window (warm-up absorbs start-up costs: JIT, connections). */
const watchHealth: HealthWatcher = (clock, windowStartMs) => {
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const wall0 = clock.now();
  const windowStart = clock.setTimeout(() => eld.reset(), Math.max(0, windowStartMs - clock.now()));
  return {
    finish() {
      clock.clear(windowStart);
      eld.disable();
      const cpu = process.cpuUsage(cpu0);
      const wallMs = Math.max(1, clock.now() - wall0);
      return {
        // The histogram records whole timer intervals: subtract the resolution to get the delay.
        eventLoopDelayP99Ms: eld.count > 0 ? Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS) : 0,
        cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      };
    },
  };
};
