// Chooses and builds the stage executor for a run: remote agents when the profile lists some, worker threads when
// `workers > 1`, else this thread.
import { ToolError } from '../errors.ts';
import { AGENT_TOKEN_ENV } from '../load/agent-protocol.ts';
import type { StageExecutor } from '../load/executor.ts';
import { connectAgents } from '../load/remote-agents.ts';
import { createPayloadSource, type PayloadSpec } from '../load/payload-source.ts';
import { createInProcessExecutor } from '../load/stage-runner.ts';
import { createTransport, type TransportConfig } from '../load/transport.ts';
import { startWorkerPool } from '../load/worker-pool.ts';
import type { Profile } from '../profile/types.ts';
import type { RunClock } from '../util/clock.ts';
import { mulberry32 } from '../util/prng.ts';
import { TOOL_VERSION } from '../version.ts';
import type { Target } from './target.ts';
import { transportConfig } from './transport-config.ts';
import { buildWorkload } from './workload.ts';

/** What only a remote-agents run needs from outside the profile. */
export interface ExecutorContext {
  env?: NodeJS.ProcessEnv;
  /** Lines for the user (agents connected or lost). */
  notice?: (text: string) => void;
  /** How long to wait for agents that do not listen yet. */
  agentsWaitMs?: number;
}

export async function createExecutor(
  profile: Profile,
  target: Target,
  clock: RunClock,
  idPrefix: string,
  context: ExecutorContext = {},
): Promise<StageExecutor> {
  const workload = await buildWorkload(profile);
  const config = transportConfig(profile, target.baseUrl, target.apiKey, target.headers, workload);
  if (profile.agents && profile.agents.length > 0)
    return createAgentsExecutor(profile, target, clock, idPrefix, context, { config, spec: workload.spec });
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

function createAgentsExecutor(
  profile: Profile,
  target: Target,
  clock: RunClock,
  idPrefix: string,
  context: ExecutorContext,
  workload: { config: TransportConfig; spec: PayloadSpec },
): Promise<StageExecutor> {
  if (profile.workers > 1)
    throw new ToolError(
      'invalid_arguments',
      'workers cannot be combined with agents: each agent runs one event loop',
      'list more agents instead',
    );
  const token = context.env?.[AGENT_TOKEN_ENV];
  if (!token)
    throw new ToolError(
      'invalid_arguments',
      `environment variable ${AGENT_TOKEN_ENV} is not set: the agents require it of their controller`,
      `export ${AGENT_TOKEN_ENV}=... (the token the agents were started with)`,
    );
  return connectAgents({
    urls: profile.agents!,
    token,
    toolVersion: TOOL_VERSION,
    transport: workload.config,
    payloads: workload.spec,
    seed: profile.request.seed,
    secrets: target.secrets,
    idPrefix,
    clock,
    connectWaitMs: context.agentsWaitMs,
    notice: context.notice,
  });
}
