import { describe, expect, it } from 'vitest';
import { progressSnapshot } from '../../src/load/stage-runner.ts';

describe('progressSnapshot', () => {
  it('reports ok/s over the elapsed window and the p99 TTFT so far', () => {
    const p = progressSnapshot({
      stage: 3,
      concurrency: 8,
      now: 3000,
      stageStart: 0,
      ws: 1000,
      windowEnd: 5000,
      done: 40,
      failed: 10,
      ttfts: [30, 10, 20],
    });
    expect(p).toEqual({
      stage: 3,
      concurrency: 8,
      elapsedMs: 3000,
      inWindow: true,
      done: 40,
      failed: 10,
      okPerS: 15,
      ttftP99Ms: 30,
    });
  });
  it('is zero during the warm-up and stops the clock at the window end', () => {
    expect(
      progressSnapshot({
        stage: 0,
        concurrency: 1,
        now: 500,
        stageStart: 0,
        ws: 1000,
        windowEnd: 2000,
        done: 0,
        failed: 0,
        ttfts: [],
      }),
    ).toMatchObject({ inWindow: false, okPerS: 0, ttftP99Ms: null });
    expect(
      progressSnapshot({
        stage: 0,
        concurrency: 1,
        now: 9000,
        stageStart: 0,
        ws: 1000,
        windowEnd: 2000,
        done: 10,
        failed: 0,
        ttfts: [],
      }).okPerS,
    ).toBe(10);
  });
});
