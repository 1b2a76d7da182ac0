// Prompt tokens counted with a real BPE tokenizer (gpt-tokenizer), so `prompt_tokens` and prefix-cache blocks
// are what an OpenAI-style model would see. Each encoding is loaded once per thread, when a server starts.

export const TOKENIZER_NAMES = ['o200k_base', 'cl100k_base'] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

export interface Tokenizer {
  readonly name: TokenizerName;
  /** Token ids of `text`; special-token strings such as `<|endoftext|>` count as ordinary text. */
  encode(text: string): number[];
}

type Encode = (text: string, options?: { disallowedSpecial?: Set<string> }) => number[];

const loaded = new Map<TokenizerName, Promise<Tokenizer>>();
// Without this, a prompt that merely contains `<|endoftext|>` would make the tokenizer throw.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

async function importEncode(name: TokenizerName): Promise<Encode> {
  switch (name) {
    case 'o200k_base':
      return (await import('gpt-tokenizer/encoding/o200k_base')).encode;
    case 'cl100k_base':
      return (await import('gpt-tokenizer/encoding/cl100k_base')).encode;
  }
}

/** The encoding, imported on first use (o200k_base takes ~0.4 s and ~40 MB of heap to load). */
export function loadTokenizer(name: TokenizerName): Promise<Tokenizer> {
  let tokenizer = loaded.get(name);
  if (!tokenizer) {
    tokenizer = importEncode(name).then((encode) => ({ name, encode: (text: string) => encode(text, AS_TEXT) }));
    loaded.set(name, tokenizer);
  }
  return tokenizer;
}
