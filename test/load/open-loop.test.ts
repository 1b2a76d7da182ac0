// The open loop in the in-process executor, on a fake clock: requests leave at their scheduled times whatever the
// server does, the window and phases go by the scheduled time, the in-flight cap records drops, and two parts of a
// stage (worker threads) send exactly the one schedule between them.
import { describe, expect, it } from 'vitest';
import { arrivalSchedule } from '../../src/load/arrivals.ts';
import { unlimitedBudget, type PlannedRequest, type RequestSender } from '../../src/load/executor.ts';
import { createInProcessExecutor } from '../../src/load/stage-runner.ts';
import { localWindowCounter } from '../../src/load/tally.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { OpenLoadSpec, StagePlan } from '../../src/model/stage.ts';
import { summarizeStage } from '../../src/stats/summarize.ts';
import { FakeClock } from '../fake-clock.ts';

/** A server that answers every request after `latencyMs(n)` (first token at half of it), on the fake clock. */
function slowServer(clock: FakeClock, latencyMs: (n: number) => number): RequestSender & { sent: PlannedRequest[] } {
  const sent: PlannedRequest[] = [];
  return {
    sent,
    send(req) {
      const n = sent.push(req) - 1;
      const ms = latencyMs(n);
      return new Promise<RequestRecord>((resolve) => {
        clock.setTimeout(
          () =>
            resolve({
              ...req,
              scheduledAt: req.scheduledAt ?? null,
              headersAt: req.t0 + 1,
              firstContentAt: req.t0 + ms / 2,
              lastContentAt: clock.now(),
              end: clock.now(),
              gapsMs: [],
              contentChunks: 2,
              status: 200,
              ok: true,
              errorClass: null,
              error: null,
              errorPhase: null,
              finishReason: 'stop',
              promptTokens: 1,
              outputTokens: 2,
              outputTokensEstimated: false,
              retryAfterS: null,
            }),
          ms,
        );
      });
    },
    abortAll: () => {},
    close: () => {},
  };
}

const LOAD: OpenLoadSpec = { kind: 'open', rate: 20, arrival: 'poisson', burstiness: 1, seed: 77, maxInFlight: 1000 };

function plan(load: Partial<OpenLoadSpec> = {}, over: Partial<StagePlan> = {}): StagePlan {
  return {
    index: 3,
    load: { ...LOAD, ...load },
    warmupMs: 1000,
    durationMs: 4000,
    requestLimit: null,
    drainMs: 60_000,
    ...over,
  };
}

async function run(p: StagePlan, latencyMs: (n: number) => number, part?: { index: number; of: number }) {
  const clock = new FakeClock();
  const server = slowServer(clock, latencyMs);
  const executor = createInProcessExecutor({ transport: server, clock, idPrefix: 'o', pickPayload: () => 0 });
  const hooks = { onRecord: () => {}, maxErrorRate: 1, budget: unlimitedBudget() };
  const shared = part ? { part, windowCounter: localWindowCounter() } : undefined;
  const res = await clock.settle(executor.runStage(p, hooks, shared));
  return { res, server, clock };
}

