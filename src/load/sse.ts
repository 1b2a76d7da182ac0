// A minimal server-sent-events line scanner for chat-completion (and legacy completion) streams. Only `data:` fields
// matter for the Chat Completions API; comments, `event:` and `id:` lines are ignored.
// ChunkShape lets most token chunks of a stream skip JSON.parse, exactly (see its comment).

export type StreamEvent =
  | { kind: 'done' }
  | {
      kind: 'chunk';
      /** A non-empty answer: `delta.content` (chat) or `text` (completions). */
      answer: boolean;
      /** A non-empty `delta.reasoning_content` or `delta.reasoning`. */
      reasoning: boolean;
      finishReason: string | null;
      usage: Usage | null;
      /** The answer text when `answer` (read only by conversations, which resend it). */
      text: string | null;
    }
  | { kind: 'error'; message: string }
  | { kind: 'malformed'; sample: string };

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
  /** usage.completion_tokens_details.reasoning_tokens. */
  reasoningTokens?: number | null;
  /** usage.prompt_tokens_details.cached_tokens. */
  cachedTokens?: number | null;
}

const numberOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** The `usage` object of a chunk or a response, or null when it has none. */
export function usageOf(u: unknown): Usage | null {
  if (!u || typeof u !== 'object') return null;
  const o = u as Record<string, unknown>;
  const completion = o.completion_tokens_details as Record<string, unknown> | null | undefined;
  const prompt = o.prompt_tokens_details as Record<string, unknown> | null | undefined;
  return {
    promptTokens: numberOrNull(o.prompt_tokens),
    completionTokens: numberOrNull(o.completion_tokens),
    reasoningTokens: numberOrNull(completion?.reasoning_tokens),
    cachedTokens: numberOrNull(prompt?.cached_tokens),
  };
}

/** Interprets one `data:` payload of a chat.completion.chunk (or legacy text_completion) stream. */
export function parseDataPayload(data: string): StreamEvent {
  if (data === '[DONE]') return { kind: 'done' };
  return interpretPayload(data, parseObject(data));
}

/** The payload as a JSON object, or null when it is not one. */
export function parseObject(data: string): Record<string, unknown> | null {
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return null;
  }
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : null;
}

/** What a payload says, from its parsed object (`null`: not a JSON object). */
export function interpretPayload(
  data: string,
  o: Record<string, unknown> | null,
): Exclude<StreamEvent, { kind: 'done' }> {
  if (o === null) return { kind: 'malformed', sample: data.slice(0, 80) };
  if (o.error !== undefined && o.error !== null) {
    const e = o.error as Record<string, unknown> | string;
    const message = typeof e === 'string' ? e : typeof e.message === 'string' ? e.message : JSON.stringify(e);
    return { kind: 'error', message };
  }
  let text: string | null = null;
  let reasoning = false;
  let finishReason: string | null = null;
  const choices = o.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    const c0 = choices[0] as Record<string, unknown> | null;
    const delta = (c0?.delta ?? null) as Record<string, unknown> | null;
    if (delta) {
      if (nonEmpty(delta.content)) text = delta.content as string;
      // Reasoning models stream their thinking first: a token the user waits for (TTFT), not yet the answer (TTFO).
      reasoning = nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning);
    }
    if (text === null && nonEmpty(c0?.text)) text = c0!.text as string;
    if (typeof c0?.finish_reason === 'string') finishReason = c0.finish_reason;
  }
  return { kind: 'chunk', answer: text !== null, reasoning, finishReason, usage: usageOf(o.usage), text };
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0;
}

const MAX_LINE = 1 << 20;

/** Receives one event's data: `text[from, to)`, a range so that a payload costs no string of its own. */
export type DataHandler = (text: string, from: number, to: number) => boolean;

/**
 * Splits decoded text into SSE `data:` payloads and hands each to a callback as soon as its event is complete
 * (no array per read, no string per payload: a range of the text). Multi-line data fields are joined with '\n' as the
 * SSE spec says; an event is dispatched on a blank line. The callback returns true to stop: the rest of the text is
 * then ignored.
 */
export class SseScanner {
  private buffer = '';
  /** The pending event's data: `dataText[dataFrom, dataTo)` (strings never change, so a range stays valid). */
  private dataText: string | null = null;
  private dataFrom = 0;
  private dataTo = 0;

  constructor(private readonly onData: DataHandler) {}

