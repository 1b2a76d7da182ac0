// The request keys that say what traffic is sent: the payload source (messages, a dataset or its alias prompts_file,
// synthetic prompts), the endpoint, `max_tokens: dataset` and conversations. Problems are located like every other
// (a bad dataset record in its own file); nothing here tokenizes: the controller builds the requests.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { mulberry32 } from '../util/prng.ts';
import { describeValue, didYouMean } from '../util/units.ts';
import { DATASET_FORMATS, parseRecord, singleTurnOf, splitDataset, turnsOf, type DatasetRecord } from './dataset.ts';
import {
  ENDPOINTS,
  KEY_TREE,
  MAX_CONVERSATION_TURNS,
  MAX_DATASET_FILE_BYTES,
  MAX_SYNTHETIC_TOKENS,
  TOKENIZERS,
  TOKEN_LENGTH_KEYS,
  type KeySpec,
} from './keys.ts';
import { joinPath } from './source.ts';
import type {
  ChatMessage,
  ConversationConfig,
  DatasetConfig,
  Endpoint,
  RequestConfig,
  RequestPayload,
  SyntheticConfig,
  TokenLength,
  TokenizerName,
} from './types.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string): boolean => Object.hasOwn(o, k) && o[k] !== undefined && o[k] !== null;

/** What this module needs of validate.ts's Checker. */
export interface WorkloadChecker {
  readonly ctx: { absoluteFile: string; displayFile: string };
  error(p: string, message: string, at?: 'key' | 'value'): void;
  warn(p: string, message: string, at?: 'key' | 'value'): void;
  errorIn(file: string, line: number, p: string, message: string): void;
  checkKeys(obj: Obj, p: string, allowed: readonly string[]): void;
  section(parent: Obj, key: string, parentPath: string, spec: KeySpec): Obj | null | undefined;
  integer(obj: Obj, key: string, parentPath: string, min: number, max: number, what?: string): number | undefined;
  integerValue(v: unknown, p: string, min: number, max: number, what?: string): number | undefined;
  duration(obj: Obj, key: string, parentPath: string, opts: { allowZero: boolean }): number | undefined;
}

const SOURCES = ['messages', 'prompts_file', 'dataset', 'synthetic'] as const;
type Source = (typeof SOURCES)[number];

/** The one payload source of `request`; reports a second one, or none. */
function payloadSource(c: WorkloadChecker, r: Obj): Source | null {
  const present = SOURCES.filter((k) => has(r, k));
  for (const extra of present.slice(1))
    c.error(joinPath('request', extra), `cannot be used together with ${present[0]}: request takes one of them`, 'key');
  if (present.length === 0)
    c.error('request', 'needs a payload: set messages, dataset (or prompts_file) or synthetic', 'key');
  return present.length === 1 ? present[0]! : null;
}

function oneOf<T extends string>(c: WorkloadChecker, o: Obj, key: string, parent: string, values: readonly T[]) {
  if (!has(o, key)) return undefined;
  const v = o[key];
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  const hint = typeof v === 'string' ? didYouMean(v, values) : '';
  c.error(joinPath(parent, key), `must be one of ${values.join(', ')}, got ${describeValue(v)}${hint}`);
  return null;
}

