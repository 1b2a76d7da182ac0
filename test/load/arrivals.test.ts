// The open loop's intended send times (src/load/arrivals.ts): the right law for each arrival process, fixed by the
// seed alone, and split across worker threads exactly.
import { describe, expect, it } from 'vitest';
import { arrivalSchedule, arrivalTimes, stageSeed, type ArrivalSpec } from '../../src/load/arrivals.ts';
import { openParts, partArrivals } from '../../src/load/open-loop.ts';

/** The first n inter-arrival gaps (ms) of a spec. */
function gaps(spec: ArrivalSpec, n: number): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const t of arrivalTimes(spec)) {
    out.push(t - prev);
    prev = t;
    if (out.length === n) break;
  }
  return out;
}

/** Kolmogorov–Smirnov statistic D = sup |F_n(x) − F(x)| of a sample against a continuous CDF. */
function ksStatistic(sample: readonly number[], cdf: (x: number) => number): number {
  const xs = [...sample].sort((a, b) => a - b);
  const n = xs.length;
  let d = 0;
  xs.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  });
  return d;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) / m;
};

describe('Poisson arrivals', () => {
  it('2,000 seeded inter-arrivals pass a Kolmogorov–Smirnov test against the exponential law at 1 %', () => {
    const rate = 8;
    const n = 2000;
    const meanMs = 1000 / rate;
    const critical = 1.628 / Math.sqrt(n);
    for (const seed of [1, 2, 3, stageSeed(1, 0), stageSeed(42, 7)]) {
      const d = ksStatistic(
        gaps({ rate, arrival: 'poisson', burstiness: 1, seed }, n),
        (x) => 1 - Math.exp(-x / meanMs),
      );
      expect(d, `seed ${seed}`).toBeLessThan(critical);
    }
  });

  it('the KS test can fail: constant gaps and a wrong rate are rejected', () => {
    const n = 2000;
    const critical = 1.628 / Math.sqrt(n);
    const exp = (meanMs: number) => (x: number) => 1 - Math.exp(-x / meanMs);
    expect(ksStatistic(gaps({ rate: 8, arrival: 'constant', burstiness: 1, seed: 1 }, n), exp(125))).toBeGreaterThan(
      critical,
    );
    expect(ksStatistic(gaps({ rate: 8, arrival: 'poisson', burstiness: 1, seed: 1 }, n), exp(110))).toBeGreaterThan(
      critical,
    );
  });

  it('the count in a window is about rate × window (Poisson: within 4 standard deviations)', () => {
    const times = arrivalSchedule({ rate: 50, arrival: 'poisson', burstiness: 1, seed: 9 }, 60_000);
    expect(Math.abs(times.length - 3000)).toBeLessThan(4 * Math.sqrt(3000));
    expect(times.every((t, i) => t > (times[i - 1] ?? 0) && t < 60_000)).toBe(true);
  });
});

describe('constant arrivals', () => {
  it('are exactly 1/rate apart, starting one gap after the stage start', () => {
    const times = arrivalSchedule({ rate: 4, arrival: 'constant', burstiness: 1, seed: 1 }, 2_000);
    expect(times).toEqual([250, 500, 750, 1000, 1250, 1500, 1750]);
    const g = gaps({ rate: 3, arrival: 'constant', burstiness: 1, seed: 5 }, 1000);
    expect(mean(g)).toBeCloseTo(1000 / 3, 9);
    expect(cv(g)).toBeLessThan(1e-9);
  });
});

describe('gamma arrivals (burstiness = shape)', () => {
  it.each([0.25, 0.5, 1, 2, 8])('shape %s: mean gap 1/rate and coefficient of variation 1/√shape', (shape) => {
    const rate = 20;
    const g = gaps({ rate, arrival: 'gamma', burstiness: shape, seed: 11 }, 40_000);
    expect(mean(g) / (1000 / rate)).toBeGreaterThan(0.97);
    expect(mean(g) / (1000 / rate)).toBeLessThan(1.03);
    expect(cv(g) / (1 / Math.sqrt(shape))).toBeGreaterThan(0.95);
    expect(cv(g) / (1 / Math.sqrt(shape))).toBeLessThan(1.05);
  });

  it('shape 1 is exponential (KS at 1 %), shape 4 is not', () => {
    const n = 2000;
    const critical = 1.628 / Math.sqrt(n);
    const exp = (x: number) => 1 - Math.exp(-x / 100);
    expect(ksStatistic(gaps({ rate: 10, arrival: 'gamma', burstiness: 1, seed: 3 }, n), exp)).toBeLessThan(critical);
    expect(ksStatistic(gaps({ rate: 10, arrival: 'gamma', burstiness: 4, seed: 3 }, n), exp)).toBeGreaterThan(critical);
  });
});

describe('the schedule is fixed by its inputs', () => {
  it('the same spec gives the same times; another stage seed gives others', () => {
    const spec: ArrivalSpec = { rate: 12.5, arrival: 'poisson', burstiness: 1, seed: stageSeed(1, 3) };
    expect(arrivalSchedule(spec, 10_000)).toEqual(arrivalSchedule({ ...spec }, 10_000));
    expect(arrivalSchedule({ ...spec, seed: stageSeed(1, 4) }, 10_000)).not.toEqual(arrivalSchedule(spec, 10_000));
    expect(new Set([0, 1, 2, 3].map((i) => stageSeed(1, i))).size).toBe(4);
  });

  it('a longer span extends the schedule without changing its start', () => {
    const spec: ArrivalSpec = { rate: 5, arrival: 'gamma', burstiness: 0.5, seed: 2 };
    const short = arrivalSchedule(spec, 5_000);
    expect(arrivalSchedule(spec, 20_000).slice(0, short.length)).toEqual(short);
  });

  it('worker threads split it exactly: part k takes arrivals k, k + P, ..., together each once', () => {
    const whole = arrivalSchedule({ rate: 40, arrival: 'poisson', burstiness: 1, seed: 8 }, 10_000);
    for (const of of [1, 2, 3, 7]) {
      const parts = openParts(
        { kind: 'open', rate: 40, arrival: 'poisson', burstiness: 1, seed: 8, maxInFlight: 100 },
        of,
      );
      expect(parts).toBe(of);
      const split = Array.from({ length: parts }, (_, index) => [...partArrivals(whole, { index, of }, parts)]);
      split.forEach((mine, k) => expect(mine).toEqual(whole.filter((_, i) => i % parts === k)));
      expect(split.flat().sort((a, b) => a - b)).toEqual(whole);
    }
    // A cap of 2 requests in flight uses 2 of 4 threads: each needs a share of at least one.
    expect(openParts({ kind: 'open', rate: 1, arrival: 'constant', burstiness: 1, seed: 1, maxInFlight: 2 }, 4)).toBe(
      2,
    );
  });
});
