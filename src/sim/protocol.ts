// The OpenAI Chat Completions wire format as the simulator speaks it: request validation (400s with
// OpenAI-style error bodies), the prompt-token estimate, and prebuilt SSE chunk strings.

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

export class BadRequest extends Error {
  readonly param: string | null;
  readonly code: string | null;
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(message);
    this.param = param;
    this.code = code;
  }
  body(): OpenAIErrorBody {
    return errorBody(this.message, 'invalid_request_error', this.param, this.code);
  }
}

export interface ChatRequest {
  model: string | null;
  stream: boolean;
  includeUsage: boolean;
  /** max_completion_tokens, else max_tokens; null when the request sets neither. */
  maxTokens: number | null;
  promptTokens: number;
  messageCount: number;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const MAX_TOKENS_LIMIT = 1_000_000;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function invalidType(param: string, expected: string, got: unknown): BadRequest {
  return new BadRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(got)} instead.`,
    param,
    'invalid_type',
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Prompt tokens, estimated without a tokenizer: 4 per message plus ceil(characters / 4), where characters
 * counts the UTF-16 length of every text content (string content, or the `text` of text parts).
 */
export function estimatePromptTokens(messages: readonly { content?: unknown }[]): number {
  let chars = 0;
  for (const m of messages) {
    const c = m.content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) {
      for (const part of c) if (isObject(part) && typeof part.text === 'string') chars += part.text.length;
    }
  }
  return 4 * messages.length + Math.ceil(chars / 4);
}

function optionalTokenLimit(body: Record<string, unknown>, name: string): number | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidType(name, 'an integer', v);
  if (v < 1)
    throw new BadRequest(
      `Invalid '${name}': integer below minimum value. Expected a value >= 1, but got ${v} instead.`,
      name,
      'integer_below_min_value',
    );
  if (v > MAX_TOKENS_LIMIT)
    throw new BadRequest(
      `Invalid '${name}': expected a value <= ${MAX_TOKENS_LIMIT}, but got ${v} instead.`,
      name,
      'integer_above_max_value',
    );
  return v;
}

/** Validates a parsed request body; throws BadRequest on the first problem (as the OpenAI API does). */
export function validateChatRequest(body: unknown): ChatRequest {
  if (!isObject(body))
    throw new BadRequest(`The request body must be a JSON object, but got ${typeName(body)}.`, null, 'invalid_type');
  if (body.model !== undefined && typeof body.model !== 'string') throw invalidType('model', 'a string', body.model);
  const messages = body.messages;
  if (messages === undefined || messages === null)
    throw new BadRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array', messages);
  if (messages.length === 0) {
    throw new BadRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  messages.forEach((m: unknown, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) throw invalidType(p, 'an object', m);
    if (m.role === undefined)
      throw new BadRequest(`Missing required parameter: '${p}.role'.`, `${p}.role`, 'missing_required_parameter');
    if (typeof m.role !== 'string') throw invalidType(`${p}.role`, 'a string', m.role);
    if (!ROLES.has(m.role)) {
      throw new BadRequest(
        `Invalid value: '${m.role}'. Supported values are: ${[...ROLES].map((r) => `'${r}'`).join(', ')}.`,
        `${p}.role`,
        'invalid_value',
      );
    }
    const c = m.content;
    if (c === undefined || c === null) {
      if (m.role === 'assistant') return;
      throw new BadRequest(`Missing required parameter: '${p}.content'.`, `${p}.content`, 'missing_required_parameter');
    }
    if (typeof c === 'string') return;
    if (!Array.isArray(c)) throw invalidType(`${p}.content`, 'a string or an array of content parts', c);
    c.forEach((part: unknown, j) => {
      const pp = `${p}.content[${j}]`;
      if (!isObject(part)) throw invalidType(pp, 'an object', part);
      if (typeof part.type !== 'string') throw invalidType(`${pp}.type`, 'a string', part.type);
      if (part.type === 'text' && typeof part.text !== 'string') throw invalidType(`${pp}.text`, 'a string', part.text);
    });
  });
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw invalidType('stream', 'a boolean', body.stream);
  const stream = body.stream === true;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!isObject(so)) throw invalidType('stream_options', 'an object', so);
    if (!stream)
      throw new BadRequest(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        'stream_options',
        'invalid_value',
      );
    if (so.include_usage !== undefined && so.include_usage !== null && typeof so.include_usage !== 'boolean') {
      throw invalidType('stream_options.include_usage', 'a boolean', so.include_usage);
    }
    includeUsage = so.include_usage === true;
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw new BadRequest('The simulator generates one choice per request: n must be 1.', 'n', 'unsupported_value');
  }
  const maxTokens = optionalTokenLimit(body, 'max_completion_tokens') ?? optionalTokenLimit(body, 'max_tokens');
  return {
    model: typeof body.model === 'string' ? body.model : null,
    stream,
    includeUsage,
    maxTokens,
    promptTokens: estimatePromptTokens(messages as { content?: unknown }[]),
    messageCount: messages.length,
  };
}

/** The text the simulated model "generates": token i is TOKENS[i % TOKENS.length], each non-empty. */
export const TOKENS: readonly string[] = (
  'The simulated model writes one word per token, at the pace of a continuous batching engine with a fixed ' +
  'number of slots, so that its capacity is known in advance and every measurement can be checked against it. ' +
  'Each step emits a token to every active sequence and the step grows longer as the batch grows.'
)
  .split(' ')
  .map((w, i) => (i === 0 ? w : ' ' + w));

const TOKEN_JSON: readonly string[] = TOKENS.map((t) => JSON.stringify(t));

export function tokenText(count: number): string {
  let s = '';
  for (let i = 0; i < count; i++) s += TOKENS[i % TOKENS.length]!;
  return s;
}

export const DONE_EVENT = 'data: [DONE]\n\n';
export const MALFORMED_EVENT = 'data: {not json\n\n';

/** Prebuilt SSE strings for one streaming response: per token only the token's JSON is spliced in. */
export class ChunkWriter {
  private readonly head: string;
  private readonly tail = ',"finish_reason":null}]}\n\n';

  constructor(
    private readonly id: string,
    private readonly created: number,
    private readonly modelJson: string,
  ) {
    this.head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"choices":[{"index":0,"delta":`;
  }

  /** The first chunk: role and empty content (as OpenAI and vLLM send it); it carries no token. */
  role(): string {
    return this.head + '{"role":"assistant","content":""}' + this.tail;
  }

  /** The chunk carrying token number `index` (0-based). */
  token(index: number): string {
    return this.head + '{"content":' + TOKEN_JSON[index % TOKEN_JSON.length]! + '}' + this.tail;
  }

  finish(reason: 'stop' | 'length'): string {
    return this.head + `{},"finish_reason":"${reason}"}]}\n\n`;
  }

  usage(promptTokens: number, completionTokens: number): string {
    return (
      `data: {"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${this.modelJson},"choices":[],` +
      `"usage":{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}}\n\n`
    );
  }
}

export function completionObject(opts: {
  id: string;
  created: number;
  model: string;
  content: string;
  finishReason: 'stop' | 'length' | null;
  promptTokens: number;
  completionTokens: number;
}): unknown {
  return {
    id: opts.id,
    object: 'chat.completion',
    created: opts.created,
    model: opts.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: opts.content, refusal: null },
        logprobs: null,
        finish_reason: opts.finishReason,
      },
    ],
    usage: {
      prompt_tokens: opts.promptTokens,
      completion_tokens: opts.completionTokens,
      total_tokens: opts.promptTokens + opts.completionTokens,
    },
  };
}
