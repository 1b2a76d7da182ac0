// The in-process executor on a fake clock with a scripted transport: a whole stage runs deterministically in
// milliseconds, so window boundaries, the stagger, the breaker, the request limit, budgets, the drain bound and
// interrupts are checked to the exact millisecond.
import { quantileSorted } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { unlimitedBudget, type PlannedRequest, type RequestSender, type RunBudget } from '../../src/load/executor.ts';
import { createInProcessExecutor } from '../../src/load/stage-runner.ts';
import type { ErrorClass, RequestRecord } from '../../src/model/record.ts';
import type { StagePlan, StageProgress } from '../../src/model/stage.ts';
import { FakeClock } from '../fake-clock.ts';

/** How the scripted server answers one request: after `latencyMs`, first content after `ttftMs`, or a failure. */
interface Reply {
  latencyMs: number;
  ttftMs?: number;
  fail?: ErrorClass;
}

/** A Transport whose requests end on the fake clock, as the script says. */
function scriptedTransport(clock: FakeClock, script: (req: PlannedRequest, n: number) => Reply) {
  const inFlight = new Map<string, { req: PlannedRequest; finish: (rec: RequestRecord) => void; timer: unknown }>();
  let n = 0;
  const record = (req: PlannedRequest, end: number, reply: Reply | null, error: string | null): RequestRecord => {
    const ok = reply !== null && !reply.fail;
    const first = ok ? req.t0 + (reply.ttftMs ?? reply.latencyMs / 2) : null;
    return {
      ...req,
      headersAt: first,
      firstContentAt: first,
      lastContentAt: first,
      end,
      gapsMs: [],
      contentChunks: ok ? 1 : 0,
      status: ok ? 200 : null,
      ok,
      errorClass: ok ? null : (reply?.fail ?? 'aborted'),
      error: ok ? null : (error ?? 'failed'),
      errorPhase: null,
      finishReason: ok ? 'stop' : null,
      promptTokens: null,
      outputTokens: ok ? 1 : 0,
      outputTokensEstimated: false,
      retryAfterS: null,
    };
  };
  const transport: RequestSender & { closed: boolean; sent: PlannedRequest[] } = {
    closed: false,
    sent: [],
    send(req) {
      transport.sent.push(req);
      const reply = script(req, n++);
      return new Promise<RequestRecord>((resolve) => {
        const timer = clock.setTimeout(() => {
          inFlight.delete(req.id);
          resolve(record(req, clock.now(), reply, null));
        }, reply.latencyMs);
        inFlight.set(req.id, { req, finish: resolve, timer });
      });
    },
    abortAll(errorClass, message) {
      for (const { req, finish, timer } of inFlight.values()) {
        clock.clear(timer as ReturnType<FakeClock['setTimeout']>);
        finish(record(req, clock.now(), { latencyMs: 0, fail: errorClass }, message));
      }
      inFlight.clear();
    },
    close() {
      transport.closed = true;
    },
  };
  return transport;
}

function plan(over: Partial<StagePlan> = {}): StagePlan {
  return {
    index: 2,
    load: { kind: 'closed', concurrency: 4 },
    warmupMs: 1000,
    durationMs: 2000,
    requestLimit: null,
    drainMs: 30_000,
    ...over,
  };
}

function setup(script: (req: PlannedRequest, n: number) => Reply, o: { interruptGraceMs?: number } = {}) {
  const clock = new FakeClock();
  const transport = scriptedTransport(clock, script);
  const executor = createInProcessExecutor({
    transport,
    clock,
    idPrefix: 'fc',
    pickPayload: () => 0,
    interruptGraceMs: o.interruptGraceMs,
  });
  const records: RequestRecord[] = [];
  const progress: StageProgress[] = [];
  const hooks = (over: { budget?: RunBudget; maxErrorRate?: number; stopSignal?: AbortSignal } = {}) => ({
    onRecord: (r: RequestRecord) => records.push(r),
    onProgress: (p: StageProgress) => progress.push(p),
    maxErrorRate: 1,
    budget: unlimitedBudget(),
    ...over,
  });
  return { clock, transport, executor, records, progress, hooks };
}

const windowRecords = (records: RequestRecord[]) => records.filter((r) => r.phase === 'window');

