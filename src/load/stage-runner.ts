// Runs one closed-loop stage: C workers, each sending its next request as soon as its previous
// one ends, starts staggered over the first half of the warm-up. Knows nothing of SLOs.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ErrorClass, RequestRecord } from '../model/record.ts';
import type { PlannedRequest } from './transport.ts';
import type { StageWindow } from '../model/summary.ts';

export interface StagePlan {
  index: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number | null;
  requestLimit: number | null;
  drainMs: number;
}

export interface StageSender {
  send(req: PlannedRequest): Promise<RequestRecord>;
  abortAll(errorClass: ErrorClass, message: string): void;
}

export interface StageProgress {
  stage: number;
  concurrency: number;
  elapsedMs: number;
  inWindow: boolean;
  done: number;
  failed: number;
  okPerS: number;
  ttftP99Ms: number | null;
}

/** The live progress of a stage, computed the same way for one thread and for a worker pool. */
export function progressSnapshot(o: {
  stage: number;
  concurrency: number;
  now: number;
  stageStart: number;
  ws: number;
  windowEnd: number;
  done: number;
  failed: number;
  ttfts: readonly number[];
}): StageProgress {
  const inWindow = o.now >= o.ws;
  let p99: number | null = null;
  if (o.ttfts.length > 0) {
    const s = o.ttfts.slice().sort((a, b) => a - b);
    p99 = s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] ?? null;
  }
  const elapsedWindow = Math.max(1, Math.min(o.now, o.windowEnd) - o.ws);
  return {
    stage: o.stage,
    concurrency: o.concurrency,
    elapsedMs: o.now - o.stageStart,
    inWindow,
    done: o.done,
    failed: o.failed,
    okPerS: inWindow ? ((o.done - o.failed) / elapsedWindow) * 1000 : 0,
    ttftP99Ms: p99,
  };
}

export interface StageRunOptions {
  plan: StagePlan;
  sender: StageSender;
  now: () => number;
  /** Prefix of request ids (x-request-id), unique per run. */
  idPrefix: string;
  pickPayload: () => number;
  onRecord: (rec: RequestRecord) => void;
  /** Circuit breaker: stop the stage once this error rate is exceeded after `breakerMinRequests`. */
  maxErrorRate: number;
  breakerMinRequests?: number;
  /** Set when the run is being interrupted: stop sending, give in-flight requests `graceMs`. */
  stopSignal?: AbortSignal;
  interruptGraceMs?: number;
  /** Also stop sending when this returns true (run-wide safety limits); checked before every request. */
  budgetExceeded?: () => boolean;
  onProgress?: (p: StageProgress) => void;
  progressEveryMs?: number;
  /**
   * Worker threads (src/load/worker-pool.ts): this runner runs slots `[offset, offset + plan.concurrency)` of a stage of
   * `total` slots, so that the stagger and the records' `worker` index are those of the whole stage.
   */
  slots?: { offset: number; total: number };
  /** The stage's start on the run clock, shared by every thread so that all have the same window (default: now). */
  stageStartMs?: number;
  /** Counts a request started in the window across threads and returns the count including it (request limits). */
  claimWindowRequest?: () => number;
}

