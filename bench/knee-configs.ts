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