describe('in-process executor on a fake clock', () => {
  it('a duration window: staggered slots, [ws, we) by start time, ids, progress with the type-7 p99', async () => {
    const s = setup((_req, n) => ({ latencyMs: 100, ttftMs: 10 + (n % 13) * 3 }));
    const budget = unlimitedBudget();
    const res = await s.clock.settle(s.executor.runStage(plan(), s.hooks({ budget })));
    expect(res.window).toEqual({ index: 2, concurrency: 4, startMs: 1000, endMs: 3000 });
    expect(res.stoppedBy).toBeNull();
    expect(res.records).toEqual(s.records);
    expect(budget.sent).toBe(res.records.length);
    // Slot w first sends at w × (warm-up / 2) / C, then every 100 ms while t0 < 3000.
    for (let w = 0; w < 4; w++) {
      const t0s = res.records.filter((r) => r.worker === w).map((r) => r.t0);
      expect(t0s[0]).toBe(125 * w);
      expect(t0s).toEqual(Array.from({ length: Math.ceil((3000 - 125 * w) / 100) }, (_, k) => 125 * w + 100 * k));
    }
    expect(res.records).toHaveLength(30 + 29 + 28 + 27);
    for (const r of res.records) expect(r.phase).toBe(r.t0 >= 1000 ? 'window' : 'warmup');
    expect(windowRecords(res.records)).toHaveLength(80);
    expect(s.transport.sent.map((r) => r.id)).toEqual(s.transport.sent.map((_, i) => `fc-2-${i}`));
    expect(res.records.every((r) => r.stage === 2 && r.ok)).toBe(true);
    // The stage ended when its last request did: no drain wait, and no timer left behind.
    expect(s.clock.now()).toBe(Math.max(...res.records.map((r) => r.end)));
    expect(s.clock.pending()).toBe(0);
    expect(s.transport.closed).toBe(false);

    // Progress every 500 ms: window figures over the records ended by then, p99 as the report computes it.
    expect(s.progress.map((p) => p.elapsedMs)).toEqual([500, 1000, 1500, 2000, 2500, 3000]);
    const at2500 = s.progress.find((p) => p.elapsedMs === 2500)!;
    // Slot 0's request ending at 2500 is not in yet: the progress timer was set first, so it fires first.
    const ended = windowRecords(res.records).filter((r) => r.end < 2500);
    const ttfts = ended.map((r) => r.firstContentAt! - r.t0).sort((a, b) => a - b);
    expect(at2500).toEqual({
      stage: 2,
      concurrency: 4,
      elapsedMs: 2500,
      inWindow: true,
      done: ended.length,
      failed: 0,
      okPerS: (ended.length / 1500) * 1000,
      ttftP99Ms: quantileSorted(ttfts, 0.99),
    });
    expect(s.progress[0]).toMatchObject({ inWindow: false, okPerS: 0, ttftP99Ms: null });
  });

  it('the breaker stops sending at the record that trips it; in-flight requests are still recorded', async () => {
    const s = setup(() => ({ latencyMs: 100, fail: 'http_5xx' }));
    const res = await s.clock.settle(
      s.executor.runStage(plan({ warmupMs: 0, durationMs: 10_000 }), s.hooks({ maxErrorRate: 0.5 })),
    );
    expect(res.stoppedBy).toBe('breaker');
    // Without warm-up, slots start 1 ms apart; the 20th failure ends at 503 (slot 3's fifth request).
    expect(res.window).toEqual({ index: 2, concurrency: 4, startMs: 0, endMs: 503 });
    expect(res.records).toHaveLength(23);
    expect(Math.max(...res.records.map((r) => r.t0))).toBeLessThan(503);
    expect(res.records.every((r) => r.errorClass === 'http_5xx')).toBe(true);
  });

  it('a request limit closes the window when its last request starts', async () => {
    const s = setup((_req, n) => ({ latencyMs: 70 + (n % 5) * 11 }));
    const res = await s.clock.settle(
      s.executor.runStage(
        plan({ load: { kind: 'closed', concurrency: 3 }, warmupMs: 300, durationMs: null, requestLimit: 10 }),
        s.hooks(),
      ),
    );
    const inWindow = windowRecords(res.records);
    expect(inWindow).toHaveLength(10);
    expect(res.window.startMs).toBe(300);
    expect(res.window.endMs).toBe(Math.max(...inWindow.map((r) => r.t0)));
    expect(res.records.filter((r) => r.t0 > res.window.endMs)).toHaveLength(0);
    expect(res.stoppedBy).toBeNull();
    expect(s.clock.pending()).toBe(0);
  });

  it('a run-wide budget stops the stage before the request that would exceed it', async () => {
    const s = setup(() => ({ latencyMs: 100 }));
    const budget = unlimitedBudget();
    budget.exceeded = () => budget.sent >= 17;
    const res = await s.clock.settle(s.executor.runStage(plan({ warmupMs: 0 }), s.hooks({ budget })));
    expect(res.stoppedBy).toBe('budget');
    expect(res.records).toHaveLength(17);
    // Request 17 started at 400 (slot 0's fifth); slot 1 found the budget spent at 401.
    expect(res.window.endMs).toBe(401);
  });

  it('an interrupt closes the window and aborts in-flight requests after the grace period', async () => {
    const s = setup((_req, n) => ({ latencyMs: n < 4 ? 600 : 60_000 }), { interruptGraceMs: 2000 });
    const interrupt = new AbortController();
    s.clock.setTimeout(() => interrupt.abort(), 1500);
    const res = await s.clock.settle(s.executor.runStage(plan(), s.hooks({ stopSignal: interrupt.signal })));
    expect(res.stoppedBy).toBe('interrupted');
    expect(res.window).toEqual({ index: 2, concurrency: 4, startMs: 1000, endMs: 1500 });
    expect(s.clock.now()).toBe(3500);
    const aborted = res.records.filter((r) => !r.ok);
    expect(aborted).toHaveLength(4);
    for (const r of aborted) {
      expect(r).toMatchObject({ errorClass: 'aborted', error: 'aborted after interrupt grace period', end: 3500 });
    }
  });

  it('the drain bound cuts hanging requests; an interrupt during the drain cuts it to the grace period', async () => {
    const hang = () => ({ latencyMs: 60_000 });
    const drained = setup(hang);
    const res = await drained.clock.settle(drained.executor.runStage(plan({ drainMs: 3000 }), drained.hooks()));
    expect(res.stoppedBy).toBeNull();
    expect(res.window.endMs).toBe(3000);
    expect(drained.clock.now()).toBe(6000);
    expect(res.records.every((r) => r.error === 'stage drain limit of 3000 ms' && r.end === 6000)).toBe(true);

    const s = setup(hang, { interruptGraceMs: 2000 });
    const interrupt = new AbortController();
    s.clock.setTimeout(() => interrupt.abort(), 3500);
    const cut = await s.clock.settle(s.executor.runStage(plan(), s.hooks({ stopSignal: interrupt.signal })));
    // The window closed normally; the interrupt still marks the stage, whose requests were cut short.
    expect(cut.window.endMs).toBe(3000);
    expect(cut.stoppedBy).toBe('interrupted');
    expect(s.clock.now()).toBe(5500);
    expect(cut.records.every((r) => r.error === 'aborted after interrupt grace period')).toBe(true);
  });

  it('a stage interrupted before it starts sends nothing', async () => {
    const s = setup(() => ({ latencyMs: 100 }));
    const res = await s.clock.settle(s.executor.runStage(plan(), s.hooks({ stopSignal: AbortSignal.abort() })));
    expect(res.records).toHaveLength(0);
    expect(res.stoppedBy).toBe('interrupted');
    expect(res.window).toEqual({ index: 2, concurrency: 4, startMs: 1000, endMs: 1000 });
  });

  it('conversations: turns and payloads from the source, think time between turns, cut short when the stage ends', async () => {
    const clock = new FakeClock();
    const transport = scriptedTransport(clock, () => ({ latencyMs: 100 }));
    const turns = new Map<number, number>();
    const ended: number[] = [];
    const executor = createInProcessExecutor({
      transport,
      clock,
      idPrefix: 'fc',
      payloads: {
        // 700 ms of think time after every request of slot 0 but its first; slot 1 never thinks.
        pauseMs: (slot) => (slot === 0 && (turns.get(0) ?? 0) > 0 ? 700 : 0),
        next: (slot) => ({ payload: 7 + slot, turn: (turns.get(slot) ?? 0) + 1, body: { fields: { slot } } }),
        ended: (slot, rec) => {
          turns.set(slot, (turns.get(slot) ?? 0) + 1);
          ended.push(rec.worker);
        },
      },
    });
    const s = { onRecord: () => {}, maxErrorRate: 1, budget: unlimitedBudget() };
    const stage = plan({ load: { kind: 'closed', concurrency: 2 }, warmupMs: 0, durationMs: 1000 });
    const res = await clock.settle(executor.runStage(stage, s));
    const slot0 = res.records.filter((r) => r.worker === 0);
    // Slot 0: a request every 100 + 700 ms: t0 0 and 800; the stage stops sending at 1000, during its next pause.
    expect(slot0.map((r) => [r.t0, r.turn, r.payload])).toEqual([
      [0, 1, 7],
      [800, 2, 7],
    ]);
    expect(res.records.filter((r) => r.worker === 1).map((r) => r.turn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ended).toHaveLength(res.records.length);
    // The stage does not wait out slot 0's last pause (until 1600): it ends when sending stops.
    expect(clock.now()).toBeLessThanOrEqual(1100);
  });
});
