// A minimal server-sent-events line scanner for chat-completion streams. Only `data:` fields
// matter for the Chat Completions API; comments, `event:` and `id:` lines are ignored.

export type StreamEvent =
  | { kind: 'done' }
  | { kind: 'chunk'; content: boolean; finishReason: string | null; usage: Usage | null }
  | { kind: 'error'; message: string }
  | { kind: 'malformed'; sample: string };

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
}

/** Interprets one `data:` payload of a chat.completion.chunk stream. */
export function parseDataPayload(data: string): StreamEvent {
  if (data === '[DONE]') return { kind: 'done' };
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { kind: 'malformed', sample: data.slice(0, 80) };
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { kind: 'malformed', sample: data.slice(0, 80) };
  const o = obj as Record<string, unknown>;
  if (o.error !== undefined && o.error !== null) {
    const e = o.error as Record<string, unknown> | string;
    const message = typeof e === 'string' ? e : typeof e.message === 'string' ? e.message : JSON.stringify(e);
    return { kind: 'error', message };
  }
  let content = false;
  let finishReason: string | null = null;
  const choices = o.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    const c0 = choices[0] as Record<string, unknown> | null;
    const delta = (c0?.delta ?? null) as Record<string, unknown> | null;
    if (delta) {
      // Reasoning models stream their thinking first; it is output the user waits for, so it counts.
      content = nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning);
    }
    if (typeof c0?.finish_reason === 'string') finishReason = c0.finish_reason;
  }
  let usage: Usage | null = null;
  const u = o.usage as Record<string, unknown> | null | undefined;
  if (u && typeof u === 'object') {
    usage = {
      promptTokens: typeof u.prompt_tokens === 'number' ? u.prompt_tokens : null,
      completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : null,
    };
  }
  return { kind: 'chunk', content, finishReason, usage };
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0;
}

/**
 * Splits decoded text into SSE `data:` payloads. Multi-line data fields are joined with '\n'
 * as the SSE spec says; an event is dispatched on a blank line.
 */
export class SseScanner {
  private buffer = '';
  private data: string[] = [];

  /** Feeds text; returns the data payloads of the events completed by it. */
  push(text: string): string[] {
    const out: string[] = [];
    let buf = this.buffer + text;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      let line = buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length > 0) {
          out.push(this.data.join('\n'));
          this.data = [];
        }
      } else if (line.startsWith('data:')) {
        this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      }
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    if (this.buffer.length > 1 << 20) {
      // A single line over 1 MiB is not a chat chunk; treat it as malformed rather than buffer forever.
      const sample = this.buffer.slice(0, 80);
      this.buffer = '';
      out.push(sample + '\u0000');
    }
    buf = '';
    return out;
  }

  /** At end of stream: a pending event without its trailing blank line still counts. */
  flush(): string[] {
    const out: string[] = [];
    if (this.buffer.length > 0) {
      const line = this.buffer.endsWith('\r') ? this.buffer.slice(0, -1) : this.buffer;
      if (line.startsWith('data:')) this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      this.buffer = '';
    }
    if (this.data.length > 0) out.push(this.data.join('\n'));
    this.data = [];
    return out;
  }
}
