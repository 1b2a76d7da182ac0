// The record fold alone: scripted timestamped events in, the finished RequestRecord out (DESIGN.md §3).
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, type RequestRecord } from '../../src/model/record.ts';
import { RecordFold, type PlannedRequest } from '../../src/load/record-fold.ts';

const PLANNED: PlannedRequest = { id: 'r-1', stage: 2, phase: 'window', worker: 1, payload: 0, t0: 100 };
const EPOCH_MS = Date.parse('2026-01-01T00:00:00Z');
const TIMEOUTS = { firstTokenMs: 1000, idleMs: 300, totalMs: 5000 };

const code = (message: string, c: string) => Object.assign(new Error(message), { code: c });
const usage = (completionTokens: number | null, promptTokens: number | null = 7) => ({
  completionTokens,
  promptTokens,
});
/** Headers at 110, content chunks at 120, 135.5 and 150.25. */
const streamed = (f: RecordFold) => {
  f.headers(110, 200);
  f.activity(120);
  f.content(120);
  f.activity(135.5);
  f.content(135.5);
  f.activity(150.25);
  f.content(150.25);
};
const completion = (o: unknown) => JSON.stringify(o);

interface Case {
  name: string;
  events: (f: RecordFold) => void;
  want: Partial<RequestRecord>;
}

