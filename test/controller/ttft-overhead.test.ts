// The TTFT-overhead join: which records take part, the incremental reader of the ground-truth log (whole lines
// only, never a line twice), the bounded re-flush when a line lags, and the statistics' definition.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GroundTruthReader,
  clientTtfts,
  measureTtftOverhead,
  overheadSamples,
  summarizeOverhead,
} from '../../src/controller/ttft-overhead.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { tempDir } from '../helpers.ts';

function rec(id: string, t0: number, firstContentAt: number | null, o: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id,
    stage: 0,
    phase: 'window',
    worker: 0,
    payload: 0,
    t0,
    headersAt: t0 + 1,
    firstContentAt,
    lastContentAt: firstContentAt,
    end: (firstContentAt ?? t0) + 50,
    gapsMs: [],
    contentChunks: firstContentAt === null ? 0 : 1,
    status: 200,
    ok: firstContentAt !== null,
    errorClass: firstContentAt === null ? 'empty_response' : null,
    error: null,
    errorPhase: null,
    finishReason: 'stop',
    promptTokens: 5,
    outputTokens: 1,
    outputTokensEstimated: false,
    retryAfterS: null,
    ...o,
  };
}

/** A ground-truth line as the simulator writes it (epoch ms). */
const line = (id: string, arrival: number, firstToken: number | null) =>
  JSON.stringify({
    id,
    arrival_ms: arrival,
    headers_ms: arrival + 0.2,
    admitted_ms: arrival + 0.3,
    first_token_ms: firstToken,
    end_ms: arrival + 90,
    prompt_tokens: 5,
    output_tokens: 1,
    max_tokens: 1,
    stream: true,
    fault: null,
    status: 200,
    outcome: 'completed',
  }) + '\n';

/** numpy/R type-7 quantile, written independently of the tool's own code. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.ceil(h)] ?? s[lo]!) - s[lo]!);
}

describe('clientTtfts and overheadSamples', () => {
  it('take successful window requests with a first token only, and subtract the server TTFT of the same id', () => {
    const records = [
      rec('a', 100, 130),
      rec('warm', 0, 25, { phase: 'warmup' }),
      rec('failed', 100, null),
      rec('late-error', 100, 140, { ok: false, errorClass: 'stream_truncated' }),
      rec('b', 200, 260),
      rec('no-line', 300, 320),
    ];
    const client = clientTtfts(records);
    expect([...client]).toEqual([
      ['a', 30],
      ['b', 60],
      ['no-line', 20],
    ]);
    expect(
      overheadSamples(
        client,
        new Map([
          ['a', 28],
          ['b', 59.5],
          ['warm', 1],
        ]),
      ),
    ).toEqual([2, 0.5]);
  });

  it('summarizeOverhead: n, p50 and p99 by the project percentile definition (type 7); nulls without samples', () => {
    const xs = Array.from({ length: 137 }, (_, i) => ((i * 37) % 101) / 7);
    const o = summarizeOverhead(xs);
    expect(o.n).toBe(137);
    expect(o.p50Ms).toBeCloseTo(quantile(xs, 0.5), 12);
    expect(o.p99Ms).toBeCloseTo(quantile(xs, 0.99), 12);
    expect(summarizeOverhead([])).toEqual({ n: 0, p50Ms: null, p99Ms: null });
  });
});

describe('GroundTruthReader', () => {
  it('reads whole new lines only, each once, keeping what it was asked for', async () => {
    const path = join(tempDir('fc-gt-'), 'gt.jsonl');
    writeFileSync(path, line('a', 1000, 1010.5) + line('x', 1000, 1001) + line('b', 2000, 2040).slice(0, 20));
    const reader = await GroundTruthReader.open(path);
    try {
      const wanted = new Map([
        ['a', 0],
        ['b', 0],
        ['c', 0],
      ]);
      const first = new Map<string, number>();
      await reader.readNew(wanted, first);
      // 'b' is torn: left for the next read.
      expect([...first]).toEqual([['a', 10.5]]);
      appendFileSync(path, line('b', 2000, 2040).slice(20) + line('c', 3000, null));
      const second = new Map<string, number>();
      await reader.readNew(wanted, second);
      // 'a' is not read again; 'c' never got a first token.
      expect([...second]).toEqual([['b', 40]]);
      const third = new Map<string, number>();
      await reader.readNew(wanted, third);
      expect(third.size).toBe(0);
    } finally {
      await reader.close();
    }
  });
});

describe('GroundTruthReader on a large stage', () => {
  it('reads a log of several MB in pieces without losing a line at a piece boundary', async () => {
    const path = join(tempDir('fc-gt-'), 'gt.jsonl');
    const n = 12_000;
    writeFileSync(path, Array.from({ length: n }, (_, i) => line(`req-${i}`, i, i + (i % 97) / 8)).join(''));
    const reader = await GroundTruthReader.open(path);
    try {
      const wanted = new Map(Array.from({ length: n }, (_, i) => [`req-${i}`, 0]));
      const got = new Map<string, number>();
      await reader.readNew(wanted, got);
      expect(got.size).toBe(n);
      for (let i = 0; i < n; i += 997) expect(got.get(`req-${i}`)).toBeCloseTo((i % 97) / 8, 9);
    } finally {
      await reader.close();
    }
  });
});

describe('measureTtftOverhead', () => {
  const records = [rec('a', 100, 130), rec('b', 200, 260)];

  it('flushes again (a bounded number of times) while a line is missing', async () => {
    const path = join(tempDir('fc-gt-'), 'gt.jsonl');
    writeFileSync(path, line('a', 1000, 1025));
    const reader = await GroundTruthReader.open(path);
    let flushes = 0;
    try {
      // The line of 'b' lands with the second flush.
      const samples = await measureTtftOverhead(
        records,
        async () => {
          if (++flushes === 2) appendFileSync(path, line('b', 2000, 2059));
          return true;
        },
        reader,
      );
      expect(samples).toEqual([5, 1]);
      expect(flushes).toBe(2);
      // A line that never comes: three flushes, then the requests that could be joined.
      flushes = 0;
      const onlyC = async () => {
        if (flushes++ === 0) appendFileSync(path, line('c', 0, 4));
        return true;
      };
      expect(await measureTtftOverhead([rec('c', 0, 10), rec('d', 0, 10)], onlyC, reader)).toEqual([6]);
      expect(flushes).toBe(3);
    } finally {
      await reader.close();
    }
  });

  it('is null when the simulator cannot flush (stopped or died)', async () => {
    const path = join(tempDir('fc-gt-'), 'gt.jsonl');
    writeFileSync(path, line('a', 1000, 1025) + line('b', 2000, 2059));
    const reader = await GroundTruthReader.open(path);
    try {
      expect(await measureTtftOverhead(records, async () => false, reader)).toBeNull();
    } finally {
      await reader.close();
    }
  });
});