/** N tokens, or {mean, stddev, min, max}: min and max default to mean ∓ 3 stddev. */
function tokenLength(c: WorkloadChecker, v: unknown, p: string, min: number): TokenLength | undefined {
  if (typeof v === 'number') {
    const n = c.integerValue(v, p, min, MAX_SYNTHETIC_TOKENS, `a number of tokens ≥ ${min}`);
    return n === undefined ? undefined : { mean: n, stddev: 0, min: n, max: n };
  }
  if (!isObj(v)) {
    c.error(p, `must be a number of tokens or {mean, stddev, min, max}, got ${describeValue(v)}`);
    return undefined;
  }
  c.checkKeys(v, p, TOKEN_LENGTH_KEYS);
  const mean = v['mean'];
  if (typeof mean !== 'number' || !Number.isFinite(mean) || mean < min || mean > MAX_SYNTHETIC_TOKENS) {
    c.error(joinPath(p, 'mean'), `is required: a number of tokens ≥ ${min}, got ${describeValue(mean)}`);
    return undefined;
  }
  const sd = has(v, 'stddev') ? v['stddev'] : 0;
  if (typeof sd !== 'number' || !Number.isFinite(sd) || sd < 0) {
    c.error(joinPath(p, 'stddev'), `must be a number ≥ 0, got ${describeValue(sd)}`);
    return undefined;
  }
  const lo = has(v, 'min')
    ? c.integer(v, 'min', p, min, MAX_SYNTHETIC_TOKENS, `an integer ≥ ${min}`)
    : Math.max(min, Math.floor(mean - 3 * sd));
  const hi = has(v, 'max')
    ? c.integer(v, 'max', p, min, MAX_SYNTHETIC_TOKENS, `an integer ≥ ${min}`)
    : Math.min(MAX_SYNTHETIC_TOKENS, Math.ceil(mean + 3 * sd));
  if (lo === undefined || hi === undefined) return undefined;
  if (!(lo <= mean && mean <= hi)) {
    c.error(p, `needs min ≤ mean ≤ max, got min ${lo}, mean ${mean}, max ${hi}`);
    return undefined;
  }
  return { mean, stddev: sd, min: lo, max: hi };
}

function checkSynthetic(c: WorkloadChecker, r: Obj): SyntheticConfig | undefined {
  const s = c.section(r, 'synthetic', 'request', KEY_TREE.request.synthetic);
  if (!s) return undefined;
  const p = 'request.synthetic';
  if (!has(s, 'input_tokens')) c.error(joinPath(p, 'input_tokens'), 'is required: the prompt length in tokens', 'key');
  const inputTokens = has(s, 'input_tokens') ? tokenLength(c, s['input_tokens'], `${p}.input_tokens`, 1) : undefined;
  const outputTokens = has(s, 'output_tokens') ? tokenLength(c, s['output_tokens'], `${p}.output_tokens`, 1) : null;
  const tokenizer = oneOf(c, s, 'tokenizer', p, TOKENIZERS);
  const prefixTokens = c.integer(s, 'prefix_tokens', p, 0, MAX_SYNTHETIC_TOKENS, 'a non-negative integer');
  if (inputTokens === undefined || outputTokens === undefined || tokenizer === null) return undefined;
  return { inputTokens, outputTokens, tokenizer: tokenizer ?? 'o200k_base', prefixTokens: prefixTokens ?? 0 };
}

function checkConversation(c: WorkloadChecker, r: Obj): ConversationConfig | null | undefined {
  const s = c.section(r, 'conversation', 'request', KEY_TREE.request.conversation);
  if (s === null) return null;
  if (!s) return undefined;
  const p = 'request.conversation';
  const raw = s['turns'];
  let turns: ConversationConfig['turns'] | undefined;
  if (!has(s, 'turns')) c.error(joinPath(p, 'turns'), 'is required: dataset, or a number of turns', 'key');
  else if (raw === 'dataset') turns = 'dataset';
  else turns = c.integerValue(raw, `${p}.turns`, 1, MAX_CONVERSATION_TURNS, 'dataset or a positive integer');
  const thinkTimeMs = c.duration(s, 'think_time', p, { allowZero: true }) ?? 0;
  return turns === undefined ? undefined : { turns, thinkTimeMs };
}

