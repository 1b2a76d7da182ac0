// What each request sends: a payload of the transport config sampled with the seed, a synthetic prompt made for the
// request, or the next turn of the conversation its slot carries. The controller builds a PayloadSpec (plain data,
// so worker threads receive it as is); createPayloadSource turns it into a per-executor PayloadSource (pure but for
// its seeded random numbers and each slot's conversation). docs/profile.md, "Workloads", describes what is sent.
import type { RequestRecord } from '../model/record.ts';
import type { RequestBody } from './transport-config.ts';

/** A length in tokens: N is {mean: N, stddev: 0, min: N, max: N}; otherwise a normal draw, rounded and clamped. */
export interface TokenLength {
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

export interface SyntheticSpec {
  /** Words that are one token each, alone and after a space: N of them joined by spaces are N tokens exactly. */
  words: readonly string[];
  /** The shared leading prompt (prefix_tokens): a system message, or the start of a completions prompt. */
  prefix: string | null;
  inputTokens: TokenLength;
  /** Drawn per request and sent as max_tokens; null: the base body's max_tokens applies. */
  outputTokens: TokenLength | null;
}

export interface ChatMessageData {
  role: string;
  content: string;
}

/** One turn of a scripted conversation: the messages it adds (a user message, maybe a system one first). */
export interface ScriptTurn {
  messages: ChatMessageData[];
  /** This turn's max_tokens (the recorded reply's length with `max_tokens: dataset`); null: the base body's. */
  maxTokens: number | null;
}

export type PayloadSpec =
  /** `body.payloads` of the transport config, one drawn at random per request (single-turn). */
  | { kind: 'payloads' }
  /** A fresh synthetic prompt per request (single-turn). */
  | { kind: 'synthetic'; synthetic: SyntheticSpec }
  /** Conversations from a dataset or the inline messages: each slot plays one script after another. */
  | { kind: 'scripts'; scripts: readonly ScriptTurn[][]; thinkTimeMs: number }
  /** Conversations of `turns` synthetic user messages. */
  | { kind: 'synthetic-conversations'; synthetic: SyntheticSpec; turns: number; thinkTimeMs: number };

/** The next request of a slot: the payload (or conversation) index for its record, its turn, its own body if any. */
export interface NextRequest {
  payload: number;
  turn: number;
  body: RequestBody | undefined;
}

export interface PayloadSource {
  /** How long slot `slot` waits before its next request: the think time before a conversation's next turn. */
  pauseMs(slot: number): number;
  next(slot: number): NextRequest;
  /** Slot `slot`'s request ended: a conversation goes on with the answer, or starts over after a failure. */
  ended(slot: number, rec: RequestRecord): void;
}

/** A draw of a TokenLength: normal (Box–Muller), rounded, clamped to [min, max]. */
export function drawLength(l: TokenLength, rng: () => number): number {
  if (l.stddev === 0 || l.min === l.max) return Math.min(l.max, Math.max(l.min, Math.round(l.mean)));
  const u = 1 - rng();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  return Math.min(l.max, Math.max(l.min, Math.round(l.mean + l.stddev * z)));
}

/** `n` words drawn from `words`, joined by single spaces: `n` tokens under the tokenizer that chose the words. */
export function syntheticText(words: readonly string[], n: number, rng: () => number): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = words[Math.floor(rng() * words.length)]!;
  return parts.join(' ');
}

/** A synthetic turn's messages: the prefix as a system message on the first turn, then `n` tokens of user text. */
function syntheticMessages(s: SyntheticSpec, first: boolean, rng: () => number): ChatMessageData[] {
  const user = { role: 'user', content: syntheticText(s.words, drawLength(s.inputTokens, rng), rng) };
  return first && s.prefix !== null ? [{ role: 'system', content: s.prefix }, user] : [user];
}

function withMaxTokens(fields: Record<string, unknown>, maxTokens: number | null): Record<string, unknown> {
  if (maxTokens !== null) fields.max_tokens = maxTokens;
  return fields;
}

