// Messages between the controller and the load-generator worker threads (src/load/worker-pool.ts, worker-host.ts).
import type { RequestRecord } from '../model/record.ts';
import type { StagePlan, StageRunResult } from './stage-runner.ts';
import type { TransportConfig } from './transport.ts';
import type { StageWindow } from '../model/summary.ts';

export interface WorkerInit {
  /** 0-based thread index: part of every request id it sends, and of its payload sampling seed. */
  index: number;
  transport: TransportConfig;
  /** The run's payload sampling seed (request.seed); each thread derives its own from it. */
  seed: number;
  /** Secret values for the worker's redactor (the same as the controller's). */
  secrets: (string | null)[];
  /** The run clock's origin as epoch ms: every thread reads `performance.timeOrigin + performance.now() - origin`. */
  originEpochMs: number;
  path: 'fast' | 'sdk';
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

export interface StageMessage {
  type: 'stage';
  plan: StagePlan;
  stageStartMs: number;
  slots: { offset: number; total: number };
  idPrefix: string;
  interruptGraceMs: number;
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
  stoppedBy: StageRunResult['stoppedBy'];
  health: { eventLoopDelayP99Ms: number; cpuPercent: number };
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'records'; records: RequestRecord[] }
  | WorkerStageDone
  | { type: 'failed'; message: string };