const CASES: Case[] = [
  {
    name: 'ok: [DONE] after content, tokens from usage',
    events: (f) => {
      streamed(f);
      f.finishReason('stop');
      f.usage(usage(3));
      f.done();
      f.endOfBody(160);
    },
    want: {
      ok: true,
      errorClass: null,
      errorPhase: null,
      error: null,
      status: 200,
      headersAt: 110,
      firstContentAt: 120,
      lastContentAt: 150.25,
      end: 160,
      gapsMs: [15.5, 14.75],
      contentChunks: 3,
      finishReason: 'stop',
      promptTokens: 7,
      outputTokens: 3,
      outputTokensEstimated: false,
    },
  },
  {
    name: 'ok: a finish_reason and a clean close count as the end; tokens estimated from chunks',
    events: (f) => {
      streamed(f);
      f.finishReason('length');
      f.endOfBody(155);
    },
    want: { ok: true, errorClass: null, end: 155, outputTokens: 3, outputTokensEstimated: true, promptTokens: null },
  },
  {
    name: 'ok: a non-streaming response',
    events: (f) => {
      f.headers(110, 200);
      f.completion(
        140,
        completion({
          choices: [{ message: { content: 'hi there' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 2 },
        }),
      );
    },
    want: {
      ok: true,
      end: 140,
      firstContentAt: null,
      finishReason: 'stop',
      promptTokens: 5,
      outputTokens: 2,
      outputTokensEstimated: false,
    },
  },
  {
    name: 'ok: a non-streaming response of reasoning only, without usage, counts one token',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, completion({ choices: [{ message: { reasoning_content: 'hm' }, finish_reason: 'stop' }] }));
    },
    want: { ok: true, outputTokens: 1, outputTokensEstimated: true },
  },
  {
    name: 'http_429 with Retry-After seconds',
    events: (f) =>
      f.transportError(
        130,
        APIError.generate(429, { error: { message: 'slow down' } }, undefined, new Headers({ 'retry-after': '2' })),
        EPOCH_MS,
      ),
    want: {
      ok: false,
      errorClass: 'http_429',
      errorPhase: null,
      error: '429 slow down',
      status: 429,
      retryAfterS: 2,
      headersAt: null,
      end: 130,
    },
  },
  {
    name: 'http_429 with retry-after-ms, which wins over retry-after',
    events: (f) =>
      f.transportError(
        130,
        APIError.generate(429, undefined, 'x', new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' })),
        EPOCH_MS,
      ),
    want: { errorClass: 'http_429', retryAfterS: 1.5 },
  },
  {
    name: 'http_4xx',
    events: (f) => f.transportError(130, APIError.generate(404, undefined, 'no such model', new Headers()), EPOCH_MS),
    want: {
      ok: false,
      errorClass: 'http_4xx',
      errorPhase: null,
      status: 404,
      error: '404 no such model',
      retryAfterS: null,
    },
  },
  {
    name: 'http_5xx with Retry-After as an HTTP date, counted from the wall time given',
    events: (f) =>
      f.transportError(
        130,
        APIError.generate(
          503,
          undefined,
          'busy',
          new Headers({ 'retry-after': new Date(EPOCH_MS + 30_000).toUTCString() }),
        ),
        EPOCH_MS,
      ),
    want: { ok: false, errorClass: 'http_5xx', errorPhase: null, status: 503, retryAfterS: 30 },
  },
  {
    name: 'timeout_headers: aborted before the headers',
    events: (f) => {
      f.abort('timeout_headers', 'no response headers within 1000 ms');
      f.transportError(1101, Object.assign(new Error('aborted'), { name: 'AbortError' }), EPOCH_MS);
    },
    want: {
      ok: false,
      errorClass: 'timeout_headers',
      errorPhase: 'before_headers',
      error: 'no response headers within 1000 ms',
      status: null,
      end: 1101,
    },
  },
  {
    name: 'timeout_first_token: aborted after the headers, before content (reader throws)',
    events: (f) => {
      f.headers(110, 200);
      f.abort('timeout_first_token', 'no first token within 1000 ms');
      f.transportError(1101, new Error('aborted'), EPOCH_MS);
    },
    want: { errorClass: 'timeout_first_token', errorPhase: 'before_first_token', status: 200, outputTokens: 0 },
  },
  {
    name: 'timeout_idle: aborted mid-stream, the body just ends (usage never came)',
    events: (f) => {
      streamed(f);
      f.abort('timeout_idle', 'no chunk for 300 ms');
      f.endOfBody(451);
    },
    want: { errorClass: 'timeout_idle', errorPhase: 'mid_stream', contentChunks: 3, outputTokens: 3, end: 451 },
  },
  {
    name: 'timeout_total: aborted mid-stream, the reader throws; tokens are the chunks so far',
    events: (f) => {
      streamed(f);
      f.usage(usage(40));
      f.abort('timeout_total', 'no end of stream within 5000 ms');
      f.transportError(5101, new Error('This operation was aborted'), EPOCH_MS);
    },
    want: {
      errorClass: 'timeout_total',
      errorPhase: 'mid_stream',
      error: 'no end of stream within 5000 ms',
      outputTokens: 3,
      outputTokensEstimated: true,
    },
  },
  {
    name: 'aborted (interrupt) mid-stream; a later abort does not replace the first',
    events: (f) => {
      streamed(f);
      expect(f.abort('aborted', 'aborted after interrupt grace period')).toBe(true);
      expect(f.abort('timeout_idle', 'no chunk for 300 ms')).toBe(false);
      f.transportError(400, code('socket hang up', 'ECONNRESET'), EPOCH_MS);
    },
    want: { errorClass: 'aborted', errorPhase: 'mid_stream', error: 'aborted after interrupt grace period' },
  },
  {
    name: 'aborted with no message given keeps the class',
    events: (f) => {
      f.headers(110, 200);
      f.abort('aborted', '');
      f.endOfBody(200);
    },
    want: { errorClass: 'aborted', errorPhase: 'before_first_token', error: '' },
  },
  {
    name: 'an abort after a finish_reason: the stream had ended properly',
    events: (f) => {
      streamed(f);
      f.finishReason('stop');
      f.abort('aborted', 'aborted after interrupt grace period');
      f.endOfBody(200);
    },
    want: { ok: true, errorClass: null },
  },
  {
    name: 'connection_refused (the SDK wraps the cause)',
    events: (f) =>
      f.transportError(
        105,
        new APIConnectionError({ cause: code('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED') }),
        EPOCH_MS,
      ),
    want: { ok: false, errorClass: 'connection_refused', errorPhase: null, error: 'connection refused', status: null },
  },
  {
    name: 'connection_refused: host not found',
    events: (f) => f.transportError(105, code('getaddrinfo ENOTFOUND nowhere', 'ENOTFOUND'), EPOCH_MS),
    want: { errorClass: 'connection_refused', error: 'host not found' },
  },
  {
    name: 'connection_reset before headers',
    events: (f) => f.transportError(105, code('socket hang up', 'ECONNRESET'), EPOCH_MS),
    want: { errorClass: 'connection_reset', errorPhase: 'before_headers', error: 'connection reset before headers' },
  },
  {
    name: 'connection_reset after headers, before the first token',
    events: (f) => {
      f.headers(110, 200);
      f.transportError(130, new Error('terminated: other side closed'), EPOCH_MS);
    },
    want: {
      errorClass: 'connection_reset',
      errorPhase: 'before_first_token',
      error: 'connection reset mid-stream',
      end: 130,
    },
  },
  {
    name: 'connection_reset mid-stream',
    events: (f) => {
      streamed(f);
      f.transportError(170, code('read EPIPE', 'EPIPE'), EPOCH_MS);
    },
    want: { errorClass: 'connection_reset', errorPhase: 'mid_stream', contentChunks: 3, outputTokens: 3 },
  },
  {
    name: 'stream_error_event',
    events: (f) => {
      streamed(f);
      f.errorEvent('overloaded');
      f.endOfBody(160);
    },
    want: { errorClass: 'stream_error_event', errorPhase: null, error: 'error event in stream: overloaded' },
  },
  {
    name: 'stream_error_event: an error object in a non-streaming 200',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, completion({ error: { message: 'model crashed' } }));
    },
    want: { errorClass: 'stream_error_event', error: 'error object in response: model crashed', outputTokens: 0 },
  },
  {
    name: 'stream_error_event: a non-streaming error object of another shape',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, completion({ error: { code: 7 } }));
    },
    want: { errorClass: 'stream_error_event', error: 'error object in response: {"code":7}' },
  },
  {
    name: 'stream_truncated: the body ended without [DONE] or finish_reason',
    events: (f) => {
      streamed(f);
      f.endOfBody(160);
    },
    want: {
      errorClass: 'stream_truncated',
      errorPhase: null,
      error: 'stream ended without [DONE] or finish_reason',
      outputTokens: 3,
    },
  },
  {
    name: 'stream_truncated: a non-streaming response without finish_reason',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, completion({ choices: [{ message: { content: 'hi' } }] }));
    },
    want: { errorClass: 'stream_truncated', error: 'response without finish_reason', outputTokens: 1 },
  },
  {
    name: 'malformed_chunk',
    events: (f) => {
      streamed(f);
      f.malformed();
      f.endOfBody(160);
    },
    want: { errorClass: 'malformed_chunk', errorPhase: null, error: 'malformed event in stream', contentChunks: 3 },
  },
  {
    name: 'malformed_chunk: a non-streaming body that is not a JSON object',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, '[1, 2]');
    },
    want: { errorClass: 'malformed_chunk', error: 'response body is not a JSON object', end: 140 },
  },
  {
    name: 'empty_response: [DONE] without any content',
    events: (f) => {
      f.headers(110, 200);
      f.activity(120);
      f.finishReason('stop');
      f.usage(usage(0));
      f.done();
      f.endOfBody(130);
    },
    want: {
      errorClass: 'empty_response',
      errorPhase: null,
      error: 'stream had no content',
      outputTokens: 0,
      outputTokensEstimated: false,
    },
  },
  {
    name: 'empty_response: a streaming response without a body',
    events: (f) => {
      f.headers(110, 200);
      f.noBody(111);
    },
    want: { errorClass: 'empty_response', error: 'HTTP 200 without a body', end: 111 },
  },
  {
    name: 'empty_response: a non-streaming response without content',
    events: (f) => {
      f.headers(110, 200);
      f.completion(140, completion({ choices: [{ message: { content: '' }, finish_reason: 'stop' }] }));
    },
    want: { errorClass: 'empty_response', error: 'response had no content', outputTokens: 0 },
  },
  {
    name: 'client_error: a proper stream under a status other than 200',
    events: (f) => {
      f.headers(110, 201);
      f.content(120);
      f.done();
      f.endOfBody(130);
    },
    want: { ok: false, errorClass: 'client_error', errorPhase: null, error: 'unexpected end of request', status: 201 },
  },
  {
    name: 'client_error: an error that is not a connection failure, with its message',
    events: (f) => f.transportError(105, new APIUserAbortError(), EPOCH_MS),
    want: { errorClass: 'client_error', errorPhase: null, error: 'Request was aborted.' },
  },
  {
    name: 'client_error: a redirect that is not followed',
    events: (f) => f.transportError(105, new Error('HTTP 302 redirect to https://x/y not followed'), EPOCH_MS),
    want: { errorClass: 'client_error', error: 'HTTP 302 redirect to https://x/y not followed' },
  },
  {
    name: 'the first failure is the one recorded',
    events: (f) => {
      streamed(f);
      f.errorEvent('first');
      f.malformed();
      f.transportError(170, code('x', 'ECONNRESET'), EPOCH_MS);
    },
    want: { errorClass: 'stream_error_event', error: 'error event in stream: first', end: 170 },
  },
];

