// Chooses and builds the stage executor for a run: worker threads when `workers > 1`, else this thread.
import type { StageExecutor } from '../load/executor.ts';
import { createInProcessExecutor } from '../load/stage-runner.ts';
import { createTransport } from '../load/transport.ts';
import { startWorkerPool } from '../load/worker-pool.ts';
import type { Profile } from '../profile/types.ts';
import type { RunClock } from '../util/clock.ts';
import { mulberry32 } from '../util/prng.ts';
import type { Target } from './target.ts';
import { transportConfig } from './transport-config.ts';

export async function createExecutor(
  profile: Profile,
  target: Target,
  clock: RunClock,
  idPrefix: string,
): Promise<StageExecutor> {
  const config = transportConfig(profile, target.baseUrl, target.apiKey);
  if (profile.workers > 1) {
    return startWorkerPool({
      workers: profile.workers,
      transport: config,
      seed: profile.request.seed,
      secrets: target.secrets,
      originEpochMs: clock.originEpochMs,
      path: 'fast',
      clock,
      idPrefix,
    });
  }
  const transport = createTransport({ config, clock, redact: target.redact });
  const rng = mulberry32(profile.request.seed);
  const nPayloads = config.body.payloads.length;
  const pickPayload = nPayloads <= 1 ? () => 0 : () => Math.floor(rng() * nPayloads);
  return createInProcessExecutor({ transport, clock, idPrefix, pickPayload });
}