describe('open loop on a fake clock', () => {
  it('sends at the scheduled times even when the server takes seconds, and judges by the scheduled time', async () => {
    const p = plan();
    const schedule = arrivalSchedule(LOAD, 5000);
    const fast = await run(p, () => 20);
    const slow = await run(p, (n) => (n > 30 ? 3000 : 20));
    for (const { res } of [fast, slow]) {
      expect(res.records.map((r) => r.scheduledAt).sort((a, b) => a! - b!)).toEqual(schedule);
      // The fake clock is exact: every request left at its scheduled time.
      expect(res.records.every((r) => r.t0 === r.scheduledAt)).toBe(true);
      for (const r of res.records) expect(r.phase).toBe(r.scheduledAt! >= 1000 ? 'window' : 'warmup');
      expect(res.window).toEqual({ index: 3, concurrency: 0, offeredRate: 20, startMs: 1000, endMs: 5000 });
    }
    // A closed loop would have slowed down; the open loop's TTFT from the scheduled time shows the wait.
    const s = summarizeStage(slow.res.records, slow.res.window);
    expect(s.offeredRate).toBe(20);
    expect(s.sendLagMs!.max).toBe(0);
    expect(s.ttftMs.max).toBeCloseTo(1500, 6);
  });

  it('an arrival finding max_in_flight requests open is recorded as dropped, never skipped', async () => {
    const p = plan({ maxInFlight: 5 });
    const { res, server } = await run(p, () => 2000);
    const schedule = arrivalSchedule(LOAD, 5000);
    expect(res.records).toHaveLength(schedule.length);
    const dropped = res.records.filter((r) => r.errorClass === 'dropped');
    expect(dropped.length).toBeGreaterThan(0);
    expect(server.sent).toHaveLength(schedule.length - dropped.length);
    for (const r of dropped) {
      expect(r).toMatchObject({ ok: false, status: null, outputTokens: 0 });
      expect(r.end).toBe(r.t0);
      expect(r.error).toContain('ramp.max_in_flight 5');
    }
    // At most 5 open at any time: each sent request holds 2 s.
    const sent = res.records.filter((r) => r.errorClass !== 'dropped');
    for (const r of sent) expect(sent.filter((x) => x.t0 <= r.t0 && x.end > r.t0).length).toBeLessThanOrEqual(5);
    const s = summarizeStage(res.records, res.window);
    const windowDrops = dropped.filter((r) => r.phase === 'window').length;
    expect(s.dropped).toBe(windowDrops);
    expect(s.errors.dropped).toBe(windowDrops);
    expect(s.failed).toBe(windowDrops);
    // Dropped arrivals were never in flight and completed nothing.
    expect(s.completedInWindow).toBe(sent.filter((r) => r.end >= 1000 && r.end < 5000).length);
  });

  it('two parts (worker threads) send exactly the one schedule between them, each its own share of the cap', async () => {
    const p = plan({ maxInFlight: 4 });
    const parts = await Promise.all([0, 1].map((index) => run(p, () => 300, { index, of: 2 })));
    const schedule = arrivalSchedule(LOAD, 5000);
    parts.forEach(({ res }, k) => {
      expect(res.records.map((r) => r.scheduledAt!).sort((a, b) => a - b)).toEqual(
        schedule.filter((_, i) => i % 2 === k),
      );
      expect(res.records.every((r) => r.worker === k)).toBe(true);
      const sent = res.records.filter((r) => r.errorClass !== 'dropped');
      for (const r of sent) expect(sent.filter((x) => x.t0 <= r.t0 && x.end > r.t0).length).toBeLessThanOrEqual(2);
    });
  });

  it('a request-limit window counts arrivals, dropped ones too, and closes at the last', async () => {
    const p = plan({ maxInFlight: 3 }, { durationMs: null, requestLimit: 40 });
    const { res } = await run(p, () => 1000);
    const window = res.records.filter((r) => r.phase === 'window');
    expect(window).toHaveLength(40);
    const last = Math.max(...window.map((r) => r.scheduledAt!));
    expect(res.window.endMs).toBe(last);
    expect(res.records.every((r) => r.scheduledAt! <= last)).toBe(true);
  });

  it('a stop (the breaker) ends the arrivals early', async () => {
    const clock = new FakeClock();
    const executor = createInProcessExecutor({
      transport: slowServer(clock, () => 50),
      clock,
      idPrefix: 'o',
      pickPayload: () => 0,
    });
    const stop = new AbortController();
    clock.setTimeout(() => stop.abort(), 2000);
    const res = await clock.settle(
      executor.runStage(plan(), {
        onRecord: () => {},
        maxErrorRate: 1,
        budget: unlimitedBudget(),
        stopSignal: stop.signal,
      }),
    );
    expect(res.stoppedBy).toBe('interrupted');
    expect(Math.max(...res.records.map((r) => r.scheduledAt!))).toBeLessThan(2000);
  });
});
