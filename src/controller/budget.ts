// The run-wide safety limits (limits.max_duration, max_requests, max_output_tokens), shared by every stage.
import type { RunBudget } from '../load/executor.ts';
import type { RequestRecord } from '../model/record.ts';
import type { Capacity } from '../model/verdict.ts';
import type { Profile } from '../profile/types.ts';
import type { Clock } from '../util/clock.ts';

export type BudgetReason = Extract<Capacity['stopReason'], 'limit_duration' | 'limit_requests' | 'limit_output_tokens'>;

export interface RunBudgetState extends RunBudget {
  /** Counts a finished request's output tokens. */
  countRecord(rec: RequestRecord): void;
  /** The limit reached first, once one is. */
  reason(): BudgetReason | null;
}

export function createRunBudget(limits: Profile['limits'], clock: Clock): RunBudgetState {
  let requests = 0;
  let outputTokens = 0;
  let reached: BudgetReason | null = null;
  const exceeded = () => {
    if (reached) return true;
    if (clock.now() >= limits.maxDurationMs) reached = 'limit_duration';
    else if (requests >= limits.maxRequests) reached = 'limit_requests';
    else if (outputTokens >= limits.maxOutputTokens) reached = 'limit_output_tokens';
    return reached !== null;
  };
  return {
    deadlineMs: limits.maxDurationMs,
    remainingRequests: () => Math.max(0, limits.maxRequests - requests),
    countSent: (n) => {
      requests += n;
    },
    countRecord: (rec) => {
      outputTokens += rec.outputTokens;
    },
    exceeded,
    reason: () => reached,
  };
}

export function budgetDetail(reason: BudgetReason, limits: Profile['limits']): string {
  if (reason === 'limit_duration') return `the run reached limits.max_duration (${limits.maxDurationMs / 1000} s)`;
  if (reason === 'limit_requests') return `the run reached limits.max_requests (${limits.maxRequests})`;
  return `the run reached limits.max_output_tokens (${limits.maxOutputTokens})`;
}
