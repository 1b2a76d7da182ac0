// The SSE scanner and ChunkShape, the pieces of the transport's fast path that replace per-chunk work:
// the scanner must give the same payloads however the text is split; ChunkShape must never disagree with
// parseDataPayload (JSON.parse) on any payload it claims to recognise.
import { describe, expect, it } from 'vitest';
import { ChunkShape, SseScanner, parseDataPayload } from '../../src/load/sse.ts';
import { mulberry32 } from '../../src/util/prng.ts';

function scanAll(parts: string[]): string[] {
  const out: string[] = [];
  const s = new SseScanner((text, from, to) => {
    const d = text.slice(from, to);
    out.push(d);
    return false;
  });
  for (const p of parts) s.push(p);
  s.flush();
  return out;
}

/** A chat.completion.chunk payload; `extra` goes inside the delta, after the content. */
const chunk = (content: string, extra = '') =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795883397,"model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}${extra}},"finish_reason":null}]}`;

describe('SseScanner', () => {
  const text =
    ': keep-alive comment\r\n' +
    'event: message\r\nid: 7\r\n' +
    `data: ${chunk('Hello')}\r\n\r\n` +
    `data:${chunk(' wörld 🎉')}\n\n` +
    'data: {"a":\ndata: 1}\n\n' +
    'data:\n\n' +
    'retry: 10\n\n\n' +
    'data: [DONE]';
  const expected = [chunk('Hello'), chunk(' wörld 🎉'), '{"a":\n1}', '', '[DONE]'];

  it('reads data fields, joins multi-line data, ignores comments and other fields, flushes a last event without its blank line', () => {
    expect(scanAll([text])).toEqual(expected);
  });

  it('gives the same payloads for every split of the text into two and into single characters', () => {
    for (let i = 0; i <= text.length; i++)
      expect(scanAll([text.slice(0, i), text.slice(i)]), `split at ${i}`).toEqual(expected);
    expect(scanAll([...text])).toEqual(expected);
  });

  it('stops when the callback says so, and ignores the rest of that text', () => {
    const seen: string[] = [];
    const s = new SseScanner((text, from, to) => {
      const d = text.slice(from, to);
      seen.push(d);
      return d === 'b';
    });
    expect(s.push('data: a\n\ndata: b\n\ndata: c\n\n')).toBe(true);
    expect(seen).toEqual(['a', 'b']);
  });

  it('turns a line over 1 MiB into one malformed payload instead of buffering forever', () => {
    const seen: string[] = [];
    const s = new SseScanner((text, from, to) => {
      const d = text.slice(from, to);
      seen.push(d);
      return false;
    });
    s.push('data: ' + 'x'.repeat((1 << 20) + 10));
    expect(seen).toHaveLength(1);
    expect(parseDataPayload(seen[0]!).kind).toBe('malformed');
  });
});

describe('ChunkShape', () => {
  it('learns a plain content chunk and recognises chunks that differ only in their content string', () => {
    const shape = new ChunkShape();
    expect(shape.learn(chunk('Hello'))).toBe(true);
    expect(shape.match(chunk(' world'))).toBe(1);
    expect(shape.match(chunk(''))).toBe(0);
    expect(shape.match(chunk('line\nbreak "quoted" \\ back\\slash é 🎉 \u0001'))).toBe(1);
    expect(shape.match(chunk('x').replace('"finish_reason":null', '"finish_reason":"stop"'))).toBe(-1);
    expect(shape.match(chunk('x').replace('chatcmpl-1', 'chatcmpl-2'))).toBe(-1);
  });

  it('refuses what it cannot prove: reasoning fields, a content string found twice, finish_reason, usage, non-chunks', () => {
    expect(new ChunkShape().learn(chunk('x', ',"reasoning_content":"think"'))).toBe(false);
    expect(new ChunkShape().learn(chunk('m'))).toBe(false);
    expect(new ChunkShape().learn(chunk('x').replace('"finish_reason":null', '"finish_reason":"stop"'))).toBe(false);
    expect(new ChunkShape().learn(chunk('x').replace(/}$/, ',"usage":{"completion_tokens":1}}'))).toBe(false);
    expect(new ChunkShape().learn(chunk(''))).toBe(false);
    expect(new ChunkShape().learn('{not json')).toBe(false);
    expect(new ChunkShape().learn('[DONE]')).toBe(false);
    expect(new ChunkShape().match(chunk('x'))).toBe(-1);
  });

  it('follows JSON.parse on duplicate keys (the last one wins)', () => {
    const dup = '{"choices":[{"delta":{"content":"a","content":"zz"},"finish_reason":null}]}';
    const shape = new ChunkShape();
    expect(shape.learn(dup)).toBe(true);
    expect(shape.match(dup.replace('"zz"', '""'))).toBe(0);
    expect(parseDataPayload(dup.replace('"zz"', '""'))).toMatchObject({ kind: 'chunk', answer: false });
  });

  it('never disagrees with parseDataPayload on 20,000 random mutations of a learned chunk', () => {
    const rand = mulberry32(42);
    const alphabet = [
      '"',
      '\\',
      'u',
      '0',
      'a',
      'F',
      '}',
      ']',
      '{',
      ',',
      ':',
      ' ',
      '\t',
      'n',
      '\u0000',
      'é',
      '🎉',
      'null',
      '"stop"',
      '\\u00',
      '\\n',
    ];
    const learned = [chunk(' tok'), `{"choices":[{"delta":{"content":"x"}}]}`, chunk('a', ',"reasoning_content":""')];
    let recognised = 0;
    for (const base of learned) {
      const shape = new ChunkShape();
      expect(shape.learn(base), base).toBe(true);
      for (let i = 0; i < 20_000 / learned.length; i++) {
        let s = base;
        const edits = 1 + Math.floor(rand() * 3);
        for (let e = 0; e < edits; e++) {
          // Half of the edits near the content string, where the shape can still match.
          const c = s.indexOf('"content":"') + 11;
          const at = rand() < 0.5 ? Math.max(0, c - 2 + Math.floor(rand() * 8)) : Math.floor(rand() * (s.length + 1));
          const r = rand();
          const ins = alphabet[Math.floor(rand() * alphabet.length)]!;
          s =
            r < 0.4
              ? s.slice(0, at) + ins + s.slice(at)
              : r < 0.7
                ? s.slice(0, at) + s.slice(at + 1)
                : s.slice(0, at) + ins + s.slice(at + 1);
        }
        const m = shape.match(s);
        // As the scanner hands it: a range of a longer text, which must read exactly as the payload alone.
        expect(shape.match(`data: ${s}\n\n`, 6, 6 + s.length), s).toBe(m);
        if (m < 0) continue;
        recognised++;
        const ev = parseDataPayload(s);
        const text =
          m === 1 ? (JSON.parse(s) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content : null;
        expect(ev, s).toEqual({
          kind: 'chunk',
          answer: m === 1,
          reasoning: false,
          finishReason: null,
          usage: null,
          text,
        });
      }
    }
    // The mutations inside the content string are recognised, so the property is exercised.
    expect(recognised).toBeGreaterThan(500);
  });
});
