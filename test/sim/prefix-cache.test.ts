// The prefix cache: block hashing and LRU on their own, then multi-turn conversations over HTTP, where each turn
// resends the history and the previous answer and prefills only its uncached suffix (docs/simulator.md).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type GroundTruthRecord } from '../../src/sim/index.ts';
import { BLOCK_TOKENS, PrefixCache, hashBlocks } from '../../src/sim/prefix-cache.ts';
import { textOfTokens } from './prompts.ts';
import { rawChat } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-prefix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('hashBlocks and PrefixCache', () => {
  it('hashes full blocks only, each chained to its parent', () => {
    expect(BLOCK_TOKENS).toBe(16);
    expect(hashBlocks(range(0, 15))).toEqual([]);
    const a = hashBlocks(range(0, 40));
    expect(a).toHaveLength(2);
    expect(hashBlocks(range(0, 32))).toEqual(a);
    // The same 16 tokens after another block are another block.
    const block = range(100, 116);
    expect(hashBlocks([...block, ...block])[1]).not.toBe(hashBlocks(block)[0]);
    // A chain continued from its last hash is the chain of the whole sequence.
    expect([...a, ...hashBlocks(range(32, 48), a[1])]).toEqual(hashBlocks(range(0, 48)));
  });

  it('matches the leading cached blocks, at most maxBlocks', () => {
    const cache = new PrefixCache(1000);
    const chain = hashBlocks(range(0, 64));
    cache.insert(chain.slice(0, 3));
    expect(cache.match(chain)).toBe(3);
    expect(cache.match(chain, 2)).toBe(2);
    expect(cache.match(hashBlocks(range(1, 65)))).toBe(0);
  });

  it('evicts the least recently used blocks beyond capacity, a chain tail before its head', () => {
    const cache = new PrefixCache(4 * BLOCK_TOKENS);
    const a = hashBlocks(range(0, 48));
    const b = hashBlocks(range(1000, 1048));
    cache.insert(a);
    cache.insert(b);
    expect(cache.sizeBlocks).toBe(4);
    expect(cache.match(a)).toBe(1);
    expect(cache.match(b)).toBe(3);
  });
});

const BASE_MS = 5;
const PREFILL_MS_PER_1K = 100;

/** The admitting step of a lone request: step(1) + prefill of its uncached tokens (jitter 0). */
const predictedTtftMs = (prompt: number, cached: number) => BASE_MS + (PREFILL_MS_PER_1K * (prompt - cached)) / 1000;

/** Whole blocks of what the cache holds of the previous turn, and never the prompt's last token. */
const predictedCached = (held: number, prompt: number) =>
  BLOCK_TOKENS * Math.min(Math.floor(held / BLOCK_TOKENS), Math.floor((prompt - 1) / BLOCK_TOKENS));

async function conversation(name: string, overrides: Record<string, unknown>, turns: number) {
  const gtPath = join(dir, `${name}.jsonl`);
  const sim = await startSimulator({
    preset: 'tiny',
    groundTruthPath: gtPath,
    overrides: {
      step_base_ms: BASE_MS,
      step_per_seq_ms: 0,
      jitter: 0,
      prefill_ms_per_1k_tokens: PREFILL_MS_PER_1K,
      prefix_cache: true,
      ...overrides,
    },
  });
  const messages: { role: string; content: string }[] = [];
  const seen = [];
  for (let turn = 0; turn < turns; turn++) {
    messages.push({ role: 'user', content: textOfTokens(turn === 0 ? 1000 : 40, turn + 1) });
    const body = { messages, stream: true, max_tokens: 24, stream_options: { include_usage: true } };
    const r = await rawChat(sim.baseUrl, body, { requestId: `${name}-${turn}` });
    expect(r.finishReason).toBe('length');
    seen.push({ usage: r.usage!, reasoning: r.reasoning });
    messages.push({ role: 'assistant', content: r.content });
  }
  const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { maxLateMs: number };
  await sim.stop();
  const lines = readFileSync(gtPath, 'utf8').trim().split('\n');
  const log = new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
  const records = range(0, turns).map((t) => log.get(`${name}-${t}`)!);
  return { records, seen, messages, maxLateMs: health.maxLateMs };
}

describe('prefix cache over HTTP: a multi-turn conversation', () => {
  it('caches the history and the previous answer, and the first token comes sooner by the prefill saved', async () => {
    const { records, seen, messages, maxLateMs } = await conversation('chat', {}, 3);
    let held = 0;
    const ttfts: number[] = [];
    const predictions: number[] = [];
    records.forEach((r, turn) => {
      const prompt = r.prompt_tokens!;
      const cached = turn === 0 ? 0 : predictedCached(held, prompt);
      expect(r.cached_tokens, `turn ${turn}`).toBe(cached);
      expect(seen[turn]!.usage.prompt_tokens_details).toEqual({ cached_tokens: cached });
      // The server's own TTFT from its slot: the model's step, late by at most what the engine reports.
      ttfts.push(r.first_token_ms! - r.admitted_ms!);
      predictions.push(predictedTtftMs(prompt, cached));
      expect(ttfts[turn], `turn ${turn}`).toBeGreaterThanOrEqual(predictions[turn]! - 1.5);
      expect(ttfts[turn], `turn ${turn}`).toBeLessThanOrEqual(predictions[turn]! + maxLateMs + 1.5);
      // What the cache holds after this turn: its prompt and its answer, as the next turn resends them.
      held = prompt + encode(messages[2 * turn + 1]!.content).length;
    });
    expect(records[0]!.prompt_tokens).toBe(1000);
    expect(records[1]!.cached_tokens).toBeGreaterThan(1000);
    // Turn 2 comes sooner by the prefill of what it no longer prefills: about 100 ms at 100 ms per 1k tokens.
    const predictedSaving = predictions[0]! - predictions[1]!;
    expect(predictedSaving).toBeGreaterThan(90);
    expect(Math.abs(ttfts[0]! - ttfts[1]! - predictedSaving)).toBeLessThanOrEqual(maxLateMs + 3);
  });

  it('with reasoning, the resent answer lacks the reasoning: only the previous prompt is a hit', async () => {
    const { records, seen } = await conversation('reasoning', { reasoning_tokens: 4 }, 2);
    expect(seen[0]!.reasoning).not.toBe('');
    expect(records[1]!.cached_tokens).toBe(predictedCached(records[0]!.prompt_tokens!, records[1]!.prompt_tokens!));
    expect(records[1]!.cached_tokens).toBe(992);
  });

  it('without prefix_cache nothing is cached and usage has no prompt_tokens_details', async () => {
    const { records, seen } = await conversation('off', { prefix_cache: false }, 2);
    expect(records.map((r) => r.cached_tokens)).toEqual([0, 0]);
    expect(seen[1]!.usage.prompt_tokens_details).toBeUndefined();
  });
});
