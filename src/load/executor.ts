// The stage-execution seam: the controller hands a StagePlan to an executor and gets records back as they end.
// Implementations: the in-process runner (stage-runner.ts) and worker threads (worker-pool.ts); remote agents next.
import type { RequestRecord } from '../model/record.ts';
import type { StagePlan, StageProgress, StageRunResult } from '../model/stage.ts';

/** Run-wide safety limits, shared by every stage and every executor. */
export interface RunBudget {
  /** Requests the run may still send. */
  remainingRequests(): number;
  /** The run clock at which the run must stop sending. */
  deadlineMs: number;
  /** Counts requests sent (n at a time: worker threads report in batches). */
  countSent(n: number): void;
  /** True once any run-wide limit is reached; checked before every request. */
  exceeded(): boolean;
}

export interface StageHooks {
  onRecord(rec: RequestRecord): void;
  onProgress?(progress: StageProgress): void;
  /** Aborted when the run is interrupted: stop sending, give in-flight requests a short grace. */
  stopSignal?: AbortSignal;
  budget: RunBudget;
  /** Circuit breaker: stop the stage once this error rate is exceeded (after a minimum of requests). */
  maxErrorRate: number;
}

export interface StageExecutor {
  runStage(plan: StagePlan, hooks: StageHooks): Promise<StageRunResult>;
  close(): Promise<void>;
}
