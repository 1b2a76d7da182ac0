// The one way code reads time and sets timers, so tests can run a whole search on a fake clock.
import { performance } from 'node:perf_hooks';

/** A timer set through a Clock; `unref` lets the process exit while it is pending. */
export interface Timer {
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds on the run's monotonic clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
  /** Clears a timer from setTimeout or setInterval; null and undefined are ignored. */
  clear(timer: Timer | null | undefined): void;
}

/** A run's clock: also says where its zero lies in epoch ms, so threads and files can share it. */
export interface RunClock extends Clock {
  originEpochMs: number;
}

/** The real clock: performance.now() from `originMs`, Node's timers. */
export function systemClock(originMs = performance.now()): RunClock {
  return {
    originEpochMs: performance.timeOrigin + originMs,
    now: () => performance.now() - originMs,
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clear: (timer) => {
      if (timer) clearTimeout(timer as unknown as NodeJS.Timeout);
    },
  };
}

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
