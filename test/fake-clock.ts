// A manual-advance Clock (src/util/clock.ts) for tests: time moves only when the test says so, so a stage or a whole
// run on it is deterministic and takes milliseconds of real time.
//
//   const clock = new FakeClock();          // now() === 0
//   clock.setTimeout(fn, 100);              // as the real clock: timers, intervals, clear(), unref()
//   await clock.advance(250);               // fires every timer due up to now()+250, in time order, then now()+250
//   await clock.runUntilIdle();             // fires timers until no one-shot timer is left (intervals alone: idle)
//   const res = await clock.settle(p);      // fires timers (intervals too) in order until p settles; returns its value
//
// Between two timers, and after the last, pending promise callbacks run (the microtask queue is drained), so code
// that awaits a fake-clock timer and then sets the next one behaves as on the real clock. Timers due at the same
// time fire in the order they were set. Code under test must not wait on real I/O or real timers.
import type { Clock, Timer } from '../src/util/clock.ts';

interface FakeTimer extends Timer {
  at: number;
  order: number;
  fn: () => void;
  /** Period of an interval; null for a one-shot timer. */
  every: number | null;
  cleared: boolean;
}

/** Lets every pending promise callback run: a macrotask runs only once the microtask queue is empty. */
const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  private t: number;
  private order = 0;
  private timers: FakeTimer[] = [];
  /** Timers fired so far: a test can check that a stage used timers, not busy loops. */
  fired = 0;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: Timer | null | undefined): void {
    if (!timer) return;
    (timer as FakeTimer).cleared = true;
    this.timers = this.timers.filter((x) => x !== timer);
  }

  /** Timers set and neither fired (one-shot) nor cleared. */
  pending(): number {
    return this.timers.length;
  }

  /** Fires the timers due up to now()+ms in time order, then sets the time to now()+ms. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    await drainMicrotasks();
    while (this.fireNext(until)) await drainMicrotasks();
    this.t = Math.max(this.t, until);
    await drainMicrotasks();
  }

  /** Fires timers in time order until no one-shot timer is left; throws after `maxTimers` (a timer loop). */
  async runUntilIdle(maxTimers = 1_000_000): Promise<void> {
    await drainMicrotasks();
    for (let n = 0; this.timers.some((x) => x.every === null); n++) {
      if (n >= maxTimers) throw new Error(`FakeClock: still busy after ${maxTimers} timers`);
      this.fireNext(Number.POSITIVE_INFINITY);
      await drainMicrotasks();
    }
  }

  /** Fires timers in time order until `p` settles and returns its value; throws when no timer is left to fire. */
  async settle<T>(p: Promise<T>, maxTimers = 100_000): Promise<T> {
    let settled = false;
    const watched = p.finally(() => (settled = true));
    watched.catch(() => {});
    await drainMicrotasks();
    for (let n = 0; !settled; n++) {
      if (n >= maxTimers) throw new Error(`FakeClock: the promise did not settle within ${maxTimers} timers`);
      if (this.timers.length === 0)
        throw new Error(`FakeClock: the promise cannot settle, no timer is pending (at ${this.t} ms)`);
      this.fireNext(Number.POSITIVE_INFINITY);
      await drainMicrotasks();
    }
    return watched;
  }

  private add(fn: () => void, ms: number, every: number | null): FakeTimer {
    const timer: FakeTimer = {
      at: this.t + Math.max(0, ms),
      order: this.order++,
      fn,
      every,
      cleared: false,
      unref: () => timer,
    };
    this.timers.push(timer);
    return timer;
  }

  /** Fires the earliest timer due by `until`; false when there is none. */
  private fireNext(until: number): boolean {
    let next: FakeTimer | null = null;
    for (const x of this.timers) if (!next || x.at < next.at || (x.at === next.at && x.order < next.order)) next = x;
    if (!next || next.at > until) return false;
    this.t = Math.max(this.t, next.at);
    if (next.every === null) this.timers = this.timers.filter((x) => x !== next);
    else {
      next.at += next.every;
      next.order = this.order++;
    }
    this.fired++;
    next.fn();
    return true;
  }
}