/** The dataset's settings; `alias`: written as prompts_file (a path, format auto). */
function checkDatasetKeys(c: WorkloadChecker, r: Obj, alias: boolean): DatasetConfig | undefined {
  if (alias) {
    const v = r['prompts_file'];
    if (typeof v === 'string' && v.trim() !== '')
      return { path: v, format: 'auto', limit: null, seed: null, tokenizer: 'o200k_base' };
    c.error('request.prompts_file', `must be a non-empty string, got ${describeValue(v)}`);
    return undefined;
  }
  // `dataset: file.jsonl` is short for `dataset: {path: file.jsonl}`.
  if (typeof r['dataset'] === 'string') r['dataset'] = { path: r['dataset'] };
  const d = c.section(r, 'dataset', 'request', KEY_TREE.request.dataset);
  if (!d) return undefined;
  const p = 'request.dataset';
  const file = d['path'];
  if (typeof file !== 'string' || file.trim() === '') {
    const what = has(d, 'path') ? `must be a non-empty string, got ${describeValue(file)}` : 'is required';
    c.error(
      joinPath(p, 'path'),
      `${what}: the dataset file, relative to the profile`,
      has(d, 'path') ? 'value' : 'key',
    );
  }
  const format = oneOf(c, d, 'format', p, DATASET_FORMATS);
  const limit = c.integer(d, 'limit', p, 1, Number.MAX_SAFE_INTEGER);
  const seed = c.integer(d, 'seed', p, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');
  const tokenizer = oneOf<TokenizerName>(c, d, 'tokenizer', p, TOKENIZERS);
  if (typeof file !== 'string' || file.trim() === '' || format === null || tokenizer === null) return undefined;
  return {
    path: file,
    format: format ?? 'auto',
    limit: limit ?? null,
    seed: seed ?? null,
    tokenizer: tokenizer ?? 'o200k_base',
  };
}

/** The file's text, or undefined after reporting why it cannot be read. */
async function readDataset(c: WorkloadChecker, p: string, rel: string): Promise<string | undefined> {
  const abs = path.resolve(path.dirname(c.ctx.absoluteFile), rel);
  const display = path.join(path.dirname(c.ctx.displayFile), rel);
  try {
    const st = await stat(abs);
    if (!st.isFile()) return void c.error(p, `${display} is not a file`);
    if (st.size > MAX_DATASET_FILE_BYTES) {
      const mb = (n: number) => Math.round(n / 1024 / 1024);
      return void c.error(p, `${display} is ${mb(st.size)} MB; the limit is ${mb(MAX_DATASET_FILE_BYTES)} MB`);
    }
    return await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    c.error(
      p,
      code === 'ENOENT'
        ? `file not found: ${display} (paths are relative to the profile's directory)`
        : `cannot read ${display} (${code ?? 'error'})`,
    );
    return undefined;
  }
}

const MAX_RECORD_PROBLEMS = 10;

/** Every record of the file, or undefined after locating each bad one (the first 10) in the file. */
async function loadRecords(c: WorkloadChecker, p: string, d: DatasetConfig): Promise<DatasetRecord[] | undefined> {
  const text = await readDataset(c, p, d.path);
  if (text === undefined) return undefined;
  const display = path.join(path.dirname(c.ctx.displayFile), d.path);
  const { items, problems } = splitDataset(text);
  const records: DatasetRecord[] = [];
  for (const item of items) {
    const rec = parseRecord(item, d.format);
    if (typeof rec === 'string') problems.push({ line: item.line, message: rec });
    else records.push(rec);
  }
  problems.sort((a, b) => a.line - b.line);
  for (const pr of problems.slice(0, MAX_RECORD_PROBLEMS))
    c.errorIn(display, pr.line, p, `line ${pr.line} of ${display} ${pr.message}`);
  if (problems.length > MAX_RECORD_PROBLEMS)
    c.error(
      p,
      `${display} has ${problems.length} malformed records in all (the first ${MAX_RECORD_PROBLEMS} are listed)`,
    );
  if (problems.length > 0) return undefined;
  if (records.length === 0) {
    c.error(p, `${display} is empty: it needs at least one record (JSON Lines, or a JSON array)`);
    return undefined;
  }
  return records;
}

/** A record as a payload: its single turn, or its turns (cut at the first without a reply when they set max_tokens). */
function payloadOf(
  rec: DatasetRecord,
  o: { fromDataset: boolean; conversation: ConversationConfig | null },
): RequestPayload | null {
  if (o.conversation) {
    let turns = turnsOf(rec.messages);
    if (o.fromDataset) {
      const unanswered = turns.findIndex((t) => t.reply === null);
      if (unanswered >= 0) turns = turns.slice(0, unanswered);
    } else turns = turns.map((t) => ({ messages: t.messages, reply: null }));
    if (o.conversation.turns !== 'dataset') turns = turns.slice(0, o.conversation.turns);
    return turns.length > 0 ? { messages: turns[0]!.messages, turns } : null;
  }
  const t = singleTurnOf(rec);
  if (t === null || (o.fromDataset && t.reply === null)) return null;
  return o.fromDataset ? { messages: t.messages, reply: t.reply } : { messages: t.messages };
}

/** Records → payloads: those without what the run needs are left out (with a warning), then `limit` (seeded). */
function datasetPayloads(
  c: WorkloadChecker,
  p: string,
  d: DatasetConfig,
  records: DatasetRecord[],
  o: { fromDataset: boolean; conversation: ConversationConfig | null },
): RequestPayload[] | undefined {
  let payloads = records.map((r) => payloadOf(r, o)).filter((x): x is RequestPayload => x !== null);
  const left = records.length - payloads.length;
  const why = o.fromDataset ? 'no recorded reply for max_tokens: dataset' : 'no message to send';
  if (payloads.length === 0) return void c.error(p, `no record of ${d.path} can be sent (${why})`);
  if (left > 0) c.warn(p, `${left} of ${records.length} records of ${d.path} are left out: ${why}`);
  if (d.seed !== null) {
    const rng = mulberry32(d.seed);
    for (let i = payloads.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [payloads[i], payloads[j]] = [payloads[j]!, payloads[i]!];
    }
  }
  if (d.limit !== null) payloads = payloads.slice(0, d.limit);
  return payloads;
}

/** Cross-checks of the workload keys, once each is known. */
function crossCheckWorkload(c: WorkloadChecker, r: Obj, w: Partial<RequestConfig>, source: Source | null): void {
  const conv = w.conversation;
  if (conv && w.endpoint === 'completions')
    c.error('request.conversation', 'needs request.endpoint: chat (a completions prompt has no turns)', 'key');
  if (conv?.turns === 'dataset' && source !== 'dataset' && source !== 'prompts_file')
    c.error('request.conversation.turns', 'dataset needs request.dataset: the turns come from its records');
  if (w.maxTokensFromDataset && source !== 'dataset' && source !== 'prompts_file')
    c.error('request.max_tokens', 'dataset needs request.dataset: the output length is its recorded replies');
  if (source === 'synthetic' && w.synthetic?.outputTokens && has(r, 'max_tokens'))
    c.warn('request.max_tokens', "is not sent: request.synthetic.output_tokens sets each request's max_tokens", 'key');
}

/**
 * The workload keys of `request`. `inline` checks request.messages (validate.ts) and returns them when valid.
 * Returns the fields of RequestConfig it decides: payloads, source, endpoint, dataset, synthetic, conversation.
 */
export async function checkWorkload(
  c: WorkloadChecker,
  r: Obj,
  inline: () => ChatMessage[] | undefined,
): Promise<Partial<RequestConfig>> {
  const source = payloadSource(c, r);
  const out: Partial<RequestConfig> = {
    endpoint: oneOf<Endpoint>(c, r, 'endpoint', 'request', ENDPOINTS) ?? 'chat',
    maxTokensFromDataset: r['max_tokens'] === 'dataset',
    dataset: null,
    synthetic: null,
    conversation: checkConversation(c, r),
  };
  const conversation = out.conversation ?? null;
  if (has(r, 'messages')) {
    const messages = inline();
    const turns = messages && conversation ? inlineTurns(messages, conversation) : undefined;
    if (turns?.length === 0) c.error('request.messages', 'has no user message: a conversation needs a turn to send');
    else if (messages && source === 'messages') {
      out.payloads = [turns ? { messages, turns } : { messages }];
      out.source = 'inline';
    }
  }
  if (has(r, 'synthetic')) {
    const synthetic = checkSynthetic(c, r);
    if (synthetic && source === 'synthetic') [out.synthetic, out.payloads, out.source] = [synthetic, [], 'synthetic'];
  }
  if (source === 'dataset' || source === 'prompts_file') {
    const p = source === 'dataset' ? 'request.dataset.path' : 'request.prompts_file';
    const d = checkDatasetKeys(c, r, source === 'prompts_file');
    const records = d ? await loadRecords(c, p, d) : undefined;
    const o = { fromDataset: out.maxTokensFromDataset === true, conversation };
    const payloads = d && records ? datasetPayloads(c, p, d, records, o) : undefined;
    if (d && payloads) [out.dataset, out.payloads, out.source] = [d, payloads, d.path];
  }
  crossCheckWorkload(c, r, out, source);
  return out;
}

/** The inline messages as a conversation: their turns, at most N (the replies written there are not sent). */
function inlineTurns(messages: ChatMessage[], conversation: ConversationConfig) {
  const turns = turnsOf(messages).map((t) => ({ messages: t.messages, reply: null }));
  return conversation.turns === 'dataset' ? turns : turns.slice(0, conversation.turns);
}
