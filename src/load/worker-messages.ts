// Messages between the controller and the load-generator worker threads (src/load/worker-pool.ts, worker-host.ts).
import type { RequestRecord } from '../model/record.ts';
import type { ExecutorHealth, StagePlan, StoppedBy } from '../model/stage.ts';
import type { StageWindow } from '../model/summary.ts';
import type { StagePart } from './executor.ts';
import type { WindowRequestCounter } from './tally.ts';
import type { PartSetup } from './part-executor.ts';

export interface WorkerInit extends PartSetup {
  /** The run clock's origin as epoch ms: every thread reads `performance.timeOrigin + performance.now() - origin`. */
  originEpochMs: number;
}

/** Int32 slots of the SharedArrayBuffer shared by the controller and its workers for a stage. */
export const SHARED = {
  /** Requests started in the window (request limit across threads). */
  windowStarted: 0,
  /** Requests sent in this stage (run-wide max_requests across threads). */
  sent: 1,
  /** Non-zero: stop sending (the controller's breaker or a run-wide budget). */
  stop: 2,
  length: 3,
} as const;

/** The window-request count of a stage, shared by the controller and every thread. */
export function sharedWindowCounter(flags: Int32Array): WindowRequestCounter {
  return {
    claim: () => Atomics.add(flags, SHARED.windowStarted, 1) + 1,
    started: () => Atomics.load(flags, SHARED.windowStarted),
  };
}

export interface StageMessage {
  type: 'stage';
  /** The whole stage's plan, with its start fixed by the controller. */
  plan: StagePlan & { startMs: number };
  part: StagePart;
  /** Requests this stage may still send (run-wide limit), across threads. */
  maxRequests: number;
  /** Stop sending once the run clock reaches this (run-wide duration limit). */
  maxDurationMs: number;
  shared: SharedArrayBuffer;
}

export type ToWorker = StageMessage | { type: 'interrupt' } | { type: 'close' };

export interface WorkerStageDone {
  type: 'done';
  window: StageWindow;
  stoppedBy: StoppedBy | null;
  health: ExecutorHealth;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'records'; records: RequestRecord[] }
  | WorkerStageDone
  | { type: 'failed'; message: string };
