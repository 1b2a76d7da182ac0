// Prompt tokens are counted with the real tokenizer: the ground truth and usage equal gpt-tokenizer's count.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type GroundTruthRecord, type RunningSimulator } from '../../src/sim/index.ts';
import { textOfTokens } from './prompts.ts';
import { rawChat } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readLog(path: string): Map<string, GroundTruthRecord> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
}

describe('prompt tokens (o200k_base, the default)', () => {
  let sim: RunningSimulator;
  const gtPath = join(dir, 'o200k.jsonl');

  beforeAll(async () => {
    sim = await startSimulator({ preset: 'tiny', groundTruthPath: gtPath, overrides: { step_base_ms: 2 } });
  });
  afterAll(() => sim.stop());

  it.each([128, 1024])('a single user message of %i tokens has exactly that many prompt tokens', async (n) => {
    const content = textOfTokens(n, n);
    expect(o200k(content)).toHaveLength(n);
    const chat = await rawChat(
      sim.baseUrl,
      { messages: [{ role: 'user', content }], stream: true, max_tokens: 2, stream_options: { include_usage: true } },
      { requestId: `chat-${n}` },
    );
    expect(chat.usage?.prompt_tokens).toBe(n);
    const completion = await rawChat(
      sim.baseUrl,
      { prompt: content, max_tokens: 2 },
      { path: '/completions', requestId: `cmpl-${n}` },
    );
    expect(completion.usage?.prompt_tokens).toBe(n);
    expect(await sim.flushGroundTruth()).toBe(true);
    const log = readLog(gtPath);
    expect(log.get(`chat-${n}`)!.prompt_tokens).toBe(n);
    expect(log.get(`cmpl-${n}`)!.prompt_tokens).toBe(n);
  });

  it('several messages and text parts: the sum of their contents, with no per-message overhead', async () => {
    const parts = ['You are terse.', 'Hello there,', ' how are you?', 'Fine.'];
    const messages = [
      { role: 'system', content: parts[0] },
      {
        role: 'user',
        content: [
          { type: 'text', text: parts[1] },
          { type: 'image_url', image_url: { url: 'data:,' } },
          { type: 'text', text: parts[2] },
        ],
      },
      { role: 'assistant', content: null },
      { role: 'assistant', content: parts[3] },
    ];
    const r = await rawChat(sim.baseUrl, { messages, max_tokens: 1 });
    expect(r.status).toBe(200);
    expect(r.usage?.prompt_tokens).toBe(parts.reduce((sum, p) => sum + o200k(p).length, 0));
  });

  it('special-token strings in a prompt are ordinary text', async () => {
    const content = 'end <|endoftext|> here';
    const r = await rawChat(sim.baseUrl, { messages: [{ role: 'user', content }], max_tokens: 1 });
    expect(r.status).toBe(200);
    expect(r.usage?.prompt_tokens).toBe(o200k(content, { disallowedSpecial: new Set() }).length);
  });
});

describe('prompt tokens with tokenizer: cl100k_base', () => {
  it('counts with that encoding', async () => {
    const gtPath = join(dir, 'cl100k.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: gtPath,
      overrides: { tokenizer: 'cl100k_base', step_base_ms: 2 },
    });
    const content = 'Capacité maximale: 1234567 requêtes — 你好，世界！ function f(x) { return x ** 2; }';
    expect(cl100k(content).length).not.toBe(o200k(content).length);
    const r = await rawChat(sim.baseUrl, { messages: [{ role: 'user', content }], max_tokens: 1 }, { requestId: 'cl' });
    await sim.stop();
    expect(r.usage?.prompt_tokens).toBe(cl100k(content).length);
    expect(readLog(gtPath).get('cl')!.prompt_tokens).toBe(cl100k(content).length);
  });
});
