// A raw node:http client for the simulator tests: sees exactly what went over the wire (resets, stalls,
// malformed events) where the openai SDK would throw, and timestamps every step of the exchange.
import { Agent, request } from 'node:http';
import type { FaultType } from '../../src/sim/config.ts';

export interface RawResult {
  status: number | null;
  headers: Record<string, string | string[] | undefined>;
  /** ms since t0 (performance.now() just before the request was sent). */
  headersAtMs: number | null;
  firstContentAtMs: number | null;
  /** When each content chunk was read (streaming), ms since t0. */
  contentAtMs: number[];
  endAtMs: number;
  /** Data payloads of SSE events (streaming), in order. */
  events: string[];
  /** The whole body (non-streaming, or error responses). */
  body: string;
  /** Content chunks (streaming), or completion_tokens of the usage (non-streaming). */
  contentTokens: number;
  /** Chat `content`, or legacy completions' `text`. */
  content: string;
  /** Chunks carrying `delta.reasoning_content`, their text and when the first was read (ms since t0). */
  reasoningTokens: number;
  reasoning: string;
  firstReasoningAtMs: number | null;
  finishReason: string | null;
  sawDone: boolean;
  usage: RawUsage | null;
  errorEvent: boolean;
  malformed: boolean;
  /** reset: the connection broke (before headers or mid-body); idle: no byte for idleTimeoutMs, the client gave up. */
  failure: 'reset' | 'idle' | null;
}

export interface RawUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

interface RawChoice {
  delta?: { content?: string; reasoning_content?: string };
  message?: { content?: string; reasoning_content?: string };
  text?: string;
  finish_reason?: string | null;
}

export interface RawOptions {
  /** The endpoint under baseUrl: chat completions (default) or legacy completions. */
  path?: '/chat/completions' | '/completions';
  requestId?: string;
  idleTimeoutMs?: number;
  agent?: Agent;
  /** Send this string as the body instead of JSON.stringify(body). */
  rawBody?: string | Buffer;
  /** Aborting closes the connection; the result then has failure 'reset' (as if the server had broken it). */
  signal?: AbortSignal;
  /** Called when the response headers arrive (before any body byte is read). */
  onHeaders?: () => void;
}

export function chatUrl(baseUrl: string): URL {
  return new URL(baseUrl.replace(/\/$/, '') + '/chat/completions');
}

export function rawChat(baseUrl: string, body: unknown, opts: RawOptions = {}): Promise<RawResult> {
  const url = new URL(baseUrl.replace(/\/$/, '') + (opts.path ?? '/chat/completions'));
  const payload = opts.rawBody ?? JSON.stringify(body);
  const idleMs = opts.idleTimeoutMs ?? 5000;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const r: RawResult = {
      status: null,
      headers: {},
      headersAtMs: null,
      firstContentAtMs: null,
      contentAtMs: [],
      endAtMs: 0,
      events: [],
      body: '',
      contentTokens: 0,
      content: '',
      reasoningTokens: 0,
      reasoning: '',
      firstReasoningAtMs: null,
      finishReason: null,
      sawDone: false,
      usage: null,
      errorEvent: false,
      malformed: false,
      failure: null,
    };
    let settled = false;
    let idleTimer: NodeJS.Timeout | null = null;
    const finish = (failure: RawResult['failure']) => {
      if (settled) return;
      settled = true;
      if (idleTimer) clearTimeout(idleTimer);
      r.failure = failure;
      r.endAtMs = performance.now() - t0;
      resolve(r);
    };
    const req = request(url, {
      method: 'POST',
      agent: opts.agent ?? false,
      ...(opts.signal ? { signal: opts.signal } : {}),
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        ...(opts.requestId ? { 'x-request-id': opts.requestId } : {}),
      },
    });
    const armIdle = () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        finish('idle');
        req.destroy();
      }, idleMs);
    };
    armIdle();
    req.on('error', () => finish('reset'));
    req.on('response', (res) => {
      r.status = res.statusCode ?? null;
      r.headers = res.headers;
      r.headersAtMs = performance.now() - t0;
      opts.onHeaders?.();
      const sse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        armIdle();
        if (!sse) {
          r.body += text;
          return;
        }
        buffer += text;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const data = line.slice(6);
            r.events.push(data);
            if (data === '[DONE]') {
              r.sawDone = true;
              continue;
            }
            let parsed: { error?: unknown; choices?: RawChoice[]; usage?: RawUsage };
            try {
              parsed = JSON.parse(data) as typeof parsed;
            } catch {
              r.malformed = true;
              continue;
            }
            if (parsed.error) r.errorEvent = true;
            if (parsed.usage) r.usage = parsed.usage;
            const choice = parsed.choices?.[0];
            const reasoning = choice?.delta?.reasoning_content;
            if (reasoning) {
              r.reasoningTokens++;
              r.reasoning += reasoning;
              r.firstReasoningAtMs ??= performance.now() - t0;
            }
            const content = choice?.delta?.content ?? choice?.text;
            if (content) {
              const at = performance.now() - t0;
              r.contentTokens++;
              r.content += content;
              r.contentAtMs.push(at);
              if (r.firstContentAtMs === null) r.firstContentAtMs = at;
            }
            if (choice?.finish_reason) r.finishReason = choice.finish_reason;
          }
        }
      });
      res.on('end', () => {
        if (!sse && r.status === 200) {
          try {
            const parsed = JSON.parse(r.body) as { error?: unknown; choices?: RawChoice[]; usage?: RawUsage };
            if (parsed.error) r.errorEvent = true;
            r.usage = parsed.usage ?? null;
            const choice = parsed.choices?.[0];
            r.content = choice?.message?.content ?? choice?.text ?? '';
            r.reasoning = choice?.message?.reasoning_content ?? '';
            r.finishReason = parsed.choices?.[0]?.finish_reason ?? null;
            r.contentTokens = r.usage?.completion_tokens ?? 0;
          } catch {
            r.malformed = true;
          }
        }
        finish(null);
      });
      res.on('error', () => finish('reset'));
      res.on('close', () => finish(res.complete ? null : 'reset'));
    });
    req.end(payload);
  });
}

/** What the client saw, named after the fault that explains it (null = a normal, complete response). */
export function classify(r: RawResult): FaultType | null | 'unexplained' {
  if (r.failure === 'reset') return r.status === null ? 'reset_before_headers' : 'reset_mid_stream';
  if (r.failure === 'idle') return r.status === 200 && r.contentTokens === 0 ? 'stall_after_headers' : 'unexplained';
  if (r.status === 500) return 'http_500';
  if (r.status === 503) return 'http_503';
  if (r.status === 429) return 'http_429';
  if (r.status !== 200) return 'unexplained';
  if (r.malformed) return 'malformed_chunk';
  if (r.errorEvent) return 'error_event';
  if (r.finishReason === null) return 'truncated';
  if (r.finishReason === 'stop' && r.contentTokens === 0) return 'empty_completion';
  return null;
}

/** Runs `count` tasks with at most `concurrency` in flight; results in task order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
