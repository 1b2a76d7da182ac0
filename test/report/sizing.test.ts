// Sizing arithmetic: replicas for a peak and the cost of a million output tokens, with their edge cases.
import { describe, expect, it } from 'vitest';
import type { StageResult } from '../../src/model/verdict.ts';
import type { Profile, SizingConfig } from '../../src/profile/types.ts';
import { capacityReviewJson } from '../../src/report/review-json.ts';
import { costPerMillionOutputTokens, replicasFor, sizingAt } from '../../src/report/sizing.ts';

describe('replicasFor: ceil(peak ÷ QPS per replica) + redundancy', () => {
  it.each([
    // peak, qps per replica, redundancy, replicas
    [100, 18, 0, 6],
    [100, 18, 2, 8],
    [90, 18, 0, 5], // exactly 5 replicas' worth: no sixth
    [90, 18, 1, 6],
    [1.1, 0.1, 0, 11], // 1.1 / 0.1 = 11.000000000000002 in floating point: still 11
    [0.7, 0.1, 0, 7], // 6.999999999999999: 7
    [0.35, 0.1, 0, 4], // 3.4999999999999996: a real fraction rounds up
    [5, 18, 0, 1], // a fraction of one replica needs one
    [18.001, 18, 0, 2],
    [1000, 0.5, 3, 2003],
  ])('peak %d at %d QPS each, %d spare → %d', (peak, qps, redundancy, want) => {
    expect(replicasFor(peak, qps, redundancy)).toBe(want);
  });

  it.each([
    ['no capacity (no QPS)', null],
    ['QPS 0 (nothing completed)', 0],
    ['a negative QPS', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('is null for %s', (_name, qps) => {
    expect(replicasFor(100, qps, 1)).toBeNull();
  });
});

describe('costPerMillionOutputTokens: cost_per_hour ÷ (tokens/s × 3600) × 1e6', () => {
  it.each([
    // cost per hour, tokens/s, cost per 1M tokens
    [3.6, 1000, 1],
    [2.5, 1151.878, (2.5 / (1151.878 * 3600)) * 1e6],
    [0, 1000, 0], // a free replica
    [36, 10, 1000],
  ])('%d per hour at %d tokens/s → %d per 1M', (cost, tps, want) => {
    expect(costPerMillionOutputTokens(cost, tps)).toBeCloseTo(want, 12);
  });

  it.each([
    ['no capacity', null],
    ['no output tokens', 0],
  ])('is null for %s', (_name, tps) => {
    expect(costPerMillionOutputTokens(2, tps)).toBeNull();
  });
});

describe('sizingAt', () => {
  const cfg = (over: Partial<SizingConfig>): SizingConfig => ({
    peakQps: 100,
    redundancy: 1,
    costPerHour: 2,
    currency: 'USD',
    ...over,
  });
  it.each([
    ['peak and cost', cfg({}), 20, 2000, { replicas: 6, fleetCostPerHour: 12, costPerMillionOutputTokens: 2 / 7.2 }],
    [
      'no peak: no replicas, no fleet cost',
      cfg({ peakQps: null }),
      20,
      2000,
      { replicas: null, fleetCostPerHour: null, costPerMillionOutputTokens: 2 / 7.2 },
    ],
    [
      'no cost: replicas only',
      cfg({ costPerHour: null }),
      20,
      2000,
      { replicas: 6, fleetCostPerHour: null, costPerMillionOutputTokens: null },
    ],
    [
      'QPS 0: nothing to count or price',
      cfg({}),
      0,
      0,
      { replicas: null, fleetCostPerHour: null, costPerMillionOutputTokens: null },
    ],
    ['no capacity', cfg({}), null, null, { replicas: null, fleetCostPerHour: null, costPerMillionOutputTokens: null }],
  ])('%s', (_name, c, qps, tps, want) => {
    const got = sizingAt(c, qps, tps);
    expect(got.replicas).toBe(want.replicas);
    expect(got.fleetCostPerHour).toBe(want.fleetCostPerHour);
    if (want.costPerMillionOutputTokens === null) expect(got.costPerMillionOutputTokens).toBeNull();
    else expect(got.costPerMillionOutputTokens).toBeCloseTo(want.costPerMillionOutputTokens, 12);
  });
});

describe("summary.json's sizing", () => {
  const profile = (sizing: SizingConfig | null) => ({ slo: [], report: { sizing } }) as unknown as Profile;
  const stage = (qps: number, tps: number) => ({ summary: { qps, outputTokensPerS: tps } }) as unknown as StageResult;
  const sizing: SizingConfig = { peakQps: 120, redundancy: 1, costPerHour: 2.5, currency: 'EUR' };

  it('gives replicas, fleet cost and cost per 1M output tokens at the capacity', () => {
    const json = capacityReviewJson(profile(sizing), null, 16, stage(17.998, 1151.878)).sizing!;
    expect(json).toMatchObject({ peak_qps: 120, redundancy: 1, cost_per_hour: 2.5, currency: 'EUR', note: null });
    expect(json.at_capacity).toEqual({
      concurrency: 16,
      qps: 17.998,
      output_tokens_per_s: 1151.878,
      replicas: 8, // ceil(120 / 17.998) = 7, + 1 spare
      fleet_cost_per_hour: 20,
      cost_per_million_output_tokens: 0.603, // 2.5 / (1151.878 × 3600) × 1e6 = 0.6029
    });
  });

  it('says why nothing is sized without a capacity, or when nothing completed at it', () => {
    const none = capacityReviewJson(profile(sizing), null, null, null).sizing!;
    expect(none.at_capacity).toBeNull();
    expect(none.note).toMatch(/no capacity/);
    const zero = capacityReviewJson(profile(sizing), null, 4, stage(0, 0)).sizing!;
    expect(zero.at_capacity).toMatchObject({ replicas: null, cost_per_million_output_tokens: null });
    expect(zero.note).toMatch(/no successful request completed at the capacity \(4\)/);
  });

  it('is null without report.sizing', () => {
    expect(capacityReviewJson(profile(null), null, 16, stage(18, 1000)).sizing).toBeNull();
  });
});
