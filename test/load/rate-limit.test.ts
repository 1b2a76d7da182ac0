// Hosted APIs' quota headers on HTTP 429: parsed into the record, compactly, and only on 429s.
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { rateLimitOf, resetSeconds } from '../../src/load/error-class.ts';
import { RecordFold } from '../../src/load/record-fold.ts';

const EPOCH_MS = Date.parse('2026-01-01T00:00:00Z');

describe('resetSeconds', () => {
  it.each([
    ['1s', 1],
    ['6m0s', 360],
    ['20ms', 0.02],
    ['1h2m3.5s', 3723.5],
    ['0.5', 0.5],
    ['12', 12],
    [String(EPOCH_MS / 1000 + 30), 30],
    [String(EPOCH_MS / 1000 - 30), 0],
    ['soon', null],
    ['1s later', null],
    ['', null],
  ])('%j → %j', (text, want) => {
    const got = resetSeconds(text, EPOCH_MS);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 6);
  });
});

describe('rateLimitOf', () => {
  it.each<{ name: string; headers: Record<string, string>; want: object | undefined }>([
    {
      name: "OpenAI's six headers",
      headers: {
        'x-ratelimit-limit-requests': '60',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '1s',
        'x-ratelimit-limit-tokens': '150000',
        'x-ratelimit-remaining-tokens': '149984',
        'x-ratelimit-reset-tokens': '6m0s',
      },
      want: {
        limitRequests: 60,
        remainingRequests: 0,
        resetRequestsS: 1,
        limitTokens: 150000,
        remainingTokens: 149984,
        resetTokensS: 360,
      },
    },
    {
      name: 'Azure: remaining only',
      headers: { 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-remaining-tokens': '0' },
      want: { remainingRequests: 3, remainingTokens: 0 },
    },
    {
      name: 'bare x-ratelimit-* counts requests',
      headers: { 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' },
      want: { limitRequests: 10, remainingRequests: 0, resetRequestsS: 2 },
    },
    { name: 'unparseable values are left out', headers: { 'x-ratelimit-limit-requests': 'lots' }, want: undefined },
    { name: 'no quota headers', headers: { 'retry-after': '1' }, want: undefined },
  ])('$name', ({ headers, want }) => {
    expect(rateLimitOf(new Headers(headers), EPOCH_MS)).toEqual(want);
  });
});

describe('the record of a 429', () => {
  const fold = (status: number, headers: Record<string, string>) => {
    const f = new RecordFold({ id: 'r', stage: 0, phase: 'window', worker: 0, payload: 0, t0: 100 }, (s) => s);
    f.transportError(120, APIError.generate(status, undefined, 'limited', new Headers(headers)), EPOCH_MS);
    return f.finish();
  };

  it('carries the quota and the Retry-After', () => {
    const rec = fold(429, {
      'retry-after': '2',
      'x-ratelimit-limit-requests': '4',
      'x-ratelimit-remaining-requests': '0',
    });
    expect(rec).toMatchObject({ errorClass: 'http_429', retryAfterS: 2 });
    expect(rec.rateLimit).toEqual({ limitRequests: 4, remainingRequests: 0 });
  });

  it('has no rateLimit key without quota headers, nor on other statuses', () => {
    expect('rateLimit' in fold(429, { 'retry-after': '1' })).toBe(false);
    expect('rateLimit' in fold(503, { 'x-ratelimit-remaining-requests': '0' })).toBe(false);
  });
});
