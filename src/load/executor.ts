// The stage-execution seam: the controller hands a StagePlan to an executor and gets records back as they end.
// Implementations: in-process (stage-runner.ts), worker threads (worker-pool.ts), remote agents (remote-agents.ts).
// Inside an executor, a LoadModel (load-model.ts) decides when requests are sent and a StageTally (tally.ts) counts
// them.
import type { AgentSummary } from '../model/agents.ts';
import type { ErrorClass, PlannedRequest, RequestRecord } from '../model/record.ts';
import type { StagePlan, StageProgress, StageRunResult } from '../model/stage.ts';
import type { RequestBody } from './transport-config.ts';

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
  /** Why no further stage can run (remote agents: every agent lost), else null. */
  halted?(): string | null;
  /** Remote agents: each agent's clock estimate and fate, for summary.json. */
  agentSummaries?(): AgentSummary[];
}

export type { PlannedRequest };

/** What an executor needs of a transport (src/load/transport.ts): send, cut in-flight requests short, close. */
export interface RequestSender {
  /** Sends payload `req.payload`, or `body` when the request was built for itself. */
  send(req: PlannedRequest, body?: RequestBody): Promise<RequestRecord>;
  /** Abort every request in flight, classified with `errorClass`. */
  abortAll(errorClass: ErrorClass, message: string): void;
  close(): void;
}

/** What a load model drives: the executor's sending, window bookkeeping and records. */
export interface StageRequests {
  /** Sends the next request of sender `worker` and resolves when it has ended; false: the stage stopped sending. */
  sendNext(worker: number): Promise<boolean>;
  /**
   * Open loop: sends the arrival scheduled at `scheduledAt` now (its phase and window place go by the scheduled
   * time); resolves when it has ended. Null: the stage stopped sending, nothing was sent.
   */
  sendScheduled(worker: number, scheduledAt: number): Promise<void> | null;
  /** Open loop: records the arrival scheduled at `scheduledAt` as dropped; false: the stage stopped sending. */
  drop(worker: number, scheduledAt: number): boolean;
  /** The stage stopped sending before its window's end (breaker, budget, interrupt, request limit). */
  stopped(): boolean;
}

/** How requests arrive in a stage (`plan.load.kind`): when each is sent, and by which sender. */
export interface LoadModel {
  /** Sends until the stage stops sending; resolves once every request it started has ended. */
  run(requests: StageRequests): Promise<void>;
}

/** Part `index` of `of` parts of a stage, each run by its own executor (a worker thread); a whole stage is 0 of 1. */
export interface StagePart {
  index: number;
  of: number;
}

/** A budget without run-wide limits (benchmarks, tests); `sent` counts the requests sent. */
export function unlimitedBudget(): RunBudget & { sent: number } {
  const budget = {
    sent: 0,
    remainingRequests: () => Number.MAX_SAFE_INTEGER,
    deadlineMs: Number.POSITIVE_INFINITY,
    countSent: (n: number) => void (budget.sent += n),
    exceeded: () => false,
  };
  return budget;
}
