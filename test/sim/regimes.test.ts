// The knee over real HTTP: with `slots = S`, TTFT at concurrency S and at 2S falls in the two regimes
// predictClosedLoop gives (≤ 2 steps vs. a whole request's wait), which are ~8× apart, so a busy machine's
// noise cannot blur them. The margins compare with the model's own numbers, not with the machine's speed.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictClosedLoop } from '../../src/sim/config.ts';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.ts';
import { median } from './raw-client.ts';

const SLOTS = 4;
const TOKENS = 16;

async function closedLoop(openai: OpenAI, clients: number, rounds: number): Promise<number[]> {
  const ttfts: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let round = 0; round < rounds; round++) {
        const t0 = performance.now();
        const stream = await openai.chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
          max_tokens: TOKENS,
        });
        let ttft: number | null = null;
        let tokens = 0;
        for await (const chunk of stream) {
          if (!chunk.choices[0]?.delta.content) continue;
          tokens++;
          ttft ??= performance.now() - t0;
        }
        expect(tokens).toBe(TOKENS);
        // The first round starts from an empty engine: not steady state.
        if (round > 0) ttfts.push(ttft!);
      }
    }),
  );
  return ttfts;
}

describe('TTFT regimes around the knee (slots = 4, 30 ms steps, 16 tokens)', () => {
  let sim: RunningSimulator;
  let openai: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({
      preset: 'tiny',
      overrides: { slots: SLOTS, step_base_ms: 30, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 0, jitter: 0 },
    });
    openai = new OpenAI({ baseURL: sim.baseUrl, apiKey: 'test', maxRetries: 0 });
  });
  afterAll(() => sim.stop());

  it('C = S: one to two steps; C = 2S: every request waits a whole request for a slot', async () => {
    const below = predictClosedLoop(sim.config, SLOTS, { outputTokens: TOKENS });
    const above = predictClosedLoop(sim.config, 2 * SLOTS, { outputTokens: TOKENS });
    expect([below.ttftLowMs, below.ttftHighMs, above.ttftMeanMs]).toEqual([30, 60, 510]);
    // The boundary between the regimes: geometric mean of the slow end of the first and the second (175 ms).
    const boundary = Math.sqrt(below.ttftHighMs * above.ttftMeanMs);

    const atS = median(await closedLoop(openai, SLOTS, 3));
    const at2S = median(await closedLoop(openai, 2 * SLOTS, 3));

    expect(atS).toBeGreaterThanOrEqual(below.ttftLowMs * 0.9);
    expect(atS).toBeLessThan(boundary);
    expect(at2S).toBeGreaterThan(boundary);
    expect(at2S).toBeGreaterThan(above.ttftMeanMs * 0.75);
    expect(at2S).toBeLessThan(above.ttftMeanMs * 1.5 + 100);
    expect(at2S / atS).toBeGreaterThan(3);
  });
});
