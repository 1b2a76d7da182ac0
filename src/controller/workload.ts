// The requests of a run as plain data for the load generator: the payloads of the transport config (with their
// max_tokens under `max_tokens: dataset`, as `prompt` on the completions endpoint) and the PayloadSpec that says how
// each request picks or builds its body (synthetic prompts, conversations). Token counts come from tokens.ts.
import { ToolError } from '../errors.ts';
import { syntheticText, type PayloadSpec, type ScriptTurn, type SyntheticSpec } from '../load/payload-source.ts';
import type { ChatMessage, Profile, RequestPayload, TokenLength } from '../profile/types.ts';
import { mulberry32 } from '../util/prng.ts';
import { exactText, replyTokens, singleTokenWords, tokenCounter, type TokenCounter } from './tokens.ts';

export interface Workload {
  /** `body.payloads` of the transport config. */
  payloads: Record<string, unknown>[];
  spec: PayloadSpec;
}

/** A completions prompt from chat messages: one message's text as it is, several separated by blank lines. */
export function promptOf(messages: readonly ChatMessage[]): string {
  return messages.map((m) => m.content).join('\n\n');
}

function fieldsOf(profile: Profile, p: RequestPayload, maxTokens: number | null): Record<string, unknown> {
  const fields: Record<string, unknown> =
    profile.request.endpoint === 'completions' ? { prompt: promptOf(p.messages) } : { messages: p.messages };
  if (maxTokens !== null) fields.max_tokens = maxTokens;
  return fields;
}

/** The workload of a profile that needs no tokenizer: its payloads, each picked at random per request. */
export function plainWorkload(profile: Profile): Workload {
  const req = profile.request;
  if (req.synthetic || req.maxTokensFromDataset || req.conversation)
    throw new Error('this profile needs buildWorkload (a tokenizer or conversations)');
  return { payloads: req.payloads.map((p) => fieldsOf(profile, p, null)), spec: { kind: 'payloads' } };
}

/** Checks that `n`-word prompts of the load generator's kind encode to `n` tokens, on a few seeded samples. */
function checkExact(t: TokenCounter, spec: SyntheticSpec, lengths: readonly number[]): void {
  const rng = mulberry32(12345);
  for (const n of lengths) {
    const text = syntheticText(spec.words, n, rng);
    const got = t.encode(text).length;
    if (got !== n)
      throw new ToolError('internal', `a synthetic prompt of ${n} tokens encodes to ${got} tokens under ${t.name}`);
  }
}

const sampleLengths = (l: TokenLength): number[] => [...new Set([l.min, Math.round(l.mean), l.max])];

async function syntheticSpec(profile: Profile): Promise<SyntheticSpec> {
  const s = profile.request.synthetic!;
  const t = await tokenCounter(s.tokenizer);
  const words = singleTokenWords(t);
  // One prefix for the whole run, the same in every worker thread: a system prompt all requests share.
  const prefix = s.prefixTokens > 0 ? exactText(t, s.prefixTokens, profile.request.seed ^ 0x5eed) : null;
  const spec: SyntheticSpec = { words, prefix, inputTokens: s.inputTokens, outputTokens: s.outputTokens };
  checkExact(t, spec, sampleLengths(s.inputTokens));
  return spec;
}

/** Turn k of a recorded conversation: its messages, and its reply's tokens as max_tokens with `max_tokens: dataset`. */
function scriptOf(p: RequestPayload, t: TokenCounter | null): ScriptTurn[] {
  return (p.turns ?? [{ messages: p.messages, reply: null }]).map((turn) => ({
    messages: turn.messages,
    maxTokens: t !== null && turn.reply != null ? replyTokens(t, turn.reply) : null,
  }));
}

/** Every request of the run as plain data: payloads and how they are picked or built. */
export async function buildWorkload(profile: Profile): Promise<Workload> {
  const req = profile.request;
  const conv = req.conversation;
  if (req.synthetic) {
    const synthetic = await syntheticSpec(profile);
    if (!conv) return { payloads: [], spec: { kind: 'synthetic', synthetic } };
    const turns = conv.turns === 'dataset' ? 1 : conv.turns;
    return { payloads: [], spec: { kind: 'synthetic-conversations', synthetic, turns, thinkTimeMs: conv.thinkTimeMs } };
  }
  const t = req.maxTokensFromDataset ? await tokenCounter(req.dataset?.tokenizer ?? 'o200k_base') : null;
  if (conv) {
    const scripts = req.payloads.map((p) => scriptOf(p, t));
    return { payloads: [], spec: { kind: 'scripts', scripts, thinkTimeMs: conv.thinkTimeMs } };
  }
  const payloads = req.payloads.map((p) =>
    fieldsOf(profile, p, t !== null && p.reply != null ? replyTokens(t, p.reply) : null),
  );
  return { payloads, spec: { kind: 'payloads' } };
}
