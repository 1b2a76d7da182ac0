// Token counts for the requests the tool builds, with gpt-tokenizer (the encoding the built-in simulator counts
// prompts with, so its ground truth can check them): the recorded replies of `max_tokens: dataset`, and the words
// synthetic prompts are made of. docs/profile.md, "Synthetic prompts", says why N such words are N tokens.
import type { TokenizerName } from '../profile/types.ts';
import { syntheticText } from '../load/payload-source.ts';
import { mulberry32 } from '../util/prng.ts';

export interface TokenCounter {
  readonly name: TokenizerName;
  /** Token ids of `text`; special-token strings such as `<|endoftext|>` count as ordinary text. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  readonly vocabularySize: number;
}

interface Encoding {
  encode: (text: string, options?: { disallowedSpecial?: Set<string> }) => number[];
  decode: (ids: Iterable<number>) => string;
  vocabularySize: number;
}

// Without this, a prompt that merely contains `<|endoftext|>` would make the tokenizer throw.
const AS_TEXT = { disallowedSpecial: new Set<string>() };
const loaded = new Map<TokenizerName, Promise<TokenCounter>>();

async function importEncoding(name: TokenizerName): Promise<Encoding> {
  switch (name) {
    case 'o200k_base':
      return import('gpt-tokenizer/encoding/o200k_base');
    case 'cl100k_base':
      return import('gpt-tokenizer/encoding/cl100k_base');
  }
}

/** The encoding, imported on first use (o200k_base takes ~0.4 s and ~40 MB of heap to load). */
export function tokenCounter(name: TokenizerName): Promise<TokenCounter> {
  let counter = loaded.get(name);
  if (!counter) {
    counter = importEncoding(name).then((e) => ({
      name,
      encode: (text: string) => e.encode(text, AS_TEXT),
      decode: (ids: readonly number[]) => e.decode(ids),
      vocabularySize: e.vocabularySize,
    }));
    loaded.set(name, counter);
  }
  return counter;
}

const MAX_WORDS = 8192;
const words = new Map<TokenizerName, string[]>();

/**
 * Lower-case words that are one token alone and one token after a space. The encodings split text before merging
 * (a pre-tokenizer), and a space followed by letters starts a new piece: N such words joined by single spaces are
 * exactly N tokens. Each word is checked by encoding it; `exactText` checks whole prompts.
 */
export function singleTokenWords(t: TokenCounter): string[] {
  const cached = words.get(t.name);
  if (cached) return cached;
  const out: string[] = [];
  for (let id = 0; id < t.vocabularySize && out.length < MAX_WORDS; id++) {
    let s: string;
    try {
      s = t.decode([id]);
    } catch {
      continue;
    }
    if (!/^ [a-z]{3,12}$/.test(s)) continue;
    const spaced = t.encode(s);
    if (spaced.length === 1 && spaced[0] === id && t.encode(s.slice(1)).length === 1) out.push(s.slice(1));
  }
  words.set(t.name, out);
  return out;
}

/**
 * Seeded text of exactly `n` tokens: words drawn as the load generator draws them, then, should the encoding ever
 * disagree, cut or padded by tokens and encoded again until it has exactly `n` (a cut can re-encode differently).
 */
export function exactText(t: TokenCounter, n: number, seed: number): string {
  const vocabulary = singleTokenWords(t);
  const rng = mulberry32(seed);
  let text = syntheticText(vocabulary, n, rng);
  for (let i = 0; i < 100; i++) {
    const ids = t.encode(text);
    if (ids.length === n) return text;
    text = ids.length > n ? t.decode(ids.slice(0, n)) : `${text} ${syntheticText(vocabulary, n - ids.length, rng)}`;
  }
  throw new Error(`could not make a text of exactly ${n} tokens under ${t.name}`);
}

/** The token count of a recorded reply, as max_tokens: at least 1. */
export function replyTokens(t: TokenCounter, reply: string): number {
  return Math.max(1, t.encode(reply).length);
}
