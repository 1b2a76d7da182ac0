// How a failed request is classified from the error its sending or reading threw (DESIGN.md §3): pure, so the
// record fold stays pure; the wall time a Retry-After date is measured from comes in as an argument.
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ErrorClass } from '../model/record.ts';

export interface Failure {
  cls: ErrorClass;
  message: string;
  /** The HTTP status of an error response, else null. */
  status: number | null;
  retryAfterS: number | null;
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

/** An error status from the SDK (http_429/4xx/5xx), else a connection-level class. */
export function classifyError(err: unknown, afterHeaders: boolean, epochMs: number): Failure {
  if (
    err instanceof APIError &&
    !(err instanceof APIConnectionError) &&
    !(err instanceof APIUserAbortError) &&
    err.status
  ) {
    const cls: ErrorClass = err.status === 429 ? 'http_429' : err.status >= 500 ? 'http_5xx' : 'http_4xx';
    return { cls, message: err.message, status: err.status, retryAfterS: retryAfterSeconds(err.headers, epochMs) };
  }
  const { cls, msg } = classifyConnection(err, afterHeaders);
  return { cls, message: msg, status: null, retryAfterS: null };
}
