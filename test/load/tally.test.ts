// The stage tally both executors share: live progress (ok/s over the elapsed window, the type-7 p99 TTFT the report
// uses), the window's admission and end, the breaker and which stop counts.
import { quantileSorted as reportQuantile } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { SortedSample, StageTally } from '../../src/load/tally.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { StagePlan } from '../../src/model/stage.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { quantileSorted } from '../../src/util/quantile.ts';
import { FakeClock } from '../fake-clock.ts';

const plan = (over: Partial<StagePlan> = {}): StagePlan => ({
  index: 3,
  load: { kind: 'closed', concurrency: 8 },
  warmupMs: 1000,
  durationMs: 4000,
  requestLimit: null,
  drainMs: 1000,
  ...over,
});

/** A window record: failed, or ok with a TTFT (null: no content). */
const rec = (ttft: number | null, ok = true): RequestRecord =>
  ({ phase: 'window', ok, t0: 1000, firstContentAt: ttft === null ? null : 1000 + ttft }) as RequestRecord;

function tally(over: Partial<StagePlan> = {}, maxErrorRate = 1) {
  const clock = new FakeClock();
  return { clock, tally: new StageTally({ plan: plan(over), clock, stageStartMs: 0, maxErrorRate }) };
}

describe('StageTally progress', () => {
  it('reports ok/s over the elapsed window and the p99 TTFT so far (type 7, as the report)', async () => {
    const { clock, tally: t } = tally();
    for (const x of [30, 10, 20]) t.record(rec(x));
    for (let i = 0; i < 27; i++) t.record(rec(null));
    for (let i = 0; i < 10; i++) t.record(rec(null, false));
    await clock.advance(3000);
    expect(t.snapshot()).toEqual({
      stage: 3,
      concurrency: 8,
      elapsedMs: 3000,
      inWindow: true,
      done: 40,
      failed: 10,
      okPerS: 15,
      ttftP99Ms: reportQuantile([10, 20, 30], 0.99),
    });
    expect(t.snapshot().ttftP99Ms).toBeCloseTo(29.8, 9);
  });

  it('is zero during the warm-up and stops the clock at the window end', async () => {
    const { clock, tally: t } = tally({ durationMs: 1000 });
    await clock.advance(500);
    expect(t.snapshot()).toMatchObject({ inWindow: false, okPerS: 0, ttftP99Ms: null });
    for (let i = 0; i < 10; i++) t.record(rec(5));
    await clock.advance(8500);
    expect(t.snapshot().okPerS).toBe(10);
  });

  it('sends a snapshot every 500 ms once started, until disposed', async () => {
    const { clock, tally: t } = tally();
    const seen: number[] = [];
    t.start((p) => seen.push(p.elapsedMs));
    await clock.advance(1600);
    t.dispose();
    await clock.advance(5000);
    expect(seen).toEqual([500, 1000, 1500]);
    expect(clock.pending()).toBe(0);
  });
});

describe('StageTally window and stops', () => {
  it('admits warm-up and window requests, and closes at the last one of a request limit', async () => {
    const { clock, tally: t } = tally({ durationMs: null, requestLimit: 2 });
    expect(t.admit(999)).toEqual({ phase: 'warmup', last: false });
    expect(t.admit(1000)).toEqual({ phase: 'window', last: false });
    expect(t.admit(1200)).toEqual({ phase: 'window', last: true });
    await clock.advance(1300);
    t.closeAtLastRequest();
    expect(t.sendingOpen).toBe(false);
    expect(t.admit(1250)).toBeNull();
    // A stop after the limit's last request does not count: the window closed normally.
    t.stop('budget');
    expect(t.stoppedBy).toBeNull();
    expect(t.window()).toEqual({ index: 3, concurrency: 8, startMs: 1000, endMs: 1300 });
  });

  it('trips the breaker after 20 window records, and a stop closes the window then', async () => {
    const { clock, tally: t } = tally({}, 0.5);
    const stops: string[] = [];
    const withStop = new StageTally({
      plan: plan(),
      clock,
      stageStartMs: 0,
      maxErrorRate: 0.5,
      onStop: (w) => stops.push(w),
    });
    await clock.advance(2000);
    for (let i = 0; i < 19; i++) [t, withStop].forEach((x) => x.record(rec(null, false)));
    expect(t.stoppedBy).toBeNull();
    [t, withStop].forEach((x) => x.record(rec(null, false)));
    expect(t.stoppedBy).toBe('breaker');
    expect(stops).toEqual(['breaker']);
    expect(t.window().endMs).toBe(2000);
    t.interrupt();
    expect(t.stoppedBy).toBe('breaker');
  });

  it('ignores stops once a duration window is over, but an interrupt still marks the stage', async () => {
    const { clock, tally: t } = tally();
    t.start();
    await clock.advance(5000);
    expect(t.sendingOpen).toBe(false);
    t.stop('breaker');
    expect(t.stoppedBy).toBeNull();
    t.interrupt();
    expect(t.stoppedBy).toBe('interrupted');
    expect(t.window()).toEqual({ index: 3, concurrency: 8, startMs: 1000, endMs: 5000 });
    t.dispose();
  });
});

describe('quantiles', () => {
  it('util quantileSorted is the report’s type-7 quantile', () => {
    const rng = mulberry32(5);
    for (const n of [1, 2, 3, 7, 100, 1001]) {
      const xs = Array.from({ length: n }, () => Math.floor(rng() * 1000) / 7).sort((a, b) => a - b);
      for (const p of [0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1])
        expect(quantileSorted(xs, p)).toBe(reportQuantile(xs, p));
    }
    expect(quantileSorted([], 0.5)).toBeNull();
  });

  it('SortedSample merges values added between reads into one sorted sample', () => {
    const rng = mulberry32(9);
    const s = new SortedSample();
    const all: number[] = [];
    for (let round = 0; round < 50; round++) {
      const k = Math.floor(rng() * 40);
      for (let i = 0; i < k; i++) {
        const x = Math.floor(rng() * 500);
        s.add(x);
        all.push(x);
      }
      const sorted = [...all].sort((a, b) => a - b);
      expect(s.quantile(0.99)).toBe(all.length ? reportQuantile(sorted, 0.99) : null);
      expect(s.quantile(0.5)).toBe(all.length ? reportQuantile(sorted, 0.5) : null);
      expect(s.count).toBe(all.length);
    }
  });
});
