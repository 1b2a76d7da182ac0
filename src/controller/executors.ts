// Chooses and builds the stage executor for a run: worker threads when `workers > 1`, else this thread.
import type { StageExecutor } from '../load/executor.ts';
import { createPayloadSource } from '../load/payload-source.ts';
import { createInProcessExecutor } from '../load/stage-runner.ts';
import { createTransport } from '../load/transport.ts';
import { startWorkerPool } from '../load/worker-pool.ts';
import type { Profile } from '../profile/types.ts';
import type { RunClock } from '../util/clock.ts';
import { mulberry32 } from '../util/prng.ts';
import type { Target } from './target.ts';
import { transportConfig } from './transport-config.ts';
import { buildWorkload } from './workload.ts';

export async function createExecutor(
  profile: Profile,
  target: Target,
  clock: RunClock,
  idPrefix: string,
): Promise<StageExecutor> {
  const workload = await buildWorkload(profile);
  const config = transportConfig(profile, target.baseUrl, target.apiKey, workload);
  if (profile.workers > 1) {
    return startWorkerPool({
      workers: profile.workers,
      transport: config,
      payloads: workload.spec,
      seed: profile.request.seed,
      secrets: target.secrets,
      originEpochMs: clock.originEpochMs,
      path: 'fast',
      clock,
      idPrefix,
    });
  }
  const transport = createTransport({ config, clock, redact: target.redact });
  const payloads = createPayloadSource(workload.spec, {
    payloadCount: config.body.payloads.length,
    endpoint: config.endpoint ?? 'chat',
    rng: mulberry32(profile.request.seed),
  });
  return createInProcessExecutor({ transport, clock, idPrefix, payloads });
}