/** A single-turn synthetic request: chat messages, or one completions prompt (the prefix, a space, the text). */
function syntheticFields(s: SyntheticSpec, endpoint: 'chat' | 'completions', rng: () => number) {
  const messages = syntheticMessages(s, true, rng);
  const maxTokens = s.outputTokens === null ? null : drawLength(s.outputTokens, rng);
  if (endpoint === 'chat') return withMaxTokens({ messages }, maxTokens);
  return withMaxTokens({ prompt: messages.map((m) => m.content).join(' ') }, maxTokens);
}

export function createPayloadSource(
  spec: PayloadSpec,
  o: { payloadCount: number; endpoint: 'chat' | 'completions'; rng: () => number },
): PayloadSource {
  const { rng } = o;
  switch (spec.kind) {
    case 'payloads': {
      const n = o.payloadCount;
      return single(() => ({ payload: n <= 1 ? 0 : Math.floor(rng() * n), turn: 1, body: undefined }));
    }
    case 'synthetic': {
      let seq = 0;
      const synthetic = spec.synthetic;
      return single(() => ({
        payload: seq++,
        turn: 1,
        body: { fields: syntheticFields(synthetic, o.endpoint, rng) },
      }));
    }
    case 'scripts': {
      const { scripts } = spec;
      const order = shuffledCycle(scripts.length, rng);
      return conversations(spec.thinkTimeMs, () => {
        const payload = order();
        const script = scripts[payload]!;
        return { payload, turns: script.length, turn: (k) => script[k]! };
      });
    }
    case 'synthetic-conversations': {
      let seq = 0;
      const s = spec.synthetic;
      return conversations(spec.thinkTimeMs, () => ({
        payload: seq++,
        turns: spec.turns,
        turn: (k) => ({
          messages: syntheticMessages(s, k === 0, rng),
          maxTokens: s.outputTokens === null ? null : drawLength(s.outputTokens, rng),
        }),
      }));
    }
  }
}

/** 0 … n−1 in a seeded random order, each once per pass: conversations repeat only after all were played. */
function shuffledCycle(n: number, rng: () => number): () => number {
  let order: number[] = [];
  return () => {
    if (order.length === 0) {
      order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    return order.pop()!;
  };
}

function single(next: () => NextRequest): PayloadSource {
  return { pauseMs: () => 0, next, ended: () => {} };
}

/** A conversation as a slot plays it: which one, how many turns, and turn k (0-based) when it is reached. */
interface Conversation {
  payload: number;
  turns: number;
  turn(k: number): ScriptTurn;
}

/** A slot's conversation so far: the messages sent and answered, the turn being sent, its answer once read. */
interface SlotState {
  conversation: Conversation;
  /** Turns answered so far. */
  done: number;
  history: ChatMessageData[];
  /** The messages of the turn in flight (history included), and its answer once the transport read it. */
  sent: ChatMessageData[] | null;
  answer: string | null;
  /** Turn `done`'s script, drawn once (a synthetic turn is random). */
  current: ScriptTurn | null;
}

/** Each slot carries a conversation; every turn sends the history, the server's own answers included. */
function conversations(thinkTimeMs: number, start: () => Conversation): PayloadSource {
  const slots = new Map<number, SlotState>();
  return {
    pauseMs: (slot) => ((slots.get(slot)?.done ?? 0) > 0 ? thinkTimeMs : 0),
    next(slot) {
      let st = slots.get(slot);
      if (st === undefined) {
        st = { conversation: start(), done: 0, history: [], sent: null, answer: null, current: null };
        slots.set(slot, st);
      }
      const turn = (st.current ??= st.conversation.turn(st.done));
      const messages = [...st.history, ...turn.messages];
      st.sent = messages;
      st.answer = null;
      const state = st;
      const fields = withMaxTokens({ messages }, turn.maxTokens);
      return {
        payload: st.conversation.payload,
        turn: st.done + 1,
        body: { fields, onAnswer: (text) => (state.answer = text) },
      };
    },
    ended(slot, rec) {
      const st = slots.get(slot);
      if (st === undefined) return;
      // A failed turn has no answer to resend: the slot starts a new conversation.
      if (!rec.ok || st.answer === null || st.sent === null) return void slots.delete(slot);
      st.history = [...st.sent, { role: 'assistant', content: st.answer }];
      st.done++;
      st.current = null;
      st.sent = null;
      if (st.done >= st.conversation.turns) slots.delete(slot);
    },
  };
}