describe('record fold', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const fold = new RecordFold(PLANNED, (s) => s);
      c.events(fold);
      const rec = fold.finish();
      expect(rec).toMatchObject({ ...PLANNED, ...c.want });
      expect(rec.ok).toBe(rec.errorClass === null);
    });
  }

  it('covers every error class and every error phase', () => {
    const seen = CASES.map((c) => c.want.errorClass).filter((x) => x !== undefined && x !== null);
    expect(new Set(seen)).toEqual(new Set(ERROR_CLASSES));
    const phases = CASES.map((c) => c.want.errorPhase).filter((x) => x !== undefined);
    expect(new Set(phases)).toEqual(new Set([null, 'before_headers', 'before_first_token', 'mid_stream']));
  });

  it('keeps the same gaps whether the stream is shorter, equal to or longer than its max_tokens', () => {
    // The gaps array is sized for the requested tokens at the first one and trimmed at the end: never a slot too many.
    for (const [requested, tokens] of [
      [64, 10],
      [64, 64],
      [8, 30],
      [1, 5],
      [null, 7],
      [5000, 1100],
    ] as const) {
      const fold = new RecordFold(PLANNED, (s) => s, { requestedOutputTokens: requested });
      fold.headers(105, 200);
      const times = Array.from({ length: tokens }, (_, i) => 110 + i * 10.25 + (i % 3) * 0.0004);
      for (const t of times) fold.content(t);
      fold.done();
      fold.endOfBody(times.at(-1)! + 1);
      const rec = fold.finish();
      const want = times.slice(1).map((t, i) => Math.round((t - times[i]!) * 1000) / 1000);
      expect(rec.gapsMs, `${requested} requested, ${tokens} streamed`).toEqual(want);
      expect(JSON.parse(JSON.stringify(rec)).gapsMs).toEqual(want);
      expect(rec.lastContentAt).toBe(times.at(-1));
      expect(rec.contentChunks).toBe(tokens);
    }
  });

  it('redacts and truncates the stored message', () => {
    const fold = new RecordFold(PLANNED, (s) => s.replaceAll('sk-secret', '[REDACTED]'));
    fold.headers(110, 200);
    fold.errorEvent(`bad key sk-secret ${'x'.repeat(600)}`);
    const rec = fold.finish();
    expect(rec.error).toMatch(/^error event in stream: bad key \[REDACTED\] x+$/);
    expect(rec.error).toHaveLength(500);
  });
});

