// Legacy completions (/v1/completions) over real HTTP: the same engine, faults and ground truth as chat.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_TYPES } from '../../src/sim/config.ts';
import { startSimulator, type GroundTruthRecord, type RunningSimulator } from '../../src/sim/index.ts';
import { classify, pool, rawChat } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-cmpl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readLog(path: string): Map<string, GroundTruthRecord> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
}

const prompt = 'Once upon a time, a simulator';

describe('/v1/completions', () => {
  let sim: RunningSimulator;
  let openai: OpenAI;
  const gtPath = join(dir, 'gt.jsonl');

  beforeAll(async () => {
    sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: gtPath,
      overrides: { step_base_ms: 3, step_per_seq_ms: 0, reasoning_tokens: 2 },
    });
    openai = new OpenAI({ baseURL: sim.baseUrl, apiKey: 'test', maxRetries: 0 });
  });
  afterAll(() => sim.stop());

  it('streams text_completion chunks with choices[0].text, then finish_reason, usage and [DONE]', async () => {
    const stream = await openai.completions.create({
      model: 'm',
      prompt,
      stream: true,
      max_tokens: 5,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'text_completion' && c.model === 'm')).toBe(true);
    // No role chunk: the first chunk carries the first token; reasoning_tokens applies to chat only.
    const texts = chunks.filter((c) => c.choices[0]?.text);
    expect(texts).toHaveLength(5);
    expect(chunks[0]).toBe(texts[0]);
    expect(texts.map((c) => c.choices[0]!.text).join('')).toBe('The simulated model writes one');
    expect(chunks.at(-2)!.choices[0]).toMatchObject({ text: '', finish_reason: 'length' });
    const n = encode(prompt).length;
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: n, completion_tokens: 5, total_tokens: n + 5 });
    const raw = await rawChat(sim.baseUrl, { prompt, stream: true, max_tokens: 2 }, { path: '/completions' });
    expect(raw.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(raw.events.at(-1)).toBe('[DONE]');
    expect(raw.contentTokens).toBe(2);
  });

  it('answers a text_completion object without streaming; prompt may be an array of one string', async () => {
    const r = await openai.completions.create({ model: 'm', prompt: [prompt], max_tokens: 4 });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]).toMatchObject({ index: 0, text: 'The simulated model writes', finish_reason: 'length' });
    const n = encode(prompt).length;
    expect(r.usage).toEqual({ prompt_tokens: n, completion_tokens: 4, total_tokens: n + 4 });
    const dflt = await openai.completions.create({ model: 'm', prompt });
    expect(dflt.usage?.completion_tokens).toBe(16);
    expect(dflt.choices[0]!.finish_reason).toBe('stop');
  });

  it.each([
    ['no prompt', { model: 'm' }, 'missing_required_parameter'],
    ['two prompts', { prompt: ['a', 'b'] }, 'unsupported_value'],
    ['token ids', { prompt: [1, 2, 3] }, 'unsupported_value'],
    ['a number', { prompt: 5 }, 'invalid_type'],
    ['best_of 2', { prompt: 'a', best_of: 2 }, 'unsupported_value'],
  ])('rejects %s with a 400', async (_what, body, code) => {
    const r = await rawChat(sim.baseUrl, body, { path: '/completions' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: { type: 'invalid_request_error', code } });
  });

  it('TTFT is at the first text: the client reads it no earlier than the server emitted it', async () => {
    const results = await pool(8, 4, (i) =>
      rawChat(
        sim.baseUrl,
        { prompt: `${prompt} ${i}`, stream: true, max_tokens: 6 },
        { path: '/completions', requestId: `ttft-${i}` },
      ),
    );
    expect(await sim.flushGroundTruth()).toBe(true);
    const log = readLog(gtPath);
    results.forEach((client, i) => {
      const server = log.get(`ttft-${i}`)!;
      expect(server).toMatchObject({ outcome: 'completed', output_tokens: 6, reasoning_tokens: 0, stream: true });
      expect(server.prompt_tokens).toBe(encode(`${prompt} ${i}`).length);
      // The first event is the first text: headers went out on arrival, before any token.
      expect(JSON.parse(client.events[0]!)).toMatchObject({ choices: [{ text: 'The' }] });
      expect(client.firstContentAtMs!).toBeGreaterThanOrEqual(server.first_token_ms! - server.arrival_ms);
      expect(server.first_token_ms!).toBeGreaterThan(server.admitted_ms!);
    });
  });
});

describe('/v1/completions faults', () => {
  it('are drawn, shown and logged as for chat', async () => {
    const path = join(dir, 'faults.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: { ...Object.fromEntries(FAULT_TYPES.map((f) => [f, 0.08])), step_base_ms: 3, seed: 5 },
    });
    const n = 80;
    const results = await pool(n, 8, (i) =>
      rawChat(
        sim.baseUrl,
        { prompt: `request ${i}`, stream: i % 2 === 0, max_tokens: 6 },
        { path: '/completions', requestId: `f-${i}`, idleTimeoutMs: 1000 },
      ),
    );
    await sim.stop();
    const log = readLog(path);
    expect(log.size).toBe(n);
    const seen = new Set<string>();
    results.forEach((client, i) => {
      const server = log.get(`f-${i}`)!;
      expect(server.fault, `f-${i}`).toBe(classify(client));
      if (server.fault) seen.add(server.fault);
      expect(server.prompt_tokens).toBe(encode(`request ${i}`).length);
      if (server.stream) expect(server.output_tokens, `f-${i}`).toBe(client.contentTokens);
    });
    expect(seen.size).toBeGreaterThanOrEqual(6);
  });
});
