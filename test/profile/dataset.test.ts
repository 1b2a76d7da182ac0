// Datasets: JSON Lines or one JSON array, records in three formats, the prompt a single-turn request sends, the
// turns of a conversation, limit and seed, max_tokens: dataset. A broken dataset stops the run before any request.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/errors.ts';
import { parseRecord, singleTurnOf, splitDataset, turnsOf, type DatasetRecord } from '../../src/profile/dataset.ts';
import { loadProfile, validateProfileText } from '../../src/profile/load.ts';
import { startSimulator } from '../../src/sim/index.ts';
import { runCli, tempDir, writeProfile } from '../helpers.ts';

const sg = (...turns: [string, string][]) => ({ conversations: turns.map(([from, value]) => ({ from, value })) });

describe('splitDataset and parseRecord', () => {
  it('reads JSON Lines and JSON arrays, each value with the line it starts on', () => {
    expect(splitDataset('"a"\n\n{"prompt": "b"}\n').items).toEqual([
      { line: 1, value: 'a' },
      { line: 3, value: { prompt: 'b' } },
    ]);
    const array = '[\n  "a",\n  {\n    "prompt": "b"\n  }, ["x"]\n]';
    expect(splitDataset(array).items.map((i) => i.line)).toEqual([2, 3, 5]);
    // A file of one line holding one messages list is JSON Lines (a prompts_file of one payload), not a JSON array.
    const one = '[{"role": "user", "content": "hi"}]';
    expect(splitDataset(one).items).toEqual([{ line: 1, value: [{ role: 'user', content: 'hi' }] }]);
  });

  it('auto reads each record by its shape; each format has its prompt and its recorded reply', () => {
    const rec = (value: unknown) => parseRecord({ line: 1, value }, 'auto');
    const share = rec(sg(['system', 'Be brief.'], ['human', 'Q1'], ['gpt', 'A1'], ['human', 'Q2'], ['gpt', 'A2']));
    expect(share).toMatchObject({ format: 'sharegpt' });
    expect(singleTurnOf(share as never)).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Q1' },
      ],
      reply: 'A1',
    });
    expect(turnsOf((share as DatasetRecord).messages).map((t) => t.reply)).toEqual(['A1', 'A2']);
    const messages = rec({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    });
    expect(singleTurnOf(messages as never)).toEqual({ messages: [{ role: 'user', content: 'hi' }], reply: 'hello' });
    expect(singleTurnOf(rec({ prompt: 'P', completion: 'C' }) as never)).toEqual({
      messages: [{ role: 'user', content: 'P' }],
      reply: 'C',
    });
    expect(singleTurnOf(rec('just text') as never)).toEqual({
      messages: [{ role: 'user', content: 'just text' }],
      reply: null,
    });
    expect(rec({ text: 'x' })).toBe('is an object without a "messages", "conversations" (ShareGPT) or "prompt" field');
    expect(rec(sg(['gpt', 'hello']))).toBe('has no human turn (nothing to send)');
    expect(parseRecord({ line: 1, value: { messages: [] } }, 'sharegpt')).toMatch(/must be a ShareGPT record/);
  });
});

