// The capacity model on a fake clock: exact, fast, independent of the machine.
import { describe, expect, it } from 'vitest';
import { resolveSimConfig, predictClosedLoop, type SimConfig } from '../../src/sim/config.ts';
import { Engine, type EngineSequence } from '../../src/sim/engine.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { FakeClock } from './fake-clock.ts';

interface Trace {
  arrival: number;
  admitted: number | null;
  tokens: number[];
  done: number | null;
}

function seq(clock: FakeClock, tokens: number, promptTokens = 0, onDone?: () => void): { seq: EngineSequence; trace: Trace } {
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

const model = (over: Partial<SimConfig> = {}): SimConfig => ({ ...resolveSimConfig('tiny', { jitter: 0, prefill_ms_per_1k_tokens: 0 }), ...over });

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

  // Closed loop: each client sends again 0.2..1.7 ms after its previous request ended (network time).
  function closedLoop(config: SimConfig, clients: number, n: number, promptTokens: number, durationMs: number) {
    const clock = new FakeClock();
    const engine = new Engine(config, clock);
    const rnd = mulberry32(99);
    const ttfts: number[] = [];
    const send = () => {
      const s = seq(clock, n, promptTokens, () => {
        if (s.trace.arrival > durationMs / 4) ttfts.push(s.trace.tokens[0]! - s.trace.arrival);
        clock.setTimer(send, 0.2 + 1.5 * rnd());
      });
      engine.submit(s.seq);
    };
    for (let i = 0; i < clients; i++) clock.setTimer(send, i * 0.05);
    clock.runUntil(durationMs);
    return { meanMs: ttfts.reduce((a, b) => a + b, 0) / ttfts.length, maxMs: Math.max(...ttfts), count: ttfts.length };
  }

  it.each([1, 8, 16, 17, 18, 20, 24, 32])('demo preset, closed loop at C=%i: mean TTFT matches predictClosedLoop', (c) => {
    const config = resolveSimConfig('demo');
    const r = closedLoop(config, c, 64, 14, 40_000);
    const p = predictClosedLoop(config, c, { outputTokens: 64, promptTokens: 14 });
    expect(r.meanMs).toBeGreaterThan(p.ttftMeanMs * 0.85 - 2);
    expect(r.meanMs).toBeLessThan(p.ttftMeanMs * 1.15 + 2);
    expect(r.maxMs).toBeLessThanOrEqual(p.ttftHighMs * 1.1 + 2);
    if (c <= config.slots) expect(r.maxMs).toBeLessThan(40);
    else expect(r.maxMs).toBeGreaterThan(500);
  });
});
