// Pure: the intended send times of an open-loop stage, from its rate, arrival law and seed alone. Fixed before the
// stage starts and never depending on responses, so a slow server cannot slow the arrivals (no coordinated omission).
import type { ArrivalLaw } from '../model/stage.ts';
import { mulberry32 } from '../util/prng.ts';

export interface ArrivalSpec {
  /** Arrivals per second. */
  rate: number;
  arrival: ArrivalLaw;
  /** Gamma shape: 1 is Poisson, below 1 burstier, above 1 more regular (coefficient of variation 1/√shape). */
  burstiness: number;
  seed: number;
}

/** Arrival times in ms from the stage start, increasing, without end: t_i = t_{i−1} + gap_i, t_0 = 0. */
export function* arrivalTimes(spec: ArrivalSpec): Generator<number, never> {
  const gap = gapSampler(spec);
  let t = 0;
  for (;;) {
    t += gap();
    yield t;
  }
}

/** Every arrival time before `spanMs` (the stage's warm-up plus window). */
export function arrivalSchedule(spec: ArrivalSpec, spanMs: number): number[] {
  const out: number[] = [];
  for (const t of arrivalTimes(spec)) {
    if (t >= spanMs) break;
    out.push(t);
  }
  return out;
}

/** A stage's own seed: the run's seed mixed with the stage index, so every stage (re-runs too) draws afresh. */
export function stageSeed(runSeed: number, stageIndex: number): number {
  let h = Math.imul((runSeed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(stageIndex + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The gap sampler of an arrival law, in ms: constant 1/rate; exponential; gamma of mean 1/rate. */
function gapSampler(spec: ArrivalSpec): () => number {
  const meanMs = 1000 / spec.rate;
  if (spec.arrival === 'constant') return () => meanMs;
  const rng = mulberry32(spec.seed);
  // 1 − u lies in (0, 1]: its logarithm is finite.
  const uniform = () => 1 - rng();
  if (spec.arrival === 'poisson') return () => -Math.log(uniform()) * meanMs;
  const shape = spec.burstiness;
  const normal = normalSampler(uniform);
  return () => (gammaSample(shape, uniform, normal) / shape) * meanMs;
}

/** Standard normal deviates by Box–Muller, two per pair of uniforms. */
function normalSampler(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** A gamma(shape, 1) deviate: Marsaglia and Tsang (2000); below shape 1, gamma(shape + 1) × U^(1/shape). */
function gammaSample(shape: number, uniform: () => number, normal: () => number): number {
  if (shape < 1) return gammaSample(shape + 1, uniform, normal) * Math.pow(uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal();
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}