  /** Returns true when the callback asked to stop. */
  push(text: string): boolean {
    const buf = this.buffer === '' ? text : this.buffer + text;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end === start) {
        if (this.dispatch()) {
          this.buffer = '';
          return true;
        }
      } else if (buf.startsWith('data:', start)) {
        this.addField(buf, buf.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end);
      }
      start = nl + 1;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    if (this.buffer.length > MAX_LINE) {
      // A single line over 1 MiB is not a chat chunk; treat it as malformed rather than buffer forever.
      const sample = this.buffer.slice(0, 80) + '\u0000';
      this.buffer = '';
      return this.onData(sample, 0, sample.length);
    }
    return false;
  }

  /** At end of stream: a pending event without its trailing blank line still counts. */
  flush(): boolean {
    const line = this.buffer.endsWith('\r') ? this.buffer.slice(0, -1) : this.buffer;
    this.buffer = '';
    if (line.startsWith('data:')) this.addField(line, line.charCodeAt(5) === 32 ? 6 : 5, line.length);
    return this.dispatch();
  }

  private addField(text: string, from: number, to: number): void {
    if (this.dataText === null) {
      this.dataText = text;
      this.dataFrom = from;
      this.dataTo = to;
      return;
    }
    const joined = this.dataText.slice(this.dataFrom, this.dataTo) + '\n' + text.slice(from, to);
    this.dataText = joined;
    this.dataFrom = 0;
    this.dataTo = joined.length;
  }

  /** Hands the pending event (if any) to the callback; true when it asked to stop. */
  private dispatch(): boolean {
    const text = this.dataText;
    if (text === null) return false;
    this.dataText = null;
    return this.onData(text, this.dataFrom, this.dataTo);
  }
}

// ASCII: a probe outside Latin-1 would turn the probe document into a two-byte string, slower to build and parse.
const PROBE = 'fc~probe~7q';

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

/** The string fields a token can come in; a chunk of a learned shape carries exactly one of them. */
const TOKEN_FIELDS = ['content', 'text', 'reasoning_content', 'reasoning'] as const;
type TokenField = (typeof TOKEN_FIELDS)[number];

function tokenField(o: unknown, field: TokenField): unknown {
  const c0 = (o as { choices?: Record<string, unknown>[] } | null)?.choices?.[0];
  if (!c0 || typeof c0 !== 'object') return undefined;
  return field === 'text' ? c0.text : (c0.delta as Record<string, unknown> | null | undefined)?.[field];
}

/**
 * The shape of one stream's plain token chunks: the text before and after the token string of a chunk that
 * parseDataPayload read as {one kind of token, no finish_reason, no usage}. A payload `prefix + X + suffix`, X the
 * body of a JSON string, is the same JSON document with another token string, so it is a token chunk of the same
 * kind (`reasoning` or an answer) iff X is non-empty. Every other field, reasoning ones included, is unchanged.
 */
export class ChunkShape {
  private prefix = '';
  private suffix = '';
  /** The learned chunks are reasoning tokens (else answer tokens). */
  reasoning = false;

  /**
   * For the payload `text[from, to)` (default: all of `text`): 1, a token chunk of the learned kind; 0, the same shape
   * with an empty token; -1, unknown (parse it).
   */
  match(text: string, from = 0, to = text.length): number {
    const p = this.prefix;
    if (p === '') return -1;
    const s = this.suffix;
    const end = to - s.length;
    // slice and ===, not startsWith(p, from): V8 compares that one character at a time, ~10x slower here.
    if (end < from + p.length || text.slice(from, from + p.length) !== p || !text.endsWith(s, to)) return -1;
    const n = jsonStringBody(text, from + p.length, end);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
  }

  /**
   * Learns the shape from a payload parseDataPayload read as a plain token chunk; false if it cannot be used.
   * `parsed`: the payload's object when the caller has already parsed it.
   */
  learn(data: string, parsed?: Record<string, unknown>): boolean {
    this.prefix = this.suffix = '';
    const o = parsed ?? parseObject(data);
    if (o === null) return false;
    // Exactly one token field is non-empty: a chunk with both reasoning and content cannot stand for either kind.
    const filled = TOKEN_FIELDS.filter((f) => {
      const v = tokenField(o, f);
      return typeof v === 'string' && v !== '';
    });
    const field = filled.length === 1 ? filled[0]! : null;
    if (field === null) return false;
    const value = tokenField(o, field) as string;
    if (value === PROBE) return false;
    const quoted = JSON.stringify(value);
    const at = data.indexOf(quoted);
    if (at < 0 || data.indexOf(quoted, at + 1) >= 0) return false;
    const prefix = data.slice(0, at + 1);
    const suffix = data.slice(at + quoted.length - 1);
    if (!this.proves(prefix, suffix, field)) return false;
    this.prefix = prefix;
    this.suffix = suffix;
    this.reasoning = field === 'reasoning_content' || field === 'reasoning';
    return true;
  }

  /** Proof that the cut is exactly the token string: the same text with a probe there reads as the probe. */
  private proves(prefix: string, suffix: string, field: TokenField): boolean {
    const reasoning = field === 'reasoning_content' || field === 'reasoning';
    const text = prefix + PROBE + suffix;
    const o = parseObject(text);
    const probe = interpretPayload(text, o);
    if (probe.kind !== 'chunk' || probe.finishReason !== null || probe.usage !== null) return false;
    if (probe.answer === reasoning || probe.reasoning !== reasoning) return false;
    return tokenField(o, field) === PROBE;
  }
}
