// The capacity model: one loop that behaves like a continuous-batching LLM engine.
//
//   - At most `slots` sequences are active; the rest wait in a FIFO queue. With a queue limit, a request
//     arriving when active + waiting >= slots + queue_limit is rejected (the server answers 429).
//   - Each step first admits waiting requests into free slots, then emits one token to every active sequence.
//   - step duration = (step_base_ms + step_per_seq_ms × active + Σ prefill of the requests admitted in this step)
//                     × jitter factor,   prefill = prefill_ms_per_1k_tokens × (prompt_tokens − cached) / 1000,
//     jitter factor uniform in [1 − jitter, 1 + jitter] from a seeded PRNG (one draw per step).
//   - A sequence leaves after its last token; its slot is free for the next step.
//   - With nothing active or waiting the loop sleeps (no timer at all); an arrival wakes it on the next tick,
//     so simultaneous arrivals start the same step.
//   - first_token_delay_ms > 0 (prefill done elsewhere, e.g. disaggregated prefill): a request first waits that
//     fixed delay in a delay line, holding no slot and costing no step time, then joins the FIFO queue. The line is
//     FIFO with a fixed delay, so its ready times are in order: one timer at most (for its head, and only while the
//     loop sleeps; a running loop moves the due requests at each step end), never a timer per request. A request in
//     the line counts against queue_limit (the 429 is decided at arrival). TTFT ≈ delay + one to two steps.
// Step boundaries follow model time (the next step starts when the previous one was due to end, not when its
// timer happened to fire), so timer lateness does not accumulate; if the loop falls more than a step behind it
// resynchronizes to the real clock. Consequences (closed loop, C clients, n output tokens, delay d, see docs/simulator.md):
//   C <= slots: TTFT ≈ d + (rest of the step in progress) + prefill + step(C)   ≈ d + 2 × step(C) + prefill
//   C >  slots: TTFT ≈ step_eff × (1 + n × (C − slots) / slots), and at least the value at C = slots (wait for a slot)
import { mulberry32 } from '../util/prng.ts';

/** What the engine needs from a request; the server implements it and does the writing. */
export interface EngineSequence {
  readonly promptTokens: number;
  /** Steps this sequence stays active for: it receives one token per step (0 = finishes at its admitting step). */
  readonly tokens: number;
  /**
   * Called when the sequence takes a slot (at the start of the admitting step; after the first-token delay, if any).
   * Returns how many of its prompt tokens the prefix cache holds: they cost no prefill (nothing = none).
   */
  onAdmit(nowMs: number): number | void;
  /**
   * Called once per step while active, after the step's token was emitted: `emitted` tokens so far,
   * `done` when this was the last step (the slot is then free). One call per step = one write per stream per step.
   */
  onStep(emitted: number, done: boolean, nowMs: number): void;
}

export interface EngineTicket {
  /**
   * The client went away: free the place in the delay line or the queue, or the slot (a slot is freed at the end
   * of the running step). The sequence gets no further calls.
   */
  cancel(): void;
}

/** Time source and timers, injectable so the model can be tested with a fake clock. */
export interface EngineClock {
  now(): number;
  setTimer(fn: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
  /** Run fn after the current I/O callbacks (setImmediate). */
  defer(fn: () => void): void;
}

export const realClock: EngineClock = {
  now: () => performance.now(),
  setTimer: (fn, delayMs) => (delayMs < 1 ? setImmediate(fn) : setTimeout(fn, delayMs)),
  clearTimer: (h) => {
    clearTimeout(h as NodeJS.Timeout);
    clearImmediate(h as NodeJS.Immediate);
  },
  defer: (fn) => setImmediate(fn),
};

export interface EngineParams {
  slots: number;
  queue_limit: number | null;
  prefill_ms_per_1k_tokens: number;
  first_token_delay_ms: number;
  step_base_ms: number;
  step_per_seq_ms: number;
  jitter: number;
  seed: number;
}

export interface EngineStats {
  active: number;
  /** Waiting for a slot (after the first-token delay). */
  waiting: number;
  /** In their first-token delay: not yet waiting for a slot. */
  delayed: number;
  steps: number;
  admitted: number;
  completed: number;
  rejected: number;
  /** How late step ends fired versus model time (timer lateness plus CPU time of the step's writes). */
  meanLateMs: number;
  maxLateMs: number;
  /** Times the loop fell more than a step behind and resynchronized to the real clock. */
  resyncs: number;
}

const WAITING = 0;
const ACTIVE = 1;
const DONE = 2;
const CANCELLED = 3;
const DELAYED = 4;

interface Entry {
  seq: EngineSequence;
  emitted: number;
  state: number;
  /** When the first-token delay ends (engine clock); 0 without a delay. */
  readyAt: number;
}

export class Engine {
  private readonly params: EngineParams;
  private readonly clock: EngineClock;
  private readonly rng: () => number;
  private waiting: (Entry | undefined)[] = [];
  private head = 0;
  private waitingLive = 0;
  private active: Entry[] = [];
  /** The first-token delay line: FIFO, ready times in order. */
  private delayed: (Entry | undefined)[] = [];
  private delayedHead = 0;
  private delayedLive = 0;
  /** Wakes the sleeping loop when the head of the delay line is due; only armed while the loop is not busy. */
  private delayTimer: unknown = null;
  /** A step is running or a wake-up is scheduled. */
  private busy = false;
  private stopped = false;
  private timer: unknown = null;
  private stepStart = 0;
  private stepEnd = 0;
  private steps = 0;
  private admitted = 0;
  private completed = 0;
  private rejected = 0;
  private lateSum = 0;
  private lateMax = 0;
  private resyncs = 0;
  /** Running and waiting as the last scheduling left them (vLLM's gauges): an arrival mid-step is not counted yet. */
  private scheduled = { running: 0, waiting: 0 };