describe('request.dataset in a profile', () => {
  const profile = (dir: string, request: string) =>
    writeProfile(
      dir,
      'p.yaml',
      `target: {simulator: {preset: tiny}}
request:
${request}
ramp: {concurrency: [1]}
slo: ["p99(ttft) < 1s"]
`,
    );

  it('max_tokens: dataset keeps the replies and leaves out records without one, with a warning; limit and seed', async () => {
    const dir = tempDir('fc-dataset-');
    const lines = [
      sg(['human', 'one'], ['gpt', 'first reply']),
      sg(['human', 'two']),
      sg(['human', 'three'], ['gpt', 'third reply']),
      sg(['human', 'four'], ['gpt', 'fourth reply']),
    ];
    writeFileSync(join(dir, 'd.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    const { profile: all, warnings } = await loadProfile(profile(dir, '  dataset: d.jsonl\n  max_tokens: dataset'), {
      env: {},
    });
    expect(all.request.payloads.map((p) => p.reply)).toEqual(['first reply', 'third reply', 'fourth reply']);
    expect(all.request.maxTokens).toBeNull();
    expect(all.request.maxTokensFromDataset).toBe(true);
    expect(warnings.map(formatProblem)).toEqual([
      expect.stringMatching(/request\.dataset\.path: 1 of 4 records of d\.jsonl are left out: no recorded reply/),
    ]);
    const limited = await loadProfile(profile(dir, '  dataset: {path: d.jsonl, limit: 2, seed: 3}'), { env: {} });
    const again = await loadProfile(profile(dir, '  dataset: {path: d.jsonl, limit: 2, seed: 3}'), { env: {} });
    expect(limited.profile.request.payloads).toHaveLength(2);
    expect(limited.profile.request.payloads).toEqual(again.profile.request.payloads);
    const first = await loadProfile(profile(dir, '  dataset: {path: d.jsonl, limit: 2}'), { env: {} });
    expect(first.profile.request.payloads.map((p) => p.messages[0]!.content)).toEqual(['one', 'two']);
  });

  it('conversation turns: at most N per record; with max_tokens: dataset, up to the first turn without a reply', async () => {
    const dir = tempDir('fc-dataset-');
    const rec = sg(['human', 'q1'], ['gpt', 'a1'], ['human', 'q2'], ['gpt', 'a2'], ['human', 'q3']);
    writeFileSync(join(dir, 'd.jsonl'), JSON.stringify(rec));
    const two = await loadProfile(profile(dir, '  dataset: d.jsonl\n  conversation: {turns: 2}'), { env: {} });
    expect(two.profile.request.payloads[0]!.turns!.map((t) => t.messages[0]!.content)).toEqual(['q1', 'q2']);
    const answered = await loadProfile(
      profile(dir, '  dataset: d.jsonl\n  conversation: {turns: dataset, think_time: 2s}\n  max_tokens: dataset'),
      { env: {} },
    );
    expect(answered.profile.request.payloads[0]!.turns).toEqual([
      { messages: [{ role: 'user', content: 'q1' }], reply: 'a1' },
      { messages: [{ role: 'user', content: 'q2' }], reply: 'a2' },
    ]);
    expect(answered.profile.request.conversation).toEqual({ turns: 'dataset', thinkTimeMs: 2000 });
  });

  it('prompts_file is request.dataset with format auto', async () => {
    const text = readFileSync('test/fixtures/profiles/good/prompts.yaml', 'utf8');
    const { profile } = await validateProfileText(text, 'test/fixtures/profiles/good/prompts.yaml', {});
    expect(profile!.request.dataset).toEqual({
      path: 'prompts.jsonl',
      format: 'auto',
      limit: null,
      seed: null,
      tokenizer: 'o200k_base',
    });
  });

  it('a broken dataset is an error of the profile, and nothing is sent', async () => {
    const dir = tempDir('fc-dataset-');
    const gt = join(dir, 'gt.jsonl');
    const sim = await startSimulator({ preset: 'tiny', groundTruthPath: gt });
    try {
      writeFileSync(
        join(dir, 'd.jsonl'),
        `${JSON.stringify(sg(['human', 'fine']))}\n${JSON.stringify(sg(['gpt', 'no human']))}\n`,
      );
      const file = writeProfile(
        dir,
        'p.yaml',
        `target: {base_url: "${sim.baseUrl}", model: sim-llm}
request:
  dataset: {path: d.jsonl, format: sharegpt}
ramp: {concurrency: [1], stage: {requests: 5}}
slo: ["p99(ttft) < 1s"]
`,
      );
      const r = await runCli([file, '--out', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/d\.jsonl:2:1 request\.dataset\.path: line 2 of .*d\.jsonl has no human turn/);
    } finally {
      await sim.stop();
    }
    expect(readFileSync(gt, 'utf8')).toBe('');
  });
});
