// reasoning_tokens K: the first K output tokens of a chat reply are reasoning_content, the rest content.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type GroundTruthRecord, type RunningSimulator } from '../../src/sim/index.ts';
import { rawChat } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-reasoning-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const messages = [{ role: 'user' as const, content: 'Think first, then answer.' }];
type ReasoningDelta = { content?: string | null; reasoning_content?: string };

describe('reasoning_tokens', () => {
  let sim: RunningSimulator;
  let openai: OpenAI;
  const gtPath = join(dir, 'gt.jsonl');

  beforeAll(async () => {
    sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: gtPath,
      overrides: { reasoning_tokens: 3, step_base_ms: 3, step_per_seq_ms: 0 },
    });
    openai = new OpenAI({ baseURL: sim.baseUrl, apiKey: 'test', maxRetries: 0 });
  });
  afterAll(() => sim.stop());

  async function deltas(maxTokens: number, requestId: string) {
    const stream = await openai.chat.completions.create(
      { model: 'm', messages, stream: true, max_tokens: maxTokens, stream_options: { include_usage: true } },
      { headers: { 'x-request-id': requestId } },
    );
    const kinds: ('reasoning' | 'content')[] = [];
    let usage: unknown = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as ReasoningDelta | undefined;
      if (delta?.reasoning_content) kinds.push('reasoning');
      if (delta?.content) kinds.push('content');
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    return { kinds, usage, finish };
  }

  it('streams K reasoning deltas, then content; completion_tokens counts both', async () => {
    const r = await deltas(8, 'r-8');
    expect(r.kinds).toEqual([...Array(3).fill('reasoning'), ...Array(5).fill('content')]);
    expect(r.finish).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 8, completion_tokens_details: { reasoning_tokens: 3 } });
    const raw = await rawChat(sim.baseUrl, { messages, stream: true, max_tokens: 5 });
    expect(raw.reasoning).toBe('The simulated model');
    expect(raw.content).toBe(' writes one');
  });

  it('when max_tokens <= K every token is reasoning', async () => {
    const r = await deltas(2, 'r-2');
    expect(r.kinds).toEqual(['reasoning', 'reasoning']);
    expect(r.finish).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 2, completion_tokens_details: { reasoning_tokens: 2 } });
  });

  it('without streaming: message.reasoning_content and content', async () => {
    const r = await openai.chat.completions.create({ model: 'm', messages, max_tokens: 6 });
    const message = r.choices[0]!.message as (typeof r.choices)[0]['message'] & { reasoning_content?: string };
    expect(message.reasoning_content).toBe('The simulated model');
    expect(message.content).toBe(' writes one word');
    expect(r.usage).toMatchObject({ completion_tokens: 6, completion_tokens_details: { reasoning_tokens: 3 } });
  });

  it('the ground truth counts reasoning in output_tokens; first_token_ms is the first reasoning token', async () => {
    const client = await rawChat(sim.baseUrl, { messages, stream: true, max_tokens: 8 }, { requestId: 'r-gt' });
    expect(await sim.flushGroundTruth()).toBe(true);
    const lines = readFileSync(gtPath, 'utf8').trim().split('\n');
    const log = new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
    expect(log.get('r-8')).toMatchObject({ output_tokens: 8, reasoning_tokens: 3, outcome: 'completed' });
    expect(log.get('r-2')).toMatchObject({ output_tokens: 2, reasoning_tokens: 2 });
    const server = log.get('r-gt')!;
    expect(server).toMatchObject({ output_tokens: 8, reasoning_tokens: 3 });
    expect(client.firstReasoningAtMs!).toBeGreaterThanOrEqual(server.first_token_ms! - server.arrival_ms);
    // Content starts K steps after the first token.
    expect(client.firstContentAtMs!).toBeGreaterThan(client.firstReasoningAtMs!);
  });
});
