// What the simulator answers: the generated text, prebuilt SSE chunk strings for chat and legacy completions
// streams (per token only the token's JSON is spliced in), and the non-streaming response objects.

/** The text the simulated model "generates": token i is TOKENS[i % TOKENS.length], each non-empty. */
export const TOKENS: readonly string[] = (
  'The simulated model writes one word per token, at the pace of a continuous batching engine with a fixed ' +
  'number of slots, so that its capacity is known in advance and every measurement can be checked against it. ' +
  'Each step emits a token to every active sequence and the step grows longer as the batch grows.'
)
  .split(' ')
  .map((w, i) => (i === 0 ? w : ' ' + w));

const TOKEN_JSON: readonly string[] = TOKENS.map((t) => JSON.stringify(t));

/** The text of tokens [from, to). */
export function tokenText(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += TOKENS[i % TOKENS.length]!;
  return s;
}

export const DONE_EVENT = 'data: [DONE]\n\n';
export const MALFORMED_EVENT = 'data: {not json\n\n';

export type FinishReason = 'stop' | 'length';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** prompt_tokens_details.cached_tokens; null = not reported (no prefix cache). */
  cachedTokens: number | null;
  /** completion_tokens_details.reasoning_tokens; null = not reported (no reasoning). */
  reasoningTokens: number | null;
}

export function usageObject(u: Usage): Record<string, unknown> {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    ...(u.cachedTokens !== null ? { prompt_tokens_details: { cached_tokens: u.cachedTokens } } : {}),
    ...(u.reasoningTokens !== null ? { completion_tokens_details: { reasoning_tokens: u.reasoningTokens } } : {}),
  };
}

/** The SSE events of one streaming response. */
export interface StreamFormat {
  /** Sent with the headers, before any token: the chat role chunk; nothing for legacy completions. */
  opening(): string;
  /** The chunk carrying token number `index` (0-based), as reasoning or as content. */
  token(index: number, reasoning: boolean): string;
  finish(reason: FinishReason): string;
  usage(u: Usage): string;
}

/** Who a response is: its id, creation time (s) and model, as every chunk repeats them. */
export interface ResponseIdentity {
  id: string;
  created: number;
  model: string;
}

export class ChatChunks implements StreamFormat {
  private readonly head: string;
  private readonly tail = ',"finish_reason":null}]}\n\n';

  constructor(private readonly who: ResponseIdentity) {
    this.head = `data: {"id":"${who.id}","object":"chat.completion.chunk","created":${who.created},"model":${JSON.stringify(who.model)},"choices":[{"index":0,"delta":`;
  }

  /** The first chunk: role and empty content (as OpenAI and vLLM send it); it carries no token. */
  opening(): string {
    return this.head + '{"role":"assistant","content":""}' + this.tail;
  }

  token(index: number, reasoning: boolean): string {
    const field = reasoning ? '{"reasoning_content":' : '{"content":';
    return this.head + field + TOKEN_JSON[index % TOKEN_JSON.length]! + '}' + this.tail;
  }

  finish(reason: FinishReason): string {
    return this.head + `{},"finish_reason":"${reason}"}]}\n\n`;
  }

  usage(u: Usage): string {
    const { id, created, model } = this.who;
    const event = { id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageObject(u) };
    return `data: ${JSON.stringify(event)}\n\n`;
  }
}

/** Legacy completions (`object: "text_completion"`): no role chunk, each token in `choices[0].text`. */
export class CompletionChunks implements StreamFormat {
  private readonly head: string;
  private readonly tail = ',"logprobs":null,"finish_reason":null}]}\n\n';

  constructor(private readonly who: ResponseIdentity) {
    this.head = `data: {"id":"${who.id}","object":"text_completion","created":${who.created},"model":${JSON.stringify(who.model)},"choices":[{"index":0,"text":`;
  }

  opening(): string {
    return '';
  }

  token(index: number): string {
    return this.head + TOKEN_JSON[index % TOKEN_JSON.length]! + this.tail;
  }

  finish(reason: FinishReason): string {
    return this.head + `"","logprobs":null,"finish_reason":"${reason}"}]}\n\n`;
  }

  usage(u: Usage): string {
    const { id, created, model } = this.who;
    const event = { id, object: 'text_completion', created, model, choices: [], usage: usageObject(u) };
    return `data: ${JSON.stringify(event)}\n\n`;
  }
}

/** A non-streaming answer: `reasoning` is null when the model does not reason (the field is then absent). */
export interface CompletionBody {
  content: string;
  reasoning: string | null;
  finishReason: FinishReason | null;
  usage: Usage;
}

export function chatCompletionObject(who: ResponseIdentity, body: CompletionBody): unknown {
  const message = {
    role: 'assistant',
    content: body.content,
    ...(body.reasoning !== null ? { reasoning_content: body.reasoning } : {}),
    refusal: null,
  };
  return {
    id: who.id,
    object: 'chat.completion',
    created: who.created,
    model: who.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: body.finishReason }],
    usage: usageObject(body.usage),
  };
}

export function textCompletionObject(who: ResponseIdentity, body: CompletionBody): unknown {
  return {
    id: who.id,
    object: 'text_completion',
    created: who.created,
    model: who.model,
    choices: [{ index: 0, text: body.content, logprobs: null, finish_reason: body.finishReason }],
    usage: usageObject(body.usage),
  };
}
