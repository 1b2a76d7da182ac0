// What a worker thread or a remote agent runs its part of every stage with, built from the setup the controller sends
// it: one builder, so that threads and agents draw the same seeded payloads and redact the same secrets.
import type { Clock } from '../util/clock.ts';
import { mulberry32 } from '../util/prng.ts';
import { makeRedactor } from '../util/secrets.ts';
import { createPayloadSource, type PayloadSpec } from './payload-source.ts';
import { createInProcessExecutor, type InProcessExecutor } from './stage-runner.ts';
import { createTransport, type TransportConfig } from './transport.ts';

export interface PartSetup {
  /** The part's index (thread or agent): part of its payload sampling seed. */
  index: number;
  /** Prefix of the request ids this part sends (it names the part). */
  idPrefix: string;
  transport: TransportConfig;
  /** What each request sends (synthetic prompts, conversations); absent: a payload drawn from `transport.body`. */
  payloads?: PayloadSpec;
  /** The run's payload sampling seed (request.seed); each part derives its own from it. */
  seed: number;
  /** Secret values for the part's redactor (the API key, secret header values). */
  secrets: (string | null)[];
  path: 'fast' | 'sdk';
  interruptGraceMs?: number;
}

export function createPartExecutor(
  setup: PartSetup,
  clock: Clock,
): { executor: InProcessExecutor; redact: (text: string) => string } {
  const redact = makeRedactor(setup.secrets);
  const transport = createTransport({ config: setup.transport, clock, redact, path: setup.path });
  const rng = mulberry32((setup.seed + 7919 * (setup.index + 1)) >>> 0);
  const executor = createInProcessExecutor({
    transport,
    clock,
    idPrefix: setup.idPrefix,
    payloads: createPayloadSource(setup.payloads ?? { kind: 'payloads' }, {
      payloadCount: setup.transport.body.payloads.length,
      endpoint: setup.transport.endpoint ?? 'chat',
      rng,
    }),
    interruptGraceMs: setup.interruptGraceMs,
  });
  return { executor, redact };
}
