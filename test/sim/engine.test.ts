// The capacity model on a fake clock: exact, fast, independent of the machine.
import { describe, expect, it } from 'vitest';
import { kneeConcurrency, predictClosedLoop, resolveSimConfig, type SimConfig } from '../../src/sim/config.ts';
import { Engine, type EngineSequence } from '../../src/sim/engine.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { FakeClock } from './fake-clock.ts';

interface Trace {
  arrival: number;
  admitted: number | null;
  tokens: number[];
  done: number | null;
}

function seq(
  clock: FakeClock,
  tokens: number,
  promptTokens = 0,
  onDone?: () => void,
): { seq: EngineSequence; trace: Trace } {
  const trace: Trace = { arrival: clock.now(), admitted: null, tokens: [], done: null };
  return {
    trace,
    seq: {
      promptTokens,
      tokens,
      onAdmit: (now) => {
        trace.admitted = now;
      },
      onStep: (emitted, done, now) => {
        if (emitted > trace.tokens.length) trace.tokens.push(now);
        if (done) {
          trace.done = now;
          onDone?.();
        }
      },
    },
  };
}

const model = (over: Partial<SimConfig> = {}): SimConfig => ({
  ...resolveSimConfig('tiny', { jitter: 0, prefill_ms_per_1k_tokens: 0 }),
  ...over,
});

// Closed loop: each client sends again 0.2..1.7 ms after its previous request ended (network time).
// Requests that arrive after the first quarter count (steady state); qps over the last three quarters.
function closedLoop(config: SimConfig, clients: number, n: number, promptTokens: number, durationMs: number) {
  const clock = new FakeClock();
  const engine = new Engine(config, clock);
  const rnd = mulberry32(99);
  const ttfts: number[] = [];
  let completed = 0;
  const send = () => {
    const s = seq(clock, n, promptTokens, () => {
      if (s.trace.arrival > durationMs / 4) ttfts.push(s.trace.tokens[0]! - s.trace.arrival);
      if (clock.now() > durationMs / 4) completed++;
      clock.setTimer(send, 0.2 + 1.5 * rnd());
    });
    engine.submit(s.seq);
  };
  for (let i = 0; i < clients; i++) clock.setTimer(send, i * 0.05);
  clock.runUntil(durationMs);
  return {
    meanMs: ttfts.reduce((a, b) => a + b, 0) / ttfts.length,
    minMs: Math.min(...ttfts),
    maxMs: Math.max(...ttfts),
    count: ttfts.length,
    qps: completed / ((0.75 * durationMs) / 1000),
  };
}

