// Seeded simulator configurations whose knee is known by construction (knee = slots), with coarse
// ramps. Used by `npm run verify:knee` (all five) and test/e2e/knee.test.ts (slots13-step4).

export interface KneeConfig {
  name: string;
  slots: number;
  seed: number;
  /** The ramp's concurrency, as YAML. */
  concurrency: string;
}

export const KNEE_CONFIGS: KneeConfig[] = [
  { name: 'slots7-factor2', slots: 7, seed: 1, concurrency: '{start: 1, factor: 2, max: 64}' },
  { name: 'slots13-step4', slots: 13, seed: 2, concurrency: '{start: 4, step: 4, max: 40}' },
  { name: 'slots24-step16', slots: 24, seed: 3, concurrency: '{start: 16, step: 16, max: 96}' },
  { name: 'slots50-factor2', slots: 50, seed: 4, concurrency: '{start: 4, factor: 2, max: 256}' },
  { name: 'slots150-step16', slots: 150, seed: 5, concurrency: '{start: 112, step: 16, max: 256}' },
];

const STEP_MS = 20;

/**
 * A profile whose TTFT regimes are far apart: 20 ms decode steps and 3 × slots output tokens, so
 * below the knee TTFT ≤ 2 steps (40 ms) while one request over it adds up to E2E / slots = 3 steps
 * to the MEAN TTFT (measured: about half of that). The rule is on the mean: just over the knee sequences finish in lockstep groups,
 * so only about 1 request in slots+1 waits (for a whole E2E) — invisible to p90 once slots > 10,
 * to p99 once slots > 100 — while the mean moves by E2E / (slots + 1) at any size (docs/simulator.md).
 */
export function kneeProfile(c: KneeConfig, opts: { fast?: boolean } = {}): string {
  const tokens = Math.max(40, 3 * c.slots);
  const e2eMs = tokens * STEP_MS;
  const warmupMs = Math.max(opts.fast ? 500 : 1000, e2eMs);
  // fast (tests): shorter windows judged on the point estimate when the interval cannot decide.
  const stage = opts.fast ? '{requests: 60, duration: 2s}' : '{requests: 80, duration: 3s}';
  return `name: ${c.name}
target:
  simulator: {preset: tiny, slots: ${c.slots}, seed: ${c.seed}, step_base_ms: ${STEP_MS}, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 0, jitter: 0.02}
request:
  messages: [{role: user, content: "What is the capacity of this service?"}]
  max_tokens: ${tokens}
  timeouts: {first_token: 30s, idle: 5s, total: 60s}
ramp:
  concurrency: ${c.concurrency}
  warmup: ${warmupMs}ms
  stage: ${stage}
  drain: 30s
slo:
  - avg(ttft) < 52ms
  - success_rate >= 90%
verdict: {max_extensions: ${opts.fast ? 0 : 1}}
`;
}

/**
 * A seeded simulator configuration for a rate run (open loop). Its service rate at the knee is known from the
 * engine's formulas (docs/simulator.md, "Service rate at the knee"): `serviceRate(c)`.
 */
export interface RateKneeConfig {
  name: string;
  slots: number;
  stepBaseMs: number;
  stepPerSeqMs: number;
  /** Output tokens per request (max_tokens). */
  outputTokens: number;
  prefillMsPer1kTokens: number;
  seed: number;
}

export const RATE_KNEE_CONFIGS: RateKneeConfig[] = [
  {
    name: 'rate-slots16',
    slots: 16,
    stepBaseMs: 20,
    stepPerSeqMs: 0,
    outputTokens: 40,
    prefillMsPer1kTokens: 0,
    seed: 11,
  },
  {
    name: 'rate-slots12',
    slots: 12,
    stepBaseMs: 12,
    stepPerSeqMs: 0.5,
    outputTokens: 48,
    prefillMsPer1kTokens: 10,
    seed: 12,
  },
  {
    name: 'rate-slots24',
    slots: 24,
    stepBaseMs: 15,
    stepPerSeqMs: 0.25,
    outputTokens: 64,
    prefillMsPer1kTokens: 0,
    seed: 13,
  },
];

/** The rate profiles' prompt: 4 + ceil(37 / 4) = 14 prompt tokens by the simulator's estimate. */
export const RATE_KNEE_PROMPT = 'What is the capacity of this service?';
export const RATE_KNEE_PROMPT_TOKENS = 14;

/**
 * Requests/s the engine completes with every slot busy: each step emits one token to each of `slots` sequences
 * and admits slots / n new ones, whose prefill it pays, so
 *   service rate = 1000 × slots / (n × step(slots) + slots × prefill),  step(a) = step_base + step_per_seq × a,
 *   prefill = prefill_ms_per_1k_tokens × prompt_tokens / 1000.
 */
export function serviceRate(c: RateKneeConfig, promptTokens = RATE_KNEE_PROMPT_TOKENS): number {
  const step = c.stepBaseMs + c.stepPerSeqMs * c.slots;
  const prefill = (c.prefillMsPer1kTokens * promptTokens) / 1000;
  return (1000 * c.slots) / (c.outputTokens * step + c.slots * prefill);
}

/**
 * A rate run whose p99 TTFT rule finds a rate just below the service rate: Poisson arrivals from 2 req/s up by
 * 1.5× per stage, and long stages (30 s warm-up + 150 s window) so that a rate above the service rate shows its
 * growing queue (TTFT grows by (rate / service rate − 1) s per second of the stage) and one below it reaches its
 * steady queue (docs/simulator.md, "Open loop: where a p99 TTFT rule finds the knee").
 */
export function rateKneeProfile(c: RateKneeConfig, seed = 1): string {
  return `name: ${c.name}
target:
  simulator: {preset: tiny, slots: ${c.slots}, seed: ${c.seed}, step_base_ms: ${c.stepBaseMs}, step_per_seq_ms: ${c.stepPerSeqMs}, prefill_ms_per_1k_tokens: ${c.prefillMsPer1kTokens}, jitter: 0.02}
request:
  messages: [{role: user, content: "${RATE_KNEE_PROMPT}"}]
  max_tokens: ${c.outputTokens}
  seed: ${seed}
  timeouts: {first_token: 60s, idle: 10s, total: 120s}
ramp:
  rate: {start: 2, factor: 1.5, max: 60}
  warmup: 30s
  stage: {duration: 150s}
  drain: 60s
slo:
  - p99(ttft) < 2s
  - success_rate >= 99%
`;
}
