// What a stage executor is handed and what it hands back: plain data shared by load, controller and report.
import type { RequestRecord } from './record.ts';
import type { StageWindow } from './summary.ts';

export type ArrivalLaw = 'poisson' | 'constant' | 'gamma';

/**
 * An open loop: arrivals at `rate` per second whose send times follow `arrival` (gamma: shape `burstiness`, 1 =
 * Poisson), drawn from `seed` before the stage starts and never depending on responses; an arrival finding
 * `maxInFlight` requests open is recorded as dropped.
 */
export interface OpenLoadSpec {
  kind: 'open';
  /** Requests per second. */
  rate: number;
  arrival: ArrivalLaw;
  burstiness: number;
  seed: number;
  maxInFlight: number;
}

/** How requests arrive in a stage. Closed loop: `concurrency` slots, each sending when its last request ends. */
export type LoadSpec = { kind: 'closed'; concurrency: number } | OpenLoadSpec;

/** The concurrency a stage targets: the closed loop's slots; 0 for an open loop, whose level is its rate. */
export function targetConcurrency(load: LoadSpec): number {
  return load.kind === 'closed' ? load.concurrency : 0;
}

export interface StagePlan {
  /** Stage (attempt) index in the run: part of every request id and record. */
  index: number;
  load: LoadSpec;
  warmupMs: number;
  /** Measurement window length; null when the window ends at `requestLimit`. */
  durationMs: number | null;
  requestLimit: number | null;
  /** How long in-flight requests may run after the window before they are aborted. */
  drainMs: number;
  /** The stage's start on the run clock; default: when the executor starts it (a worker pool fixes it for its threads). */
  startMs?: number;
}

/** `agent_lost`: a remote agent died or stalled mid-stage (its in-flight requests have no record). */
export type StoppedBy = 'breaker' | 'interrupted' | 'budget' | 'agent_lost';

export interface StageProgress {
  stage: number;
  concurrency: number;
  /** The offered rate (req/s) of a rate stage; absent in a closed loop. */
  rate?: number;
  elapsedMs: number;
  inWindow: boolean;
  done: number;
  failed: number;
  okPerS: number;
  ttftP99Ms: number | null;
}

export interface ExecutorHealth {
  eventLoopDelayP99Ms: number;
  cpuPercent: number;
  /** What made the executor's stage unusable (a lost agent, named); each makes the stage INVALID. */
  problems?: string[];
}

export interface StageRunResult {
  window: StageWindow;
  records: RequestRecord[];
  stoppedBy: StoppedBy | null;
  health: ExecutorHealth;
}
