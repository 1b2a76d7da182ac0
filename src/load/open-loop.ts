// The open loop: requests sent at their scheduled times (arrivals.ts), whether or not earlier ones have ended. An
// arrival finding the in-flight cap reached is recorded as dropped, never skipped. With N executors (worker
// threads) part k takes arrivals k, k + P, k + 2P, ... of P = min(N, max_in_flight) parts, and its share of the cap.
import type { RequestRecord } from '../model/record.ts';
import type { OpenLoadSpec } from '../model/stage.ts';
import { sleep, type Clock } from '../util/clock.ts';
import { arrivalSchedule, arrivalTimes } from './arrivals.ts';
import { shares } from './closed-loop.ts';
import type { LoadModel, PlannedRequest, StagePart, StageRequests } from './executor.ts';

/** Longest single wait: a stop (breaker, interrupt) is noticed within this even at a low rate. */
const MAX_WAIT_SLICE_MS = 250;

/** How many parts an open loop uses of `of`: each needs a share of at least one of the in-flight cap. */
export function openParts(load: OpenLoadSpec, of: number): number {
  return Math.max(1, Math.min(of, load.maxInFlight));
}

/** Part k's arrivals of a whole schedule: indexes k, k + parts, ... (the parts together hold each exactly once). */
export function partArrivals(times: Iterable<number>, part: StagePart, parts: number): Generator<number> {
  return (function* () {
    let i = 0;
    for (const t of times) if (i++ % parts === part.index) yield t;
  })();
}

export function openLoop(o: {
  load: OpenLoadSpec;
  warmupMs: number;
  /** Null: the window ends at a request count, so the schedule is drawn as the stage goes (still fixed by the seed). */
  durationMs: number | null;
  stageStartMs: number;
  clock: Clock;
  part: StagePart;
}): LoadModel {
  const parts = openParts(o.load, o.part.of);
  const cap = shares(o.load.maxInFlight, parts)[o.part.index]?.count ?? 0;
  const spanMs = o.durationMs === null ? Number.POSITIVE_INFINITY : o.warmupMs + o.durationMs;
  return {
    async run(requests: StageRequests): Promise<void> {
      if (o.part.index >= parts) return;
      // Fixed before the first request is sent: the whole schedule of a duration window.
      const whole = Number.isFinite(spanMs) ? arrivalSchedule(o.load, spanMs) : arrivalTimes(o.load);
      const open = new Set<Promise<void>>();
      for (const offset of partArrivals(whole, o.part, parts)) {
        if (offset >= spanMs) break;
        const at = o.stageStartMs + offset;
        if (!(await waitUntil(o.clock, at, requests))) break;
        if (open.size >= cap) {
          if (!requests.drop(o.part.index, at)) break;
          continue;
        }
        const sent = requests.sendScheduled(o.part.index, at);
        if (sent === null) break;
        const tracked: Promise<void> = sent.then(() => void open.delete(tracked));
        open.add(tracked);
      }
      await Promise.all(open);
    },
  };
}

/** Waits until `at`; false when the stage stopped sending meanwhile. */
async function waitUntil(clock: Clock, at: number, requests: StageRequests): Promise<boolean> {
  for (;;) {
    if (requests.stopped()) return false;
    const wait = at - clock.now();
    if (wait <= 0) return true;
    await sleep(clock, Math.min(wait, MAX_WAIT_SLICE_MS));
  }
}

/** The record of an arrival not sent: a failure of class `dropped`, at its scheduled time, with no response. */
export function droppedRecord(p: PlannedRequest & { scheduledAt: number }, maxInFlight: number): RequestRecord {
  return {
    ...p,
    headersAt: null,
    firstContentAt: null,
    lastContentAt: null,
    end: p.t0,
    gapsMs: [],
    contentChunks: 0,
    status: null,
    ok: false,
    errorClass: 'dropped',
    error: `not sent: the in-flight cap was reached (ramp.max_in_flight ${maxInFlight})`,
    errorPhase: null,
    finishReason: null,
    promptTokens: null,
    outputTokens: 0,
    outputTokensEstimated: false,
    retryAfterS: null,
  };
}
