// How a failed request is classified from the error its sending or reading threw (DESIGN.md §3): pure, so the
// record fold stays pure; the wall time a Retry-After date is measured from comes in as an argument.
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ErrorClass, RateLimitHeaders } from '../model/record.ts';

export interface Failure {
  cls: ErrorClass;
  message: string;
  /** The HTTP status of an error response, else null. */
  status: number | null;
  retryAfterS: number | null;
  /** The x-ratelimit-* headers of a 429, when it sent any. */
  rateLimit?: RateLimitHeaders;
}

/** Connection-level failure codes from undici/node, classified per DESIGN.md §3. */
export function classifyConnection(err: unknown, afterHeaders: boolean): { cls: ErrorClass; msg: string } {
  const chain: unknown[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  const codes = chain.map((x) => String((x as { code?: unknown }).code ?? ''));
  const msgs = chain.map((x) => String((x as { message?: unknown }).message ?? ''));
  const has = (s: string) => codes.includes(s) || msgs.some((m) => m.includes(s));
  if (has('ECONNREFUSED')) return { cls: 'connection_refused', msg: 'connection refused' };
  if (has('ENOTFOUND') || has('EAI_AGAIN')) return { cls: 'connection_refused', msg: 'host not found' };
  if (
    has('ECONNRESET') ||
    has('EPIPE') ||
    has('UND_ERR_SOCKET') ||
    has('terminated') ||
    has('other side closed') ||
    has('socket hang up') ||
    has('UND_ERR_CLOSED')
  ) {
    return {
      cls: 'connection_reset',
      msg: afterHeaders ? 'connection reset mid-stream' : 'connection reset before headers',
    };
  }
  const first = msgs.find((m) => m && m !== 'Connection error.') ?? msgs[0] ?? 'unknown error';
  return { cls: 'client_error', msg: first.slice(0, 200) };
}

/** Retry-After in seconds; an HTTP date counts from `epochMs` (the wall time the error arrived). */
export function retryAfterSeconds(headers: Headers | undefined | null, epochMs: number): number | null {
  // OpenAI and Azure also send the more precise retry-after-ms.
  const ms = Number(headers?.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const v = headers?.get('retry-after');
  if (!v) return null;
  const n = Number(v);
  if (Number.isFinite(n)) return n;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, (at - epochMs) / 1000) : null;
}

/** Seconds of a reset header: "1s", "6m0s", "20ms" (OpenAI's form), a plain number, or an epoch time in seconds. */
export function resetSeconds(v: string, epochMs: number): number | null {
  const text = v.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // A number this large is an epoch time (seconds since 1970), not a delay.
    return n > 1e9 ? Math.max(0, n - epochMs / 1000) : n;
  }
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

const RATE_LIMIT_FIELDS = [
  ['limit', 'requests', 'limitRequests'],
  ['remaining', 'requests', 'remainingRequests'],
  ['reset', 'requests', 'resetRequestsS'],
  ['limit', 'tokens', 'limitTokens'],
  ['remaining', 'tokens', 'remainingTokens'],
  ['reset', 'tokens', 'resetTokensS'],
] as const;

/** The quota a response announced in x-ratelimit-* headers (a bare x-ratelimit-remaining counts requests). */
export function rateLimitOf(headers: Headers | undefined | null, epochMs: number): RateLimitHeaders | undefined {
  const out: RateLimitHeaders = {};
  for (const [what, unit, key] of RATE_LIMIT_FIELDS) {
    const v =
      headers?.get(`x-ratelimit-${what}-${unit}`) ?? (unit === 'requests' ? headers?.get(`x-ratelimit-${what}`) : null);
    if (v === null || v === undefined) continue;
    const n = what === 'reset' ? resetSeconds(v, epochMs) : Number(v.trim());
    if (n !== null && Number.isFinite(n)) out[key] = Math.round(n * 1000) / 1000;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** An error status from the SDK (http_429/4xx/5xx), else a connection-level class. */
export function classifyError(err: unknown, afterHeaders: boolean, epochMs: number): Failure {
  if (
    err instanceof APIError &&
    !(err instanceof APIConnectionError) &&
    !(err instanceof APIUserAbortError) &&
    err.status
  ) {
    const cls: ErrorClass = err.status === 429 ? 'http_429' : err.status >= 500 ? 'http_5xx' : 'http_4xx';
    const failure: Failure = {
      cls,
      message: err.message,
      status: err.status,
      retryAfterS: retryAfterSeconds(err.headers, epochMs),
    };
    const rateLimit = cls === 'http_429' ? rateLimitOf(err.headers, epochMs) : undefined;
    return rateLimit ? { ...failure, rateLimit } : failure;
  }
  const { cls, msg } = classifyConnection(err, afterHeaders);
  return { cls, message: msg, status: null, retryAfterS: null };
}
