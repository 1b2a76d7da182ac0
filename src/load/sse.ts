// A minimal server-sent-events line scanner for chat-completion streams. Only `data:` fields
// matter for the Chat Completions API; comments, `event:` and `id:` lines are ignored.
// ChunkShape lets most content chunks of a stream skip JSON.parse, exactly (see its comment).

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
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    return { kind: 'malformed', sample: data.slice(0, 80) };
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

const MAX_LINE = 1 << 20;

/**
 * Splits decoded text into SSE `data:` payloads and hands each to a callback as soon as its event is complete
 * (no array per read). Multi-line data fields are joined with '\n' as the SSE spec says; an event is dispatched
 * on a blank line. The callback returns true to stop: the rest of the text is then ignored.
 */
export class SseScanner {
  private buffer = '';
  private data: string | null = null;

  constructor(private readonly onData: (data: string) => boolean) {}

  /** Returns true when the callback asked to stop. */
  push(text: string): boolean {
    let buf = this.buffer === '' ? text : this.buffer + text;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end === start) {
        if (this.data !== null) {
          const d = this.data;
          this.data = null;
          if (this.onData(d)) {
            this.buffer = '';
            return true;
          }
        }
      } else if (buf.startsWith('data:', start)) {
        const from = buf.charCodeAt(start + 5) === 32 ? start + 6 : start + 5;
        const field = buf.slice(from, end);
        this.data = this.data === null ? field : this.data + '\n' + field;
      }
      start = nl + 1;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    if (this.buffer.length > MAX_LINE) {
      // A single line over 1 MiB is not a chat chunk; treat it as malformed rather than buffer forever.
      const sample = this.buffer.slice(0, 80);
      this.buffer = '';
      buf = '';
      return this.onData(sample + '\u0000');
    }
    return false;
  }

  /** At end of stream: a pending event without its trailing blank line still counts. */
  flush(): boolean {
    if (this.buffer.length > 0) {
      const line = this.buffer.endsWith('\r') ? this.buffer.slice(0, -1) : this.buffer;
      if (line.startsWith('data:')) {
        const field = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        this.data = this.data === null ? field : this.data + '\n' + field;
      }
      this.buffer = '';
    }
    if (this.data === null) return false;
    const d = this.data;
    this.data = null;
    return this.onData(d);
  }
}

const PROBE = 'fc\u00a7probe';

/** Whether `s[from, to)` is the body of a JSON string (between its quotes); -1 if not, else its length (0 = empty). */
function jsonStringBody(s: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      if (i + 1 >= to) return -1;
      const e = s.charCodeAt(i + 1);
      if (e === 117) {
        if (i + 6 > to) return -1;
        for (let k = i + 2; k < i + 6; k++) {
          const h = s.charCodeAt(k);
          if (!((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) return -1;
        }
        i += 5;
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 1;
      } else return -1;
    } else if (c === 34 || c < 32) return -1;
  }
  return to - from;
}

/**
 * The shape of one stream's plain content chunks: the text before and after the content string of a chunk that
 * parseDataPayload read as {content, no finish_reason, no usage}. A payload `prefix + X + suffix`, X the body of a
 * JSON string, is the same JSON document with another content string, so it is a content chunk iff X is non-empty.
 */
export class ChunkShape {
  private prefix = '';
  private suffix = '';

  /** 1: a content chunk, 0: the same shape with empty content, -1: unknown (parse it). */
  match(data: string): number {
    const p = this.prefix;
    if (p === '') return -1;
    const s = this.suffix;
    const end = data.length - s.length;
    if (end < p.length || !data.startsWith(p) || !data.endsWith(s)) return -1;
    const n = jsonStringBody(data, p.length, end);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
  }

  /** Learns the shape from a payload parseDataPayload read as a plain content chunk; false if it cannot be used. */
  learn(data: string): boolean {
    this.prefix = this.suffix = '';
    let content: unknown;
    try {
      const o = JSON.parse(data) as { choices?: { delta?: Record<string, unknown> }[] };
      const d = o.choices?.[0]?.delta;
      content = d?.content;
      // The reasoning fields would also make a chunk count as content: only learn chunks that carry neither.
      if (
        d &&
        ((typeof d.reasoning_content === 'string' && d.reasoning_content !== '') ||
          (typeof d.reasoning === 'string' && d.reasoning !== ''))
      )
        return false;
    } catch {
      return false;
    }
    if (typeof content !== 'string' || content === '' || content === PROBE) return false;
    const quoted = JSON.stringify(content);
    const at = data.indexOf(quoted);
    if (at < 0 || data.indexOf(quoted, at + 1) >= 0) return false;
    const prefix = data.slice(0, at + 1);
    const suffix = data.slice(at + quoted.length - 1);
    // Proof that the cut is exactly the content string: the same text with a probe there reads as the probe.
    const probe = parseDataPayload(prefix + PROBE + suffix);
    if (probe.kind !== 'chunk' || !probe.content || probe.finishReason !== null || probe.usage !== null) return false;
    try {
      const o = JSON.parse(prefix + PROBE + suffix) as { choices?: { delta?: Record<string, unknown> }[] };
      if (o.choices?.[0]?.delta?.content !== PROBE) return false;
    } catch {
      return false;
    }
    this.prefix = prefix;
    this.suffix = suffix;
    return true;
  }
}