  constructor(params: EngineParams, clock: EngineClock = realClock) {
    this.params = params;
    this.clock = clock;
    // A different stream from the fault schedule's, so faults do not depend on how many steps ran.
    this.rng = mulberry32((params.seed ^ 0x5bd1e995) >>> 0);
  }

  /** Enqueues a request, or returns null when the queue limit rejects it. */
  submit(seq: EngineSequence): EngineTicket | null {
    const { slots, queue_limit, first_token_delay_ms } = this.params;
    // A request in its first-token delay holds a place: it was accepted and will need a slot.
    if (
      this.stopped ||
      (queue_limit !== null && this.active.length + this.waitingLive + this.delayedLive >= slots + queue_limit)
    ) {
      this.rejected++;
      return null;
    }
    let entry: Entry;
    if (first_token_delay_ms > 0) {
      entry = { seq, emitted: 0, state: DELAYED, readyAt: this.clock.now() + first_token_delay_ms };
      this.delayed.push(entry);
      this.delayedLive++;
      if (!this.busy) this.armDelayTimer();
    } else {
      entry = { seq, emitted: 0, state: WAITING, readyAt: 0 };
      this.waiting.push(entry);
      this.waitingLive++;
      if (!this.busy) {
        this.busy = true;
        this.clock.defer(() => {
          if (!this.stopped) this.startStep(this.clock.now());
        });
      }
    }
    return {
      cancel: () => {
        if (entry.state === WAITING) this.waitingLive--;
        else if (entry.state === DELAYED) {
          entry.state = CANCELLED;
          this.delayedLive--;
          // Nothing left to wait for: drop the line and its timer (no timer outlives the last request).
          if (this.delayedLive === 0) this.clearDelayLine();
        }
        if (entry.state === WAITING || entry.state === ACTIVE) entry.state = CANCELLED;
      },
    };
  }

  stats(): EngineStats {
    return {
      active: this.active.length,
      waiting: this.waitingLive,
      delayed: this.delayedLive,
      steps: this.steps,
      admitted: this.admitted,
      completed: this.completed,
      rejected: this.rejected,
      meanLateMs: this.steps > 0 ? this.lateSum / this.steps : 0,
      maxLateMs: this.lateMax,
      resyncs: this.resyncs,
    };
  }

  /** Running and waiting right after the last step admitted what it could, as vLLM's scheduler reports them. */
  schedulerStats(): { running: number; waiting: number } {
    return { ...this.scheduled };
  }

  /** Tokens the running sequences hold in their KV: prompt plus tokens emitted so far, summed over them. */
  heldTokens(): number {
    let held = 0;
    for (const entry of this.active) if (entry.state === ACTIVE) held += entry.seq.promptTokens + entry.emitted;
    return held;
  }

