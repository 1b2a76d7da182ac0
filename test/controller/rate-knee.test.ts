// Where a `p99(ttft) < 2s` rule puts a rate run's capacity on a simulator whose service rate is known: within 10 %
// below the documented service rate at the knee (docs/simulator.md), for three seeded configurations. The whole
// search (ramp, extensions, confirmations, bisection) runs the real controller against the simulator's own Engine
// on a fake clock: about an hour of simulated time per search, seconds of real time. `npm run verify:knee` runs the same
// configurations against the simulator over HTTP.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RATE_KNEE_CONFIGS, RATE_KNEE_PROMPT_TOKENS, rateKneeProfile, serviceRate } from '../../bench/knee-configs.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { createInProcessExecutor } from '../../src/load/stage-runner.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { RunClock } from '../../src/util/clock.ts';
import { engineTransport } from '../engine-transport.ts';
import { FakeClock } from '../fake-clock.ts';
import { fakeTarget } from '../fake-search.ts';
import { tempDir } from '../helpers.ts';

describe('a rate run finds the service rate at the knee', () => {
  for (const c of RATE_KNEE_CONFIGS) {
    it(`${c.name}: capacity.rate lies within 10 % below ${serviceRate(c).toFixed(2)} req/s`, async () => {
      const dir = tempDir('fc-rate-knee-');
      // The event-loop check watches the real machine, not the fake clock: lifted so a busy test machine cannot decide.
      const yaml = `${rateKneeProfile(c)}verdict: {max_event_loop_delay: 10s}\n`;
      const { profile } = await loadProfile(join(dir, 'p.yaml'), { text: yaml, env: {} });
      const clock = new FakeClock();
      const runClock: RunClock = Object.assign(clock, { originEpochMs: 1_767_225_600_000 });
      const params = {
        slots: c.slots,
        queue_limit: null,
        prefill_ms_per_1k_tokens: c.prefillMsPer1kTokens,
        first_token_delay_ms: 0,
        step_base_ms: c.stepBaseMs,
        step_per_seq_ms: c.stepPerSeqMs,
        jitter: 0.02,
        seed: c.seed,
      };
      const transport = engineTransport(clock, params, {
        outputTokens: c.outputTokens,
        promptTokens: RATE_KNEE_PROMPT_TOKENS,
      });
      const run = runCapacitySearch({
        profile,
        env: {},
        outDir: dir,
        clock: runClock,
        target: () => Promise.resolve(fakeTarget),
        executor: (_t, cl, idPrefix) =>
          Promise.resolve(createInProcessExecutor({ transport, clock: cl, idPrefix, pickPayload: () => 0 })),
      });
      const result = await clock.settle(run, 10_000_000);
      const mu = serviceRate(c);
      const rate = result.capacity.rate!;
      expect(result.capacity.stopReason).toBe('knee_found');
      expect(rate / mu).toBeGreaterThanOrEqual(0.9);
      expect(rate / mu).toBeLessThanOrEqual(1);
      // Above the service rate the achieved throughput stays at it: the offered-versus-achieved chart flattens.
      const over = result.summary.stages.filter((s) => s.offered_rate! > 1.05 * mu);
      expect(over.length).toBeGreaterThan(0);
      for (const s of over) expect(s.achieved_rate! / mu).toBeLessThan(1.03);
    }, 120_000);
  }
});
