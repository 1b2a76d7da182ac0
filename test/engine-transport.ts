// A RequestSender backed by the simulator's own Engine (src/sim/engine.ts) on a fake clock: the simulator's capacity
// model without its HTTP layer, so a whole capacity search against it runs in seconds.
import type { RequestSender } from '../src/load/executor.ts';
import type { RequestRecord } from '../src/model/record.ts';
import { Engine, type EngineParams } from '../src/sim/engine.ts';
import type { FakeClock } from './fake-clock.ts';

export function engineTransport(
  clock: FakeClock,
  params: EngineParams,
  o: { outputTokens: number; promptTokens: number },
): RequestSender {
  const engine = new Engine(params, {
    now: () => clock.now(),
    setTimer: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimer: (t) => clock.clear(t as ReturnType<FakeClock['setTimeout']>),
    defer: (fn) => clock.setTimeout(fn, 0),
  });
  return {
    send: (req) =>
      new Promise<RequestRecord>((resolve) => {
        let first: number | null = null;
        const gaps: number[] = [];
        let last: number | null = null;
        engine.submit({
          promptTokens: o.promptTokens,
          tokens: o.outputTokens,
          onAdmit() {},
          onStep(emitted, done, now) {
            if (emitted === 1) first = now;
            else if (last !== null) gaps.push(now - last);
            last = now;
            if (!done) return;
            resolve({
              ...req,
              scheduledAt: req.scheduledAt ?? null,
              headersAt: req.t0,
              firstContentAt: first,
              lastContentAt: now,
              end: now,
              gapsMs: gaps,
              contentChunks: o.outputTokens,
              status: 200,
              ok: true,
              errorClass: null,
              error: null,
              errorPhase: null,
              finishReason: 'length',
              promptTokens: o.promptTokens,
              outputTokens: o.outputTokens,
              outputTokensEstimated: false,
              retryAfterS: null,
            });
          },
        });
      }),
    abortAll: () => {},
    close: () => engine.stop(),
  };
}
