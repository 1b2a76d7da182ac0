// Automatic prefix caching as vLLM does it: a token sequence is cut into blocks of BLOCK_TOKENS, each block is
// named by a hash chained from its parent's, and a prompt reuses the KV of its longest run of leading blocks
// found in the cache. Only full blocks are cached; the cache is bounded and evicts least recently used blocks.

export const BLOCK_TOKENS = 16;

/** The hash a chain starts from (the parent of a prompt's first block). */
export const ROOT_HASH = 0;

/** One block's hash from its parent's and its tokens: two 32-bit lanes folded into a 53-bit integer (cyrb53). */
function blockHash(parent: number, tokens: ArrayLike<number>, from: number): number {
  let h1 = (0xdeadbeef ^ parent) >>> 0;
  let h2 = (0x41c6ce57 ^ Math.floor(parent / 0x100000000)) >>> 0;
  for (let i = from; i < from + BLOCK_TOKENS; i++) {
    const t = tokens[i]!;
    h1 = Math.imul(h1 ^ t, 2654435761);
    h2 = Math.imul(h2 ^ t, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 0x100000000 * (0x1fffff & h2) + (h1 >>> 0);
}

/** The chained hashes of every full block of `tokens`, the first one's parent being `parent`. */
export function hashBlocks(tokens: ArrayLike<number>, parent = ROOT_HASH): number[] {
  const hashes: number[] = [];
  let h = parent;
  for (let from = 0; from + BLOCK_TOKENS <= tokens.length; from += BLOCK_TOKENS) {
    h = blockHash(h, tokens, from);
    hashes.push(h);
  }
  return hashes;
}

/**
 * The set of cached blocks, bounded to `capacityTokens / BLOCK_TOKENS` blocks. A Map keeps them in recency order
 * (oldest first). Chains are refreshed tail first so that eviction takes a chain's tail before its head, as
 * vLLM's free-block queue does: a shared head outlives the suffixes that hang from it.
 */
export class PrefixCache {
  private readonly blocks = new Map<number, true>();
  private readonly capacityBlocks: number;

  constructor(capacityTokens: number) {
    this.capacityBlocks = Math.max(1, Math.floor(capacityTokens / BLOCK_TOKENS));
  }

  get sizeBlocks(): number {
    return this.blocks.size;
  }

  /** How many leading blocks of `hashes` (at most `maxBlocks`) are cached; those are refreshed. */
  match(hashes: readonly number[], maxBlocks = hashes.length): number {
    const limit = Math.min(maxBlocks, hashes.length);
    let hit = 0;
    while (hit < limit && this.blocks.has(hashes[hit]!)) hit++;
    this.refresh(hashes, hit);
    return hit;
  }

  /** Caches (or refreshes) every block of the chain, then evicts the least recently used beyond capacity. */
  insert(hashes: readonly number[]): void {
    this.refresh(hashes, hashes.length);
    while (this.blocks.size > this.capacityBlocks) this.blocks.delete(this.blocks.keys().next().value!);
  }

  private refresh(hashes: readonly number[], count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.blocks.delete(hashes[i]!);
      this.blocks.set(hashes[i]!, true);
    }
  }
}
