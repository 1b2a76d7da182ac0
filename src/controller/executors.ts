// Chooses and builds the stage executor for a run: worker threads when `workers > 1`, else this thread.
import type { StageExecutor } from '../load/executor.ts';
import { runStage } from '../load/stage-runner.ts';
import { createTransport } from '../load/transport.ts';
import { startWorkerPool } from '../load/worker-pool.ts';
import type { StagePlan } from '../model/stage.ts';
import type { Profile } from '../profile/types.ts';
import type { RunClock } from '../util/clock.ts';
import { mulberry32 } from '../util/prng.ts';
import type { Target } from './target.ts';
import { transportConfig } from './transport-config.ts';

const legacyPlan = (plan: StagePlan) => ({ ...plan, concurrency: plan.load.concurrency });

export async function createExecutor(
  profile: Profile,
  target: Target,
  clock: RunClock,
  idPrefix: string,
): Promise<StageExecutor> {
  const config = transportConfig(profile, target.baseUrl, target.apiKey, target.headers);
  if (profile.workers > 1) {
    const pool = await startWorkerPool({
      workers: profile.workers,
      transport: config,
      seed: profile.request.seed,
      secrets: target.secrets,
      originEpochMs: clock.originEpochMs,
      path: 'fast',
    });
    return {
      runStage: (plan, hooks) =>
        pool.runStage({
          plan: legacyPlan(plan),
          now: clock.now,
          idPrefix,
          onRecord: hooks.onRecord,
          maxErrorRate: hooks.maxErrorRate,
          stopSignal: hooks.stopSignal,
          budgetExceeded: hooks.budget.exceeded,
          onProgress: hooks.onProgress,
          maxRequests: hooks.budget.remainingRequests(),
          maxDurationMs: hooks.budget.deadlineMs,
          countSent: hooks.budget.countSent,
        }),
      close: () => pool.close(),
    };
  }
  const transport = createTransport({ config, clock, redact: target.redact });
  const rng = mulberry32(profile.request.seed);
  const nPayloads = config.body.payloads.length;
  const pickPayload = nPayloads <= 1 ? () => 0 : () => Math.floor(rng() * nPayloads);
  return {
    runStage: (plan, hooks) =>
      runStage({
        plan: legacyPlan(plan),
        sender: {
          send: (p) => {
            hooks.budget.countSent(1);
            return transport.send(p);
          },
          abortAll: (c, m) => transport.abortAll(c, m),
        },
        now: clock.now,
        idPrefix,
        pickPayload,
        onRecord: hooks.onRecord,
        maxErrorRate: hooks.maxErrorRate,
        stopSignal: hooks.stopSignal,
        budgetExceeded: hooks.budget.exceeded,
        onProgress: hooks.onProgress,
      }),
    close: () => {
      transport.close();
      return Promise.resolve();
    },
  };
}