describe('record fold: which timeout has run out', () => {
  const at = (events: (f: RecordFold) => void) => {
    const f = new RecordFold(PLANNED, (s) => s);
    events(f);
    return f;
  };
  const none = () => {};
  const TABLE: [string, (f: RecordFold) => void, number, string | null][] = [
    ['nothing yet, within the first-token time', none, 1099, null],
    ['no headers by the first-token time', none, 1100, 'timeout_headers'],
    ['headers, no content by the first-token time', (f) => f.headers(110, 200), 1100, 'timeout_first_token'],
    ['content, a gap just under the idle time', streamed, 450.24, null],
    ['content, then no read for the idle time', streamed, 450.25, 'timeout_idle'],
    ['a read without content restarts the idle time', (f) => (streamed(f), f.activity(440)), 700, null],
    ['the total time, whatever else', (f) => (streamed(f), f.activity(5099)), 5100, 'timeout_total'],
    ['never once aborted', (f) => f.abort('aborted', 'x'), 9999, null],
  ];
  for (const [name, events, t, want] of TABLE) {
    it(name, () => {
      expect(at(events).overdue(t, TIMEOUTS)?.cls ?? null).toBe(want);
    });
  }

  it('says what ran out', () => {
    expect(at(none).overdue(1100, TIMEOUTS)?.message).toBe('no response headers within 1000 ms');
    expect(at((f) => f.headers(110, 200)).overdue(1100, TIMEOUTS)?.message).toBe('no first token within 1000 ms');
    expect(at(streamed).overdue(451, TIMEOUTS)?.message).toBe('no chunk for 300 ms');
    expect(at(streamed).overdue(5100, TIMEOUTS)?.message).toBe('no end of stream within 5000 ms');
  });
});
