// The payload source alone: what each request of a slot sends. Synthetic prompts are exact and fresh per request;
// conversations resend the history with the answers the transport handed back, start over after a failure, and
// pause for the think time only between turns.
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { singleTokenWords, tokenCounter } from '../../src/controller/tokens.ts';
import { createPayloadSource, drawLength, type PayloadSpec } from '../../src/load/payload-source.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { mulberry32 } from '../../src/util/prng.ts';

const ok = { ok: true } as RequestRecord;
const failed = { ok: false } as RequestRecord;
const source = (spec: PayloadSpec, endpoint: 'chat' | 'completions' = 'chat', payloadCount = 0) =>
  createPayloadSource(spec, { payloadCount, endpoint, rng: mulberry32(9) });
type Messages = { role: string; content: string }[];

describe('synthetic prompts', () => {
  it('are exactly N tokens, fresh per request, with the shared prefix, and the same for the same seed', async () => {
    const words = singleTokenWords(await tokenCounter('o200k_base'));
    const spec: PayloadSpec = {
      kind: 'synthetic',
      synthetic: {
        words,
        prefix: 'shared system prompt',
        inputTokens: { mean: 64, stddev: 0, min: 64, max: 64 },
        outputTokens: { mean: 10, stddev: 3, min: 5, max: 12 },
      },
    };
    const a = source(spec);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const next = a.next(0);
      expect(next).toMatchObject({ payload: i, turn: 1 });
      const fields = next.body!.fields as { messages: Messages; max_tokens: number };
      expect(fields.messages[0]).toEqual({ role: 'system', content: 'shared system prompt' });
      expect(encode(fields.messages[1]!.content)).toHaveLength(64);
      expect(fields.max_tokens).toBeGreaterThanOrEqual(5);
      expect(fields.max_tokens).toBeLessThanOrEqual(12);
      seen.add(fields.messages[1]!.content);
    }
    expect(seen.size).toBe(50);
    expect(source(spec).next(0)).toEqual(source(spec).next(0));
    // Completions: one prompt, the prefix then the text, still exact.
    const prompt = (source(spec, 'completions').next(0).body!.fields as { prompt: string }).prompt;
    expect(encode(prompt)).toHaveLength(encode('shared system prompt').length + 64);
  });

  it('draws lengths from a clamped normal distribution; N is always N', () => {
    const rng = mulberry32(1);
    const xs = Array.from({ length: 4000 }, () => drawLength({ mean: 100, stddev: 20, min: 70, max: 200 }, rng));
    expect(Math.min(...xs)).toBe(70);
    expect(Math.max(...xs)).toBeLessThan(200);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(98);
    expect(mean).toBeLessThan(104);
    expect(drawLength({ mean: 7, stddev: 0, min: 7, max: 7 }, rng)).toBe(7);
  });
});

describe('conversations', () => {
  const scripts: PayloadSpec = {
    kind: 'scripts',
    thinkTimeMs: 250,
    scripts: [
      [
        {
          messages: [
            { role: 'system', content: 'S' },
            { role: 'user', content: 'q1' },
          ],
          maxTokens: 5,
        },
        { messages: [{ role: 'user', content: 'q2' }], maxTokens: null },
        { messages: [{ role: 'user', content: 'q3' }], maxTokens: 7 },
      ],
    ],
  };

  it('each turn sends the history with the answers read, then the next turn; the think time only between turns', () => {
    const s = source(scripts);
    expect(s.pauseMs(3)).toBe(0);
    const t1 = s.next(3);
    expect(t1).toMatchObject({ payload: 0, turn: 1 });
    expect(t1.body!.fields).toEqual({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'q1' },
      ],
      max_tokens: 5,
    });
    t1.body!.onAnswer!('a1');
    s.ended(3, ok);
    expect(s.pauseMs(3)).toBe(250);
    // Another slot has its own conversation.
    expect(s.next(4)).toMatchObject({ turn: 1 });
    const t2 = s.next(3);
    expect(t2.turn).toBe(2);
    expect(t2.body!.fields).toEqual({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
    });
    t2.body!.onAnswer!('a2');
    s.ended(3, ok);
    const t3 = s.next(3);
    expect(t3.turn).toBe(3);
    expect((t3.body!.fields as { messages: Messages }).messages.map((m) => m.content)).toEqual([
      'S',
      'q1',
      'a1',
      'q2',
      'a2',
      'q3',
    ]);
    t3.body!.onAnswer!('a3');
    s.ended(3, ok);
    // The conversation is over: a new one starts, without a pause.
    expect(s.pauseMs(3)).toBe(0);
    expect(s.next(3).turn).toBe(1);
  });

  it('a turn not sent is sent again; a failed turn starts a new conversation', () => {
    const s = source(scripts);
    s.next(0).body!.onAnswer!('a1');
    s.ended(0, ok);
    // Built but never sent (the stage stopped): the same turn next time.
    expect(s.next(0).turn).toBe(2);
    const again = s.next(0);
    expect(again.turn).toBe(2);
    s.ended(0, failed);
    expect(s.pauseMs(0)).toBe(0);
    expect(s.next(0).turn).toBe(1);
  });

  it('synthetic conversations: N turns of fresh user messages, the prefix once at the start', async () => {
    const words = singleTokenWords(await tokenCounter('o200k_base'));
    const s = source({
      kind: 'synthetic-conversations',
      turns: 2,
      thinkTimeMs: 0,
      synthetic: { words, prefix: 'P', inputTokens: { mean: 20, stddev: 0, min: 20, max: 20 }, outputTokens: null },
    });
    const t1 = s.next(0);
    const m1 = (t1.body!.fields as { messages: Messages }).messages;
    expect(m1.map((m) => m.role)).toEqual(['system', 'user']);
    t1.body!.onAnswer!('answer');
    s.ended(0, ok);
    const m2 = (s.next(0).body!.fields as { messages: Messages }).messages;
    expect(m2.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(encode(m2[3]!.content)).toHaveLength(20);
    expect(m2[3]!.content).not.toBe(m2[1]!.content);
  });

  it('plays every recorded conversation once before any repeats', () => {
    const many: PayloadSpec = {
      kind: 'scripts',
      thinkTimeMs: 0,
      scripts: Array.from({ length: 5 }, (_, i) => [
        { messages: [{ role: 'user', content: `c${i}` }], maxTokens: null },
      ]),
    };
    const s = source(many);
    const played: number[] = [];
    for (let i = 0; i < 10; i++) {
      const n = s.next(0);
      n.body!.onAnswer!('x');
      s.ended(0, ok);
      played.push(n.payload);
    }
    expect([...played.slice(0, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...played.slice(5)].sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