export interface StageRunResult {
  window: StageWindow;
  records: RequestRecord[];
  stoppedBy: 'breaker' | 'interrupted' | 'budget' | null;
  health: { eventLoopDelayP99Ms: number; cpuPercent: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export async function runStage(o: StageRunOptions): Promise<StageRunResult> {
  const { plan, now } = o;
  const C = plan.concurrency;
  const records: RequestRecord[] = [];
  const minReq = o.breakerMinRequests ?? 20;
  const stageStart = o.stageStartMs ?? now();
  const slotOffset = o.slots?.offset ?? 0;
  const slotTotal = o.slots?.total ?? C;
  const ws = stageStart + plan.warmupMs;
  let we = plan.durationMs !== null ? ws + plan.durationMs : Number.POSITIVE_INFINITY;
  let stopSending = false;
  let stoppedBy: StageRunResult['stoppedBy'] = null;
  let windowStarted = 0;
  let windowDone = 0;
  let windowFailed = 0;
  let seq = 0;
  const windowTtft: number[] = [];

  const stopNow = (why: StageRunResult['stoppedBy']) => {
    if (stopSending) return;
    stopSending = true;
    stoppedBy = why;
    const t = now();
    if (t < we) we = Math.max(ws, t);
  };

  const ELD_RESOLUTION_MS = 10;
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const wall0 = now();

  const spanMs = plan.warmupMs > 0 ? plan.warmupMs / 2 : Math.min(slotTotal, 1000);
  const onAbort = () => {
    stopNow('interrupted');
    // Also after the window closed (during the drain): the stage's in-flight requests get cut short.
    stoppedBy ??= 'interrupted';
  };
  o.stopSignal?.addEventListener('abort', onAbort);
  if (o.stopSignal?.aborted) stopNow('interrupted');

  const windowTimer =
    plan.durationMs !== null
      ? setTimeout(
          () => {
            stopSending = true;
          },
          Math.max(0, we - now()),
        )
      : null;
  // Generator health is judged over the measurement window only: warm-up absorbs start-up costs (JIT, connections).
  const windowStartTimer = setTimeout(() => eld.reset(), Math.max(0, ws - now()));

  let progressTimer: NodeJS.Timeout | null = null;
  if (o.onProgress) {
    progressTimer = setInterval(() => {
      const t = now();
      o.onProgress!(
        progressSnapshot({
          stage: plan.index,
          concurrency: C,
          now: t,
          stageStart,
          ws,
          windowEnd: we,
          done: windowDone,
          failed: windowFailed,
          ttfts: windowTtft,
        }),
      );
    }, o.progressEveryMs ?? 500);
    progressTimer.unref();
  }

  async function worker(w: number): Promise<void> {
    await sleep(stageStart + (spanMs * w) / slotTotal - now());
    for (;;) {
      if (stopSending) return;
      if (o.budgetExceeded?.()) {
        stopNow('budget');
        return;
      }
      const t0 = now();
      if (t0 >= we) return;
      const phase = t0 < ws ? 'warmup' : 'window';
      // How many window requests have started, this one included (across threads when they share a limit).
      let started = 0;
      if (phase === 'window') {
        started = o.claimWindowRequest ? o.claimWindowRequest() : ++windowStarted;
        if (plan.requestLimit !== null && started > plan.requestLimit) return;
      }
      const id = `${o.idPrefix}-${plan.index}-${seq++}`;
      const p = o.sender.send({ id, stage: plan.index, phase, worker: w, payload: o.pickPayload(), t0 });
      if (phase === 'window' && plan.requestLimit !== null && started >= plan.requestLimit) {
        // The window closes right after its last request has started.
        we = now();
        stopSending = true;
      }
      const rec = await p;
      records.push(rec);
      o.onRecord(rec);
      if (rec.phase === 'window') {
        windowDone++;
        if (!rec.ok) windowFailed++;
        else if (rec.firstContentAt !== null) windowTtft.push(rec.firstContentAt - rec.t0);
        if (windowDone >= minReq && windowFailed / windowDone > o.maxErrorRate) stopNow('breaker');
      }
    }
  }

  const workers: Promise<void>[] = [];
  for (let w = slotOffset; w < slotOffset + C; w++) workers.push(worker(w));
  const all = Promise.all(workers);

  // Bound the wait for in-flight requests: drain after the window, a short grace on interrupt.
  let drainTimer: NodeJS.Timeout | null = null;
  const drainWatch = new Promise<void>((resolve) => {
    const check = () => {
      if (!stopSending && now() < we) {
        drainTimer = setTimeout(check, Math.min(250, Math.max(1, we - now())));
        return;
      }
      const bound = stoppedBy === 'interrupted' ? (o.interruptGraceMs ?? 5000) : plan.drainMs;
      drainTimer = setTimeout(() => {
        o.sender.abortAll(
          'aborted',
          stoppedBy === 'interrupted'
            ? 'aborted after interrupt grace period'
            : `stage drain limit of ${plan.drainMs} ms`,
        );
        resolve();
      }, bound);
      drainTimer.unref();
    };
    check();
  });
  const onInterruptDuringDrain = () => {
    if (drainTimer) clearTimeout(drainTimer);
    drainTimer = setTimeout(
      () => o.sender.abortAll('aborted', 'aborted after interrupt grace period'),
      o.interruptGraceMs ?? 5000,
    );
  };
  o.stopSignal?.addEventListener('abort', onInterruptDuringDrain);
  await Promise.race([all, drainWatch.then(() => all)]);
  if (drainTimer) clearTimeout(drainTimer);
  if (windowTimer) clearTimeout(windowTimer);
  clearTimeout(windowStartTimer);
  if (progressTimer) clearInterval(progressTimer);
  o.stopSignal?.removeEventListener('abort', onAbort);
  o.stopSignal?.removeEventListener('abort', onInterruptDuringDrain);
  eld.disable();
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Math.max(1, now() - wall0);

  if (!Number.isFinite(we)) we = now();
  return {
    window: { index: plan.index, concurrency: C, startMs: ws, endMs: Math.max(ws, we) },
    records,
    stoppedBy,
    health: {
      // The histogram records whole timer intervals: subtract the resolution to get the delay.
      eventLoopDelayP99Ms: eld.count > 0 ? Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS) : 0,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    },
  };
}