  /** Stops the loop; sequences still active or waiting get no further calls. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.clearDelayLine();
  }

  private clearDelayLine(): void {
    if (this.delayTimer !== null) this.clock.clearTimer(this.delayTimer);
    this.delayTimer = null;
    this.delayed = [];
    this.delayedHead = 0;
  }

  /** Arms the wake-up for the head of the delay line (the loop is asleep; a running loop checks at each step end). */
  private armDelayTimer(): void {
    if (this.delayTimer !== null || this.stopped || this.delayedLive === 0) return;
    // Skip cancelled entries at the head; delayedLive > 0 guarantees a live one further on.
    while (this.delayed[this.delayedHead]!.state !== DELAYED) this.delayed[this.delayedHead++] = undefined;
    const head = this.delayed[this.delayedHead]!;
    this.delayTimer = this.clock.setTimer(() => this.onDelayTimer(), head.readyAt - this.clock.now());
  }

  private onDelayTimer(): void {
    this.delayTimer = null;
    if (this.stopped) return;
    const now = this.clock.now();
    this.releaseDue(now);
    if (this.busy) return;
    if (this.waitingLive > 0) {
      this.busy = true;
      this.startStep(now);
    } else {
      // Fired a little early (timers have ms resolution) or its head was cancelled: wait for the next head.
      this.armDelayTimer();
    }
  }

  /** Moves the requests whose first-token delay has ended (ready at or before `now`) to the queue, in order. */
  private releaseDue(now: number): void {
    const line = this.delayed;
    while (this.delayedHead < line.length) {
      const entry = line[this.delayedHead]!;
      if (entry.state === DELAYED && entry.readyAt > now) break;
      line[this.delayedHead++] = undefined;
      if (entry.state !== DELAYED) continue;
      entry.state = WAITING;
      this.delayedLive--;
      this.waiting.push(entry);
      this.waitingLive++;
    }
    if (this.delayedHead === line.length) {
      this.delayed = [];
      this.delayedHead = 0;
    } else if (this.delayedHead > 4096 && this.delayedHead * 2 > line.length) {
      this.delayed = line.slice(this.delayedHead);
      this.delayedHead = 0;
    }
  }

  private startStep(startMs: number): void {
    const { slots, step_base_ms, step_per_seq_ms, prefill_ms_per_1k_tokens, jitter } = this.params;
    const now = this.clock.now();
    let prefillMs = 0;
    while (this.active.length < slots && this.head < this.waiting.length) {
      const entry = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      if (entry.state !== WAITING) continue;
      entry.state = ACTIVE;
      this.waitingLive--;
      this.active.push(entry);
      this.admitted++;
      const cached = entry.seq.onAdmit(now) ?? 0;
      prefillMs += (prefill_ms_per_1k_tokens * (entry.seq.promptTokens - cached)) / 1000;
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    this.scheduled = { running: this.active.length, waiting: this.waitingLive };
    if (this.active.length === 0) {
      this.busy = false;
      this.armDelayTimer();
      return;
    }
    const factor = jitter > 0 ? 1 + jitter * (2 * this.rng() - 1) : 1;
    const durationMs = (step_base_ms + step_per_seq_ms * this.active.length + prefillMs) * factor;
    this.stepStart = startMs;
    this.stepEnd = startMs + durationMs;
    this.timer = this.clock.setTimer(() => this.endStep(), this.stepEnd - now);
  }

  private endStep(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.clock.now();
    const lateMs = Math.max(0, now - this.stepEnd);
    this.steps++;
    this.lateSum += lateMs;
    if (lateMs > this.lateMax) this.lateMax = lateMs;
    let kept = 0;
    const active = this.active;
    for (let i = 0; i < active.length; i++) {
      const entry = active[i]!;
      if (entry.state !== ACTIVE) continue;
      if (entry.emitted < entry.seq.tokens) entry.emitted++;
      const done = entry.emitted >= entry.seq.tokens;
      if (done) {
        entry.state = DONE;
        this.completed++;
      }
      entry.seq.onStep(entry.emitted, done, now);
      if (entry.state === ACTIVE) active[kept++] = entry;
    }
    active.length = kept;
    if (this.stopped) return;
    if (this.delayedLive > 0) this.releaseDue(now);
    if (kept === 0 && this.waitingLive === 0) {
      this.scheduled = { running: 0, waiting: 0 };
      this.waiting = [];
      this.head = 0;
      this.busy = false;
      this.armDelayTimer();
      return;
    }
    const stepMs = this.stepEnd - this.stepStart;
    if (lateMs > Math.max(stepMs, 5)) {
      this.resyncs++;
      this.startStep(now);
    } else {
      this.startStep(this.stepEnd);
    }
  }
}
