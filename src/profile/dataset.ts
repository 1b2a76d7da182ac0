// Dataset files (request.dataset, and its alias prompts_file): JSON Lines or one JSON array of records, each in one of
// three formats, normalized to chat messages. Pure: text in, records or located problems out (docs/profile.md).
import { didYouMean, describeValue } from '../util/units.ts';
import { MESSAGE_ROLES } from './keys.ts';
import type { ChatMessage, ConversationTurn } from './types.ts';

export const DATASET_FORMATS = ['messages', 'sharegpt', 'prompt', 'auto'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** One record of a dataset, normalized. */
export interface DatasetRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  format: Exclude<DatasetFormat, 'auto'>;
  /** The whole record as chat messages: ShareGPT's human/gpt/system turns become user/assistant/system. */
  messages: ChatMessage[];
}

/** A value of the file with the line it starts on. */
export interface DatasetItem {
  line: number;
  value: unknown;
}

const SHAREGPT_ROLES: Record<string, string> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  chatgpt: 'assistant',
  system: 'system',
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Offsets where each element of a top-level JSON array starts (the text is a valid JSON array). */
function arrayElementOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') continue;
    if (expectValue && depth === 1 && ch !== ']') out.push(i);
    expectValue = false;
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectValue = true;
  }
  return out;
}

const lineAt = (text: string, offset: number): number => {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
};

/** A JSON array whose items are all chat messages is one JSON Lines record (a messages list), not a file of them. */
const isOneMessageList = (v: unknown[]): boolean =>
  v.length > 0 && v.every((m) => isObj(m) && Object.hasOwn(m, 'role') && !Object.hasOwn(m, 'conversations'));

/** The file's values: a JSON array's elements, or one value per non-blank line; problems carry their line. */
export function splitDataset(raw: string): { items: DatasetItem[]; problems: { line: number; message: string }[] } {
  const text = raw.replace(/^\uFEFF/, '');
  if (text.trimStart().startsWith('[')) {
    let whole: unknown;
    try {
      whole = JSON.parse(text);
    } catch {
      whole = undefined;
    }
    if (Array.isArray(whole) && !isOneMessageList(whole)) {
      const offsets = arrayElementOffsets(text);
      return { items: whole.map((value, i) => ({ line: lineAt(text, offsets[i] ?? 0), value })), problems: [] };
    }
  }
  const items: DatasetItem[] = [];
  const problems: { line: number; message: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      items.push({ line: i + 1, value: JSON.parse(line) });
    } catch {
      problems.push({
        line: i + 1,
        message: 'is not valid JSON (a dataset is JSON Lines, one record per line, or one JSON array of records)',
      });
    }
  });
  return { items, problems };
}

function messagesOf(list: unknown): ChatMessage[] | string {
  if (!Array.isArray(list))
    return `must be a messages array, {"messages": [...]}, or a JSON string, got ${describeValue(list)}`;
  if (list.length === 0) return 'has an empty messages list';
  const out: ChatMessage[] = [];
  for (const [i, m] of list.entries()) {
    if (!isObj(m) || typeof m['role'] !== 'string' || typeof m['content'] !== 'string')
      return `message ${i + 1} must be {"role": "...", "content": "..."}`;
    if (!(MESSAGE_ROLES as readonly string[]).includes(m['role']))
      return `message ${i + 1} has unknown role ${describeValue(m['role'])}${didYouMean(m['role'], MESSAGE_ROLES)}`;
    out.push({ role: m['role'], content: m['content'] });
  }
  return out;
}

function shareGptOf(v: unknown): ChatMessage[] | string {
  const turns = isObj(v) ? v['conversations'] : undefined;
  if (!Array.isArray(turns) || turns.length === 0)
    return 'must be a ShareGPT record {"conversations": [{"from": "human", "value": "..."}, ...]}';
  const out: ChatMessage[] = [];
  for (const [i, t] of turns.entries()) {
    if (!isObj(t) || typeof t['from'] !== 'string' || typeof t['value'] !== 'string')
      return `turn ${i + 1} must be {"from": "human" | "gpt" | "system", "value": "..."}`;
    const role = SHAREGPT_ROLES[t['from'].toLowerCase()];
    if (role === undefined)
      return `turn ${i + 1} has unknown "from" ${describeValue(t['from'])}; expected human, gpt or system`;
    out.push({ role, content: t['value'] });
  }
  if (!out.some((m) => m.role === 'user')) return 'has no human turn (nothing to send)';
  return out;
}

function promptOf(v: unknown): ChatMessage[] | string {
  const prompt = isObj(v) ? v['prompt'] : v;
  if (typeof prompt !== 'string') return 'must be a JSON string or {"prompt": "...", "completion": "..."}';
  if (prompt.trim() === '') return 'is an empty prompt';
  const messages: ChatMessage[] = [{ role: 'user', content: prompt }];
  const completion = isObj(v) ? v['completion'] : undefined;
  if (completion !== undefined && typeof completion !== 'string') return '"completion" must be a string';
  if (typeof completion === 'string') messages.push({ role: 'assistant', content: completion });
  return messages;
}

/** The format of a record under `auto`: by its shape. */
function detect(v: unknown): Exclude<DatasetFormat, 'auto'> | string {
  if (typeof v === 'string') return 'prompt';
  if (Array.isArray(v)) return 'messages';
  if (!isObj(v)) return `must be a messages array, an object or a JSON string, got ${describeValue(v)}`;
  if (Object.hasOwn(v, 'conversations')) return 'sharegpt';
  if (Object.hasOwn(v, 'messages')) return 'messages';
  if (Object.hasOwn(v, 'prompt')) return 'prompt';
  return 'is an object without a "messages", "conversations" (ShareGPT) or "prompt" field';
}

/** One value of the file as a record, or what is wrong with it (without its location). */
export function parseRecord(item: DatasetItem, format: DatasetFormat): DatasetRecord | string {
  const f = format === 'auto' ? detect(item.value) : format;
  if (f !== 'messages' && f !== 'sharegpt' && f !== 'prompt') return f;
  const v = item.value;
  const messages =
    f === 'sharegpt' ? shareGptOf(v) : f === 'prompt' ? promptOf(v) : messagesOf(isObj(v) ? v['messages'] : v);
  if (typeof messages === 'string') return messages;
  return { line: item.line, format: f, messages };
}

/** The turns of a record: each sends the messages up to an assistant message, which is its recorded reply. */
export function turnsOf(messages: readonly ChatMessage[]): ConversationTurn[] {
  const turns: ConversationTurn[] = [];
  let pending: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role !== 'assistant') pending.push(m);
    else if (pending.length > 0) {
      turns.push({ messages: pending, reply: m.content });
      pending = [];
    }
  }
  if (pending.length > 0) turns.push({ messages: pending, reply: null });
  return turns.filter((t) => t.messages.some((m) => m.role === 'user'));
}

/**
 * What a single-turn request sends of a record, and the reply recorded for it. ShareGPT: the first human turn with
 * the system turns before it. Messages and prompt: the whole record but a trailing assistant message (the reply).
 */
export function singleTurnOf(rec: DatasetRecord): ConversationTurn | null {
  if (rec.format === 'sharegpt') return turnsOf(rec.messages)[0] ?? null;
  const messages = [...rec.messages];
  let reply: string | null = null;
  while (messages.length > 0 && messages[messages.length - 1]!.role === 'assistant') reply = messages.pop()!.content;
  return messages.length > 0 ? { messages, reply } : null;
}
