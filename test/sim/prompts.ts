// Prompts of an exact token count under a given encoding, built the way a load generator would: words that are
// one token each with their leading space (BPE never merges across such words), drawn by a seeded PRNG.
import { encode as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { mulberry32 } from '../../src/util/prng.ts';

const WORDS = (
  'time person year way day thing man world life hand part child eye woman place work week case point government ' +
  'company number group problem fact be have do say get make go know take see come think look want give use find ' +
  'tell ask seem feel try leave call good new first last long great little own other old right big high different ' +
  'small large next early young important few public bad same able to of in for on with at by from up about into ' +
  'over after beneath under above the and a that I it not he as you this but his they her she or an will my one all'
).split(' ');

export type Encode = (text: string) => number[];

/** A text of exactly `n` tokens under `encode` (o200k_base by default). */
export function textOfTokens(n: number, seed = 1, encode: Encode = o200k): string {
  const vocabulary = WORDS.filter((w) => encode(' ' + w).length === 1);
  const rnd = mulberry32(seed);
  let text = '';
  for (let i = 0; i < n; i++) text += ' ' + vocabulary[Math.floor(rnd() * vocabulary.length)]!;
  const count = encode(text).length;
  if (count !== n) throw new Error(`textOfTokens: built ${count} tokens, wanted ${n}`);
  return text;
}
