// Reasoning and answer tokens through the fast path: a ChunkShape learned from one kind must never read a chunk of
// the other kind as its own, and a whole stream read with shapes gives the same record as one read by JSON.parse
// alone, with TTFT at the first token of either kind and TTFO at the first answer token.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBody } from '../../src/load/body-reader.ts';
import { RecordFold } from '../../src/load/record-fold.ts';
import { ChunkShape, parseDataPayload } from '../../src/load/sse.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import type { Clock } from '../../src/util/clock.ts';

const HEAD =
  '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795883397,"model":"m","choices":[{"index":0,';
/** A chat chunk whose delta is `delta` (JSON text). */
const chat = (delta: string) => `${HEAD}"delta":${delta},"finish_reason":null}]}`;
const q = (s: string) => JSON.stringify(s);

/** The delta layouts servers use for the two kinds (the simulator's, vLLM's with nulls, empty strings, `reasoning`). */
const LAYOUTS: { name: string; answer: (s: string) => string; reasoning: (s: string) => string }[] = [
  { name: 'simulator', answer: (s) => `{"content":${q(s)}}`, reasoning: (s) => `{"reasoning_content":${q(s)}}` },
  {
    name: 'nulls',
    answer: (s) => `{"content":${q(s)},"reasoning_content":null}`,
    reasoning: (s) => `{"content":null,"reasoning_content":${q(s)}}`,
  },
  {
    name: 'empty strings',
    answer: (s) => `{"reasoning_content":"","content":${q(s)}}`,
    reasoning: (s) => `{"reasoning_content":${q(s)},"content":""}`,
  },
  {
    name: 'reasoning field',
    answer: (s) => `{"role":"assistant","content":${q(s)},"reasoning":null}`,
    reasoning: (s) => `{"role":"assistant","content":null,"reasoning":${q(s)}}`,
  },
];

describe('ChunkShape with reasoning', () => {
  for (const l of LAYOUTS) {
    it(`${l.name}: an answer shape never matches a reasoning chunk, nor a reasoning shape an answer chunk`, () => {
      const answer = new ChunkShape();
      expect(answer.learn(chat(l.answer('Hello')))).toBe(true);
      expect(answer.reasoning).toBe(false);
      const reasoning = new ChunkShape();
      expect(reasoning.learn(chat(l.reasoning('Hmm')))).toBe(true);
      expect(reasoning.reasoning).toBe(true);
      for (const word of [' world', 'x', 'line\nbreak', '"q"', 'é🎉']) {
        expect(answer.match(chat(l.answer(word)))).toBe(1);
        expect(answer.match(chat(l.reasoning(word)))).toBe(-1);
        expect(reasoning.match(chat(l.reasoning(word)))).toBe(1);
        expect(reasoning.match(chat(l.answer(word)))).toBe(-1);
      }
    });
  }

  it('refuses a chunk that carries both kinds, and learns legacy completions text', () => {
    expect(new ChunkShape().learn(chat('{"content":"a","reasoning_content":"b"}'))).toBe(false);
    const text = (s: string) =>
      `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":${q(s)},"logprobs":null,"finish_reason":null}]}`;
    const shape = new ChunkShape();
    expect(shape.learn(text('The'))).toBe(true);
    expect(shape.reasoning).toBe(false);
    expect(shape.match(text(' next'))).toBe(1);
    expect(parseDataPayload(text(' next'))).toMatchObject({ kind: 'chunk', answer: true, text: ' next' });
  });

  it('never disagrees with parseDataPayload on 10,000 random mutations of a learned reasoning chunk', () => {
    const rand = mulberry32(7);
    const alphabet = ['"', '\\', 'u', '0', 'a', '}', ',', ':', ' ', 'null', '"x"', 'content', '\\n', 'é'];
    let recognised = 0;
    for (const l of LAYOUTS) {
      const base = chat(l.reasoning('think'));
      const shape = new ChunkShape();
      expect(shape.learn(base)).toBe(true);
      for (let i = 0; i < 10_000 / LAYOUTS.length; i++) {
        let s = base;
        const near = s.indexOf('"think"');
        const at = rand() < 0.6 ? Math.max(0, near - 3 + Math.floor(rand() * 10)) : Math.floor(rand() * s.length);
        const ins = alphabet[Math.floor(rand() * alphabet.length)]!;
        s = rand() < 0.5 ? s.slice(0, at) + ins + s.slice(at) : s.slice(0, at) + ins + s.slice(at + 1);
        const m = shape.match(s);
        if (m < 0) continue;
        recognised++;
        const ev = parseDataPayload(s);
        expect(ev, s).toMatchObject({
          kind: 'chunk',
          answer: false,
          reasoning: m === 1,
          finishReason: null,
          usage: null,
        });
      }
    }
    expect(recognised).toBeGreaterThan(500);
  });
});

/** A clock 10 ms later at each reading: the body reader reads it once per read of the body. */
function steppedClock(): Clock {
  let at = 0;
  const timer = { unref: () => timer };
  return { now: () => (at += 10), setTimeout: () => timer, setInterval: () => timer, clear: () => {} };
}

/** Reads `events` (one per read, 10 ms apart from t = 10) through readBody; returns the finished record. */
async function readEvents(events: string[], shapes: boolean, keepAnswer = false) {
  const clock = steppedClock();
  const fold = new RecordFold({ id: 'r', stage: 0, phase: 'window', worker: 0, payload: 0, t0: 0 }, (s) => s, {
    keepAnswer,
  });
  fold.headers(5, 200);
  let i = 0;
  const node = new Readable({
    read() {
      if (i < events.length) this.push(`data: ${events[i++]}\n\n`);
      else this.push(null);
    },
  });
  await readBody({ status: 200, wire: null, node, web: null }, fold, clock, true, shapes);
  return { rec: fold.finish(), answer: fold.answer?.join('') ?? null };
}

describe('a reasoning stream read with chunk shapes', () => {
  for (const l of LAYOUTS) {
    it(`${l.name}: the same record as without shapes; TTFT at the first reasoning token, TTFO at the first answer`, async () => {
      const k = 12;
      const n = 30;
      const events = [
        chat('{"role":"assistant","content":""}'),
        ...Array.from({ length: n }, (_, i) => chat(i < k ? l.reasoning(` r${i}`) : l.answer(` a${i}`))),
        `${HEAD}"delta":{},"finish_reason":"length"}]}`,
        '{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":12}}}',
        '[DONE]',
      ];
      const fast = await readEvents(events, true);
      const slow = await readEvents(events, false);
      expect(fast.rec).toEqual(slow.rec);
      // Event i (0-based) is read at 10 × (i + 1); the first token is event 1.
      expect(fast.rec).toMatchObject({
        ok: true,
        firstContentAt: 20,
        firstReasoningAt: 20,
        firstOutputAt: 10 * (k + 2),
        contentChunks: n,
        reasoningTokens: k,
        outputTokens: n,
      });
      // Kept only when asked: the answer alone, without the reasoning.
      expect(fast.answer).toBeNull();
      const kept = await readEvents(events, true, true);
      expect(kept.answer).toBe(Array.from({ length: n - k }, (_, i) => ` a${k + i}`).join(''));
      expect(kept.rec).toEqual(slow.rec);
    });
  }
});