describe('Engine', () => {
  it('emits one token per step; step = base + per_seq × active + prefill of the admitted', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ step_base_ms: 10, step_per_seq_ms: 2, prefill_ms_per_1k_tokens: 100 }), clock);
    const a = seq(clock, 3, 1000);
    const b = seq(clock, 2, 0);
    engine.submit(a.seq);
    engine.submit(b.seq);
    clock.runUntil(1000);
    // Step 1 admits both: 10 + 2×2 + 100 (a's prefill) = 114; then 14 per step with two active; then 12 with one.
    expect(a.trace.admitted).toBe(0);
    expect(a.trace.tokens).toEqual([114, 128, 140]);
    expect(b.trace.tokens).toEqual([114, 128]);
    expect(a.trace.done).toBe(140);
  });

  it('prefills only the prompt tokens not in the prefix cache; heldTokens counts prompt + emitted', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ step_base_ms: 10, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 100 }), clock);
    const a = seq(clock, 3, 1000);
    const cached: EngineSequence = { ...a.seq, onAdmit: (now) => (a.seq.onAdmit(now), 960) };
    engine.submit(cached);
    clock.runUntil(12);
    // 10 + 100 × (1000 − 960) / 1000 = 14
    expect(engine.heldTokens()).toBe(1000);
    clock.runUntil(1000);
    expect(a.trace.tokens).toEqual([14, 24, 34]);
    expect(engine.heldTokens()).toBe(0);
  });

  it('schedulerStats: running and waiting as the last admission left them, not counting arrivals mid-step', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ slots: 2, step_base_ms: 10, step_per_seq_ms: 0 }), clock);
    engine.submit(seq(clock, 3).seq);
    clock.runUntil(5);
    expect(engine.schedulerStats()).toEqual({ running: 1, waiting: 0 });
    // Arrives mid-step: the instantaneous queue has it, the scheduler's view only from the next step on.
    engine.submit(seq(clock, 3).seq);
    expect(engine.stats().waiting).toBe(1);
    expect(engine.schedulerStats()).toEqual({ running: 1, waiting: 0 });
    clock.runUntil(15);
    expect(engine.schedulerStats()).toEqual({ running: 2, waiting: 0 });
    engine.submit(seq(clock, 3).seq);
    clock.runUntil(25);
    // A third request with two slots full: it waits.
    expect(engine.schedulerStats()).toEqual({ running: 2, waiting: 1 });
    clock.runUntil(1000);
    expect(engine.schedulerStats()).toEqual({ running: 0, waiting: 0 });
  });

  it('holds at most `slots` active and admits the waiting in FIFO order as slots free', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ slots: 2, step_base_ms: 10, step_per_seq_ms: 0 }), clock);
    const traces = [4, 6, 2, 2].map((n) => {
      const s = seq(clock, n);
      engine.submit(s.seq);
      return s.trace;
    });
    clock.runUntil(1000);
    expect(traces.map((t) => t.admitted)).toEqual([0, 0, 40, 60]);
    expect(traces.map((t) => t.tokens[0])).toEqual([10, 10, 50, 70]);
    expect(engine.stats()).toMatchObject({ active: 0, waiting: 0, admitted: 4, completed: 4 });
  });

  it('rejects beyond slots + queue_limit', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ slots: 2, queue_limit: 1 }), clock);
    const tickets = [1, 2, 3, 4].map(() => engine.submit(seq(clock, 5).seq));
    expect(tickets.map((t) => t !== null)).toEqual([true, true, true, false]);
    tickets[2]!.cancel();
    expect(engine.submit(seq(clock, 5).seq)).not.toBeNull();
    expect(engine.stats().rejected).toBe(1);
  });

  it('a cancelled sequence frees its slot at the end of the running step', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ slots: 1, step_base_ms: 10, step_per_seq_ms: 0 }), clock);
    const a = seq(clock, 100);
    const ticket = engine.submit(a.seq)!;
    const b = seq(clock, 1);
    engine.submit(b.seq);
    clock.runUntil(25);
    ticket.cancel();
    clock.runUntil(1000);
    expect(a.trace.tokens).toEqual([10, 20]);
    expect(b.trace.admitted).toBe(30);
    expect(b.trace.done).toBe(40);
  });

  it('sleeps when idle: no timer is left once everything finished, and an arrival wakes it', () => {
    const clock = new FakeClock();
    const engine = new Engine(model({ step_base_ms: 10, step_per_seq_ms: 0 }), clock);
    engine.submit(seq(clock, 2).seq);
    clock.runUntil(100);
    const steps = engine.stats().steps;
    clock.runUntil(10_000);
    expect(engine.stats().steps).toBe(steps);
    const late = seq(clock, 1);
    engine.submit(late.seq);
    clock.runUntil(20_000);
    expect(late.trace.tokens).toEqual([10_010]);
  });

  it('jitter is seeded: the same seed gives the same step durations, within ±jitter', () => {
    const run = (seed: number) => {
      const clock = new FakeClock();
      const engine = new Engine(model({ step_base_ms: 10, step_per_seq_ms: 0, jitter: 0.2, seed }), clock);
      const s = seq(clock, 50);
      engine.submit(s.seq);
      clock.runUntil(10_000);
      return s.trace.tokens.map((t, i) => t - (i === 0 ? 0 : s.trace.tokens[i - 1]!));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...a)).toBeLessThanOrEqual(12);
  });

  it.each([1, 8, 16, 17, 18, 20, 24, 32])(
    'demo preset, closed loop at C=%i: mean TTFT matches predictClosedLoop',
    (c) => {
      const config = resolveSimConfig('demo');
      const r = closedLoop(config, c, 64, 14, 40_000);
      const p = predictClosedLoop(config, c, { outputTokens: 64, promptTokens: 14 });
      expect(r.meanMs).toBeGreaterThan(p.ttftMeanMs * 0.85 - 2);
      expect(r.meanMs).toBeLessThan(p.ttftMeanMs * 1.15 + 2);
      expect(r.maxMs).toBeLessThanOrEqual(p.ttftHighMs * 1.1 + 2);
      if (c <= config.slots) expect(r.maxMs).toBeLessThan(40);
      else expect(r.maxMs).toBeGreaterThan(500);
    },
  );
});

