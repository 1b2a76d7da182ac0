// The requests the simulator accepts: Chat Completions and legacy Completions bodies, validated with 400s carrying
// OpenAI-style error bodies. What it answers (chunks, objects) is in format.ts.

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

export type Endpoint = 'chat' | 'completions';

/** A validated chat or legacy completion request: what the engine and the response need of it. */
export interface GenerationRequest {
  endpoint: Endpoint;
  model: string | null;
  stream: boolean;
  includeUsage: boolean;
  /** max_completion_tokens (chat only), else max_tokens; null when the request sets neither. */
  maxTokens: number | null;
  /** The texts whose tokens make the prompt, in order: message contents and text parts (chat), the prompt. */
  promptTexts: string[];
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

function requireObject(body: unknown): Record<string, unknown> {
  if (!isObject(body))
    throw new BadRequest(`The request body must be a JSON object, but got ${typeName(body)}.`, null, 'invalid_type');
  if (body.model !== undefined && typeof body.model !== 'string') throw invalidType('model', 'a string', body.model);
  return body;
}

/** One message's texts (string content, or the `text` of text parts); throws on the first problem. */
function messageTexts(m: unknown, i: number): string[] {
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
    if (m.role === 'assistant') return [];
    throw new BadRequest(`Missing required parameter: '${p}.content'.`, `${p}.content`, 'missing_required_parameter');
  }
  if (typeof c === 'string') return [c];
  if (!Array.isArray(c)) throw invalidType(`${p}.content`, 'a string or an array of content parts', c);
  return c.flatMap((part: unknown, j) => {
    const pp = `${p}.content[${j}]`;
    if (!isObject(part)) throw invalidType(pp, 'an object', part);
    if (typeof part.type !== 'string') throw invalidType(`${pp}.type`, 'a string', part.type);
    if (part.type !== 'text') return [];
    if (typeof part.text !== 'string') throw invalidType(`${pp}.text`, 'a string', part.text);
    return [part.text];
  });
}

function chatPromptTexts(messages: unknown): string[] {
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
  return messages.flatMap((m: unknown, i) => messageTexts(m, i));
}

/** `prompt`: a string, or an array of one string (the simulator generates one choice per request). */
function completionPromptTexts(prompt: unknown): string[] {
  if (prompt === undefined || prompt === null)
    throw new BadRequest("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (typeof prompt === 'string') return [prompt];
  if (!Array.isArray(prompt)) throw invalidType('prompt', 'a string or an array of strings', prompt);
  if (prompt.length !== 1 || typeof prompt[0] !== 'string') {
    throw new BadRequest(
      'The simulator generates one choice per request and reads text: prompt must be a string or an array of one string.',
      'prompt',
      'unsupported_value',
    );
  }
  return [prompt[0]];
}

/** stream, stream_options and n, shared by both endpoints. */
function streamFields(body: Record<string, unknown>): { stream: boolean; includeUsage: boolean } {
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
  oneChoice(body, 'n');
  return { stream, includeUsage };
}

function oneChoice(body: Record<string, unknown>, name: string): void {
  const v = body[name];
  if (v !== undefined && v !== null && v !== 1) {
    const message = `The simulator generates one choice per request: ${name} must be 1.`;
    throw new BadRequest(message, name, 'unsupported_value');
  }
}

/** Validates a parsed Chat Completions body; throws BadRequest on the first problem (as the OpenAI API does). */
export function validateChatRequest(body: unknown): GenerationRequest {
  const b = requireObject(body);
  const promptTexts = chatPromptTexts(b.messages);
  const { stream, includeUsage } = streamFields(b);
  const maxTokens = optionalTokenLimit(b, 'max_completion_tokens') ?? optionalTokenLimit(b, 'max_tokens');
  const model = typeof b.model === 'string' ? b.model : null;
  return { endpoint: 'chat', model, stream, includeUsage, maxTokens, promptTexts };
}

/** Validates a parsed legacy Completions body (`/v1/completions`). */
export function validateCompletionRequest(body: unknown): GenerationRequest {
  const b = requireObject(body);
  const promptTexts = completionPromptTexts(b.prompt);
  const { stream, includeUsage } = streamFields(b);
  oneChoice(b, 'best_of');
  const maxTokens = optionalTokenLimit(b, 'max_tokens');
  const model = typeof b.model === 'string' ? b.model : null;
  return { endpoint: 'completions', model, stream, includeUsage, maxTokens, promptTexts };
}
