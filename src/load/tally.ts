// What every stage executor counts the same way, whether it runs the requests itself or merges worker threads'
// records: the window (its start, its end, the request limit), the error-rate breaker, run-wide budget stops,
// `stoppedBy` and the live progress. One class, so the two paths cannot drift apart.
import type { RequestRecord } from '../model/record.ts';
import { targetConcurrency, type StagePlan, type StageProgress, type StoppedBy } from '../model/stage.ts';
import type { StageWindow } from '../model/summary.ts';
import type { Clock, Timer } from '../util/clock.ts';
import { quantileSorted } from '../util/quantile.ts';
import type { RunBudget } from './executor.ts';

/** Counts the requests started in a stage's window; shared by every executor running a part of the stage. */
export interface WindowRequestCounter {
  /** Counts one more window request and returns the count, this one included. */
  claim(): number;
  /** Window requests started so far. */
  started(): number;
}

export function localWindowCounter(): WindowRequestCounter {
  let n = 0;
  return { claim: () => ++n, started: () => n };
}

/** A request about to start: its phase, and whether it is the last one of the window's request limit. */
export interface Admission {
  phase: 'warmup' | 'window';
  last: boolean;
}

export interface StageTallyOptions {
  plan: StagePlan;
  clock: Clock;
  /** The stage's start on the run clock. */
  stageStartMs: number;
  /** Circuit breaker: stop once the window's error rate exceeds this after `breakerMinRequests` window records. */
  maxErrorRate: number;
  breakerMinRequests?: number;
  windowCounter?: WindowRequestCounter;
  /** Called once when a breaker or budget stop is accepted (worker pool: raise the threads' stop flag). */
  onStop?: (why: StoppedBy) => void;
}

export class StageTally {
  readonly stageStartMs: number;
  readonly windowStartMs: number;
  stoppedBy: StoppedBy | null = null;
  private windowEndMs: number;
  private sending = true;
  private done = 0;
  private failed = 0;
  private readonly ttfts = new SortedSample();
  private readonly minRequests: number;
  private readonly counter: WindowRequestCounter;
  private readonly timers: Timer[] = [];

  constructor(private readonly o: StageTallyOptions) {
    this.stageStartMs = o.stageStartMs;
    this.windowStartMs = o.stageStartMs + o.plan.warmupMs;
    this.windowEndMs = o.plan.durationMs !== null ? this.windowStartMs + o.plan.durationMs : Number.POSITIVE_INFINITY;
    this.minRequests = o.breakerMinRequests ?? 20;
    this.counter = o.windowCounter ?? localWindowCounter();
  }

  /** Starts the window-end timer (a duration window) and, with `onProgress`, the progress timer. */
  start(onProgress?: (p: StageProgress) => void, everyMs = 500): void {
    const { clock, plan } = this.o;
    if (plan.durationMs !== null) {
      this.timers.push(clock.setTimeout(() => (this.sending = false), Math.max(0, this.windowEndMs - clock.now())));
    }
    if (onProgress) this.timers.push(clock.setInterval(() => onProgress(this.snapshot()), everyMs).unref());
  }

  /** Clears the timers; the tally can still be read. */
  dispose(): void {
    for (const t of this.timers) this.o.clock.clear(t);
    this.timers.length = 0;
  }

  /** False once the stage stopped sending: window over, limit reached, stopped. */
  get sendingOpen(): boolean {
    return this.sending;
  }

  /** Stopped before the window's end: a breaker, budget or interrupt, or the request limit reached. */
  get stopped(): boolean {
    return this.stoppedBy !== null || this.limitReached();
  }

  /** The window's current end: +Infinity while a request-limit window is open. */
  get windowEnd(): number {
    return this.windowEndMs;
  }

  /** Stops sending for a breaker, budget or interrupt; ignored once sending is over (the window closed normally). */
  stop(why: StoppedBy): void {
    if (!this.sending || this.limitReached()) return;
    this.sending = false;
    this.stoppedBy = why;
    const t = this.o.clock.now();
    if (t < this.windowEndMs) this.windowEndMs = Math.max(this.windowStartMs, t);
    if (why !== 'interrupted') this.o.onStop?.(why);
  }

  /** An interrupt also marks a stage whose window already closed: its in-flight requests get cut short. */
  interrupt(): void {
    this.stop('interrupted');
    this.stoppedBy ??= 'interrupted';
  }