describe('Engine: first_token_delay_ms (prefill done elsewhere)', () => {
  const DELAY = 100;
  const delayed = (over: Partial<SimConfig> = {}) =>
    model({ step_base_ms: 10, step_per_seq_ms: 0, first_token_delay_ms: DELAY, ...over });

  it('a request joins the queue after the delay: TTFT = delay + one step on an idle engine, one to two on a busy one; ITL = step', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed(), clock);
    const a = seq(clock, 5);
    engine.submit(a.seq);
    clock.runUntil(5);
    const b = seq(clock, 3);
    engine.submit(b.seq);
    expect(engine.stats()).toMatchObject({ delayed: 2, waiting: 0, active: 0 });
    clock.runUntil(1000);
    // a: ready at 100, the engine is asleep: admitted at once, first token one step later.
    expect(a.trace.admitted).toBe(100);
    expect(a.trace.tokens).toEqual([110, 120, 130, 140, 150]);
    // b: ready at 105 while a's first step runs: admitted at the next step boundary (110).
    expect(b.trace.admitted).toBe(110);
    expect(b.trace.tokens).toEqual([120, 130, 140]);
    const ttftB = b.trace.tokens[0]! - b.trace.arrival;
    expect(ttftB).toBeGreaterThanOrEqual(DELAY + 10);
    expect(ttftB).toBeLessThanOrEqual(DELAY + 20);
    expect(engine.stats()).toMatchObject({ delayed: 0, waiting: 0, active: 0, admitted: 2, completed: 2 });
    expect(clock.pending()).toBe(0);
  });

  it('delay 0 is the old behaviour: admitted on arrival', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed({ first_token_delay_ms: 0 }), clock);
    const a = seq(clock, 2);
    engine.submit(a.seq);
    clock.runUntil(1000);
    expect(a.trace.admitted).toBe(0);
    expect(a.trace.tokens).toEqual([10, 20]);
  });

  it('arrivals during many active streams do not stall them (a prefill of the same size would)', () => {
    // 50 streams decode; 10 requests arrive one per step from t = 200. Tokens of the 50 keep their 10 ms pace.
    const run = (over: Partial<SimConfig>, promptTokens: number) => {
      const clock = new FakeClock();
      const engine = new Engine(delayed({ slots: 100, ...over }), clock);
      const old = Array.from({ length: 50 }, () => {
        const s = seq(clock, 200);
        engine.submit(s.seq);
        return s.trace;
      });
      const late: Trace[] = [];
      for (let i = 0; i < 10; i++) {
        clock.setTimer(
          () => {
            const s = seq(clock, 20, promptTokens);
            engine.submit(s.seq);
            late.push(s.trace);
          },
          200 + 10 * i + 3,
        );
      }
      clock.runUntil(5000);
      const gapsOf = (t: Trace) => t.tokens.slice(1).map((x, i) => x - t.tokens[i]!);
      return {
        gaps: old.flatMap(gapsOf),
        maxGaps: old.map((t) => Math.max(...gapsOf(t))),
        ttfts: late.map((t) => t.tokens[0]! - t.arrival),
      };
    };
    const withDelay = run({ first_token_delay_ms: DELAY }, 0);
    expect(new Set(withDelay.gaps)).toEqual(new Set([10]));
    for (const ttft of withDelay.ttfts) {
      expect(ttft).toBeGreaterThanOrEqual(DELAY + 10);
      expect(ttft).toBeLessThanOrEqual(DELAY + 20);
    }
    // The same TTFT through the prefill cost (charged to the admitting step) stalls every stream for a whole prefill.
    const withPrefill = run({ first_token_delay_ms: 0, prefill_ms_per_1k_tokens: 100 }, 1000);
    for (const g of withPrefill.maxGaps) expect(g).toBeGreaterThanOrEqual(DELAY);
  });

  it('queue_limit counts requests in their delay, so the 429 is decided at arrival', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed({ slots: 1, queue_limit: 1 }), clock);
    const tickets = [1, 2, 3].map(() => engine.submit(seq(clock, 5).seq));
    expect(tickets.map((t) => t !== null)).toEqual([true, true, false]);
    expect(engine.stats()).toMatchObject({ delayed: 2, rejected: 1 });
    tickets[1]!.cancel();
    expect(engine.submit(seq(clock, 5).seq)).not.toBeNull();
  });

  it('a request cancelled during its delay never takes a slot, gets no call, and leaves no timer', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed(), clock);
    const calls: string[] = [];
    const ticket = engine.submit({
      promptTokens: 0,
      tokens: 5,
      onAdmit: () => calls.push('admit'),
      onStep: () => calls.push('step'),
    })!;
    clock.runUntil(50);
    expect(clock.pending()).toBe(1);
    ticket.cancel();
    ticket.cancel();
    expect(clock.pending()).toBe(0);
    clock.runUntil(10_000);
    expect(calls).toEqual([]);
    expect(engine.stats()).toMatchObject({ delayed: 0, waiting: 0, active: 0, admitted: 0, steps: 0 });
  });

  it('cancelling the head of the line leaves the others on time; cancelling behind a running step too', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed(), clock);
    const first = engine.submit(seq(clock, 5).seq)!;
    clock.runUntil(20);
    const second = seq(clock, 3);
    engine.submit(second.seq);
    clock.runUntil(30);
    first.cancel();
    clock.runUntil(125);
    const third = seq(clock, 3);
    const ticket = engine.submit(third.seq)!;
    clock.runUntil(150);
    ticket.cancel();
    clock.runUntil(10_000);
    expect(second.trace.admitted).toBe(120);
    expect(second.trace.tokens).toEqual([130, 140, 150]);
    expect(third.trace.admitted).toBeNull();
    expect(engine.stats()).toMatchObject({ delayed: 0, admitted: 1, completed: 1 });
    expect(clock.pending()).toBe(0);
  });

  it('stop() during the delay leaves no timer', () => {
    const clock = new FakeClock();
    const engine = new Engine(delayed(), clock);
    const a = seq(clock, 5);
    engine.submit(a.seq);
    clock.runUntil(50);
    engine.stop();
    expect(clock.pending()).toBe(0);
    clock.runUntil(1000);
    expect(a.trace.admitted).toBeNull();
  });

  it('a wake-up timer that fires early (ms resolution) re-arms: nobody joins the queue before the delay ends', () => {
    class EarlyClock extends FakeClock {
      override setTimer(fn: () => void, delayMs: number) {
        return super.setTimer(fn, delayMs >= 1 ? delayMs - 0.6 : delayMs);
      }
    }
    const clock = new EarlyClock();
    const engine = new Engine(delayed(), clock);
    const a = seq(clock, 2);
    engine.submit(a.seq);
    clock.runUntil(1000);
    expect(a.trace.admitted).toBe(DELAY);
  });

  it('kneeConcurrency: slots without a delay; more with one (clients in their delay hold no slot)', () => {
    const demo = resolveSimConfig('demo');
    expect(kneeConcurrency(demo)).toBe(16);
    const d100 = resolveSimConfig('demo', { first_token_delay_ms: 100 });
    // 16 × (1 + (128 − 14) / (64 × 14)) ≈ 18.04
    expect(kneeConcurrency(d100, { promptTokens: 14 })).toBe(19);
  });

  it.each([1, 8, 16, 17, 18, 20, 24, 32])(
    'demo preset + 100 ms delay, closed loop at C=%i: mean TTFT and QPS match predictClosedLoop',
    (c) => {
      const config = resolveSimConfig('demo', { first_token_delay_ms: DELAY });
      const r = closedLoop(config, c, 64, 14, 40_000);
      const p = predictClosedLoop(config, c, { outputTokens: 64, promptTokens: 14 });
      expect(r.meanMs).toBeGreaterThan(p.ttftMeanMs * 0.85 - 2);
      expect(r.meanMs).toBeLessThan(p.ttftMeanMs * 1.15 + 2);
      expect(r.minMs).toBeGreaterThanOrEqual(DELAY);
      expect(r.maxMs).toBeLessThanOrEqual(p.ttftHighMs * 1.1 + 2);
      expect(r.qps).toBeGreaterThan(p.qps * 0.93);
      expect(r.qps).toBeLessThan(p.qps * 1.05);
      const knee = kneeConcurrency(config, { promptTokens: 14 });
      // Up to the knee nobody waits for a slot: delay + at most two steps (+ prefill and jitter).
      if (c < knee) expect(r.maxMs).toBeLessThan(DELAY + 40 + 20 * (c > config.slots ? 1 : 0));
      if (c >= knee + 4) expect(r.maxMs).toBeGreaterThan(500);
      expect(p.queued).toBe(c >= knee);
    },
  );
});
