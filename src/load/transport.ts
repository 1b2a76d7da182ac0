// The one seam to the network: turns a planned request into a RequestRecord, in three parts: sending (sender.ts:
// prepared requests over the wire sender's own HTTP/1.1, or the SDK per request), reading the body (body-reader.ts: the SSE scanner over a
// Node or a web stream, or the JSON of a non-streaming response) and the pure fold of the timestamped events into the
// record (record-fold.ts), which classifies every outcome (reset, malformed event, truncation, stall) with our own
// timers. Both paths give identical records (test/load/); the fast one costs well under half the CPU (BENCHMARKS.md).
import type { ErrorClass, RequestRecord } from '../model/record.ts';
import type { Clock, Timer } from '../util/clock.ts';
import { readBody } from './body-reader.ts';
import { RecordFold, type PlannedRequest, type Timeouts } from './record-fold.ts';
import { RequestSender, requestedOutputTokens, type AbortHandle } from './sender.ts';
import type { RequestBody, TransportConfig } from './transport-config.ts';

export type { PlannedRequest } from './record-fold.ts';
export type { RequestBody, TransportConfig } from './transport-config.ts';
export { splitBaseUrl } from './sender.ts';

export interface Transport {
  /** Sends payload `req.payload`, or `body` when the request was built for itself. */
  send(req: PlannedRequest, body?: RequestBody): Promise<RequestRecord>;
  /** Abort every request in flight, classified with `errorClass`. */
  abortAll(errorClass: ErrorClass, message: string): void;
  inFlight(): number;
  close(): void;
}

export interface TransportOptions {
  config: TransportConfig;
  /** Times every event, and runs the timeout sweeper. */
  clock: Clock;
  /** Removes secrets from any text before it is stored. */
  redact: (text: string) => string;
  /**
   * 'fast' (default): prepared requests (the SDK builds each payload's request once, prepared.ts) over wire.ts,
   * the body handed over per read, chunk shapes. 'sdk': the SDK per request with its default fetch (undici) and the
   * web stream of the body. Both give the same records; 'fast' costs well under half the CPU (BENCHMARKS.md).
   */
  path?: 'fast' | 'sdk';
  /** A fetch for the SDK instead of either path's (tests replaying recorded streams). */
  fetch?: typeof globalThis.fetch;
}

/** A request in flight: its record so far, and how to abort it. */
interface InFlight extends AbortHandle {
  fold: RecordFold;
}

/** One sweeper for all requests instead of a timer per request (or per chunk for the idle gap). */
function startSweeper(
  clock: Clock,
  live: Set<InFlight>,
  timeouts: Timeouts,
  abort: (l: InFlight, cls: ErrorClass, message: string) => void,
): Timer {
  const granularity = Math.max(
    5,
    Math.min(250, Math.min(timeouts.firstTokenMs, timeouts.idleMs, timeouts.totalMs) / 20),
  );
  const sweeper = clock.setInterval(() => {
    const t = clock.now();
    for (const l of live) {
      const due = l.fold.overdue(t, timeouts);
      if (due !== null) abort(l, due.cls, due.message);
    }
  }, granularity);
  return sweeper.unref();
}

export function createTransport(opts: TransportOptions): Transport {
  const { config, clock, redact } = opts;
  const path = opts.path ?? 'fast';
  const fast = path === 'fast';
  const sender = new RequestSender(config, path, opts.fetch);
  const live = new Set<InFlight>();
  const abort = (l: InFlight, cls: ErrorClass, message: string): void => {
    if (l.fold.abort(cls, message)) sender.abort(l, message);
  };
  const sweeper = startSweeper(clock, live, config.timeouts, abort);

  /** What a payload asks for, once per payload: the same for each of its requests. */
  const requested: (number | null)[] = [];
  const requestedOf = (payload: number) => (requested[payload] ??= requestedOutputTokens(sender.bodyOf(payload)));

  async function send(p: PlannedRequest, own?: RequestBody): Promise<RequestRecord> {
    const { link, controller } = sender.abortHandle();
    const body = own ? sender.ownBody(own.fields) : undefined;
    const fold = new RecordFold(p, redact, {
      requestedOutputTokens: body ? requestedOutputTokens(body) : requestedOf(p.payload),
      keepAnswer: own?.onAnswer !== undefined,
    });
    const l: InFlight = { fold, link, controller };
    live.add(l);
    try {
      // No frame suspended with the reply in it: what lives as long as a stream is promoted by the GC.
      await sender.send(p, l, body).then((reply) => {
        fold.headers(clock.now(), reply.status);
        return readBody(reply, fold, clock, config.stream, fast);
      });
    } catch (err) {
      l.fold.transportError(clock.now(), err, Date.now());
    } finally {
      live.delete(l);
    }
    const rec = l.fold.finish();
    if (rec.ok && fold.answer !== null) own?.onAnswer?.(fold.answer.join(''));
    return rec;
  }

  return {
    send,
    abortAll(errorClass, message) {
      for (const l of live) abort(l, errorClass, message);
    },
    inFlight: () => live.size,
    close() {
      clock.clear(sweeper);
      sender.close();
    },
  };
}