  /** Stops the stage if a run-wide limit is reached; true when it is. */
  checkBudget(budget: RunBudget): boolean {
    if (!budget.exceeded()) return false;
    this.stop('budget');
    return true;
  }

  /** Admits a request starting at `t0` (claiming its place in the window), or null: it must not start. */
  admit(t0: number): Admission | null {
    if (t0 >= this.windowEndMs) return null;
    if (t0 < this.windowStartMs) return { phase: 'warmup', last: false };
    const limit = this.o.plan.requestLimit;
    const started = this.counter.claim();
    if (limit !== null && started > limit) return null;
    return { phase: 'window', last: limit !== null && started >= limit };
  }

  /** The window closes right after its last request (of the request limit) has started. */
  closeAtLastRequest(): void {
    this.windowEndMs = this.o.clock.now();
    this.sending = false;
  }

  /** Counts a finished request: window successes, failures and TTFTs, and the breaker. */
  record(rec: RequestRecord): void {
    if (rec.phase !== 'window') return;
    this.done++;
    if (!rec.ok) this.failed++;
    else if (rec.firstContentAt !== null) this.ttfts.add(rec.firstContentAt - (rec.scheduledAt ?? rec.t0));
    if (this.done >= this.minRequests && this.failed / this.done > this.o.maxErrorRate) this.stop('breaker');
  }

  snapshot(): StageProgress {
    const now = this.o.clock.now();
    const ws = this.windowStartMs;
    const inWindow = now >= ws;
    const elapsedWindow = Math.max(1, Math.min(now, this.windowEndMs) - ws);
    const { load } = this.o.plan;
    return {
      stage: this.o.plan.index,
      concurrency: targetConcurrency(load),
      ...(load.kind === 'open' ? { rate: load.rate } : {}),
      elapsedMs: now - this.stageStartMs,
      inWindow,
      done: this.done,
      failed: this.failed,
      okPerS: inWindow ? ((this.done - this.failed) / elapsedWindow) * 1000 : 0,
      ttftP99Ms: this.ttfts.quantile(0.99),
    };
  }

  /** The measurement window; a request-limit window still open ends now. */
  window(): StageWindow {
    if (!Number.isFinite(this.windowEndMs)) this.windowEndMs = this.o.clock.now();
    return stageWindow(this.o.plan, this.windowStartMs, this.windowEndMs);
  }

  private limitReached(): boolean {
    const limit = this.o.plan.requestLimit;
    return limit !== null && this.counter.started() >= limit;
  }
}

/** A stage's measurement window [startMs, max(startMs, endMs)), with its level (concurrency or offered rate). */
export function stageWindow(plan: StagePlan, startMs: number, endMs: number): StageWindow {
  const { load } = plan;
  return {
    index: plan.index,
    concurrency: targetConcurrency(load),
    ...(load.kind === 'open' ? { offeredRate: load.rate } : {}),
    startMs,
    endMs: Math.max(startMs, endMs),
  };
}

/**
 * A growing sample kept sorted for quantiles: values added since the last read are sorted and merged in, so a read
 * costs O(n + k log k) for k new values, not a full sort.
 */
export class SortedSample {
  private sorted = new Float64Array(64);
  private size = 0;
  private fresh: number[] = [];

  add(x: number): void {
    this.fresh.push(x);
  }

  get count(): number {
    return this.size + this.fresh.length;
  }

  quantile(p: number): number | null {
    this.mergeFresh();
    return quantileSorted(this.sorted.subarray(0, this.size), p);
  }

  private mergeFresh(): void {
    const k = this.fresh.length;
    if (k === 0) return;
    const add = Float64Array.from(this.fresh).sort();
    this.fresh = [];
    if (this.size + k > this.sorted.length) {
      const grown = new Float64Array(Math.max(2 * this.sorted.length, this.size + k));
      grown.set(this.sorted.subarray(0, this.size));
      this.sorted = grown;
    }
    // Merge from the back, in place: the larger of the two tails goes last.
    let i = this.size - 1;
    let j = k - 1;
    for (let w = this.size + k - 1; j >= 0; w--) {
      if (i >= 0 && this.sorted[i]! > add[j]!) this.sorted[w] = this.sorted[i--]!;
      else this.sorted[w] = add[j--]!;
    }
    this.size += k;
  }
}
