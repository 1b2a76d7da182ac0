// Remote agents measure on their own monotonic clock; the controller estimates each agent's offset from round trips
// (NTP's estimate) and the agent shifts its clock by it, so its records land on the controller's run clock.
// The bound and its limits: docs/distributed.md ("Clocks").
import { performance } from 'node:perf_hooks';
import type { Clock } from '../util/clock.ts';

/** One round trip: sent at t0 and answered at t3 (controller clock); received at t1, answered at t2 (agent clock). */
export interface PingSample {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
}

export interface ClockEstimate {
  /** Agent clock minus controller clock. */
  offsetMs: number;
  /** |true offset − offsetMs| ≤ this, whatever the split of the round trip between directions: RTT / 2. */
  errorBoundMs: number;
  rttMs: number;
}

/** The sample with the shortest round trip (the least room for asymmetric delay) gives the estimate. */
export function estimateOffset(samples: readonly PingSample[]): ClockEstimate {
  let best: ClockEstimate | null = null;
  for (const { t0, t1, t2, t3 } of samples) {
    const rttMs = Math.max(0, t3 - t0 - (t2 - t1));
    if (best !== null && rttMs >= best.rttMs) continue;
    best = { offsetMs: (t1 - t0 + (t2 - t3)) / 2, errorBoundMs: rttMs / 2, rttMs };
  }
  if (best === null) throw new Error('no ping samples');
  return best;
}

/** The agent's monotonic clock (what pings read). */
export const agentNow = (): number => performance.now();

/** A clock on the controller's run time: the agent's monotonic clock minus the offset set for the current stage. */
export interface ShiftedClock extends Clock {
  /** Set between stages only (no request in flight): every timestamp of a stage uses one offset. */
  setOffset(offsetMs: number): void;
}

export function shiftedClock(): ShiftedClock {
  let offsetMs = 0;
  return {
    now: () => performance.now() - offsetMs,
    setOffset: (ms) => void (offsetMs = ms),
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clear: (timer) => {
      if (timer) clearTimeout(timer as unknown as NodeJS.Timeout);
    },
  };
}
