// The bench's own arithmetic: each tool run paired with the floor run before it, both TTFT-overhead p99s side by side
// (difference and ratio), the medians the targets are judged on, and the tail's attribution to GC pauses.
import { describe, expect, it } from 'vitest';
import { formatPairs, pairedPoints, tailAttribution, targetLines, type Row } from '../../bench/tables.ts';

const row = (client: 'ref' | 'tool', concurrency: number, cpuUsPerChunk: number, p99: number): Row =>
  ({
    client,
    concurrency,
    workers: 1,
    itlMs: 10,
    ttftMs: 100,
    tokens: 64,
    cpuUsPerChunk,
    ttftOverheadP99Ms: p99,
    tailBursts: 2,
    tailBehindGc: 0.5,
  }) as Row;

describe('bench tables', () => {
  // Interleaved as `--repeat 3` runs them: ref, tool at 100, ref, tool at 250, then again.
  const rows = [
    [100, 10, 5, 11, 5.5],
    [250, 10, 8, 12, 9],
    [100, 10, 6, 12, 6.2],
    [250, 10, 8, 13, 12],
    [100, 10, 7, 13, 8.5],
    [250, 10, 7, 12.5, 9],
  ].flatMap(([c, refCpu, refP99, toolCpu, toolP99]) => [
    row('ref', c!, refCpu!, refP99!),
    row('tool', c!, toolCpu!, toolP99!),
  ]);

  it('pairs each tool run with the floor run just before it', () => {
    const points = pairedPoints(rows);
    expect(points.map((p) => p.label)).toEqual(['C=100, ITL 10 ms', 'C=250, ITL 10 ms']);
    const at250 = points[1]!.pairs;
    expect(at250.map((q) => q.p99Diff)).toEqual([1, 4, 2]);
    expect(at250.map((q) => q.cpuRatio)).toEqual([1.2, 1.3, 1.25]);
    expect(at250[2]!.p99Ratio).toBeCloseTo(9 / 7, 10);
  });

  it('pairs a tool run with the floor run of its repeat when a repeat runs the tool first', () => {
    // `--repeat 2` runs ref, tool, then tool, ref: the second tool run's floor comes after it.
    const abba = [
      { ...row('ref', 100, 10, 5), repeat: 0 },
      { ...row('tool', 100, 12, 6), repeat: 0 },
      { ...row('tool', 100, 11, 7), repeat: 1 },
      { ...row('ref', 100, 8, 4), repeat: 1 },
    ];
    const pairs = pairedPoints(abba)[0]!.pairs;
    expect(pairs.map((q) => q.cpuRatio)).toEqual([1.2, 1.375]);
    expect(pairs.map((q) => q.p99Diff)).toEqual([1, 3]);
  });

  it('prints tool and floor side by side with the difference, the ratio and their medians', () => {
    const table = formatPairs(rows);
    expect(table).toContain(
      '| C=250, ITL 10 ms | 3 | 9.00 (8.00), 12.00 (8.00), 9.00 (7.00) | +1.00, +4.00, +2.00 | +2.00 |',
    );
    expect(table).toContain('| 1.20, 1.30, 1.25 | 1.25 |');
  });

  it('judges the targets on the medians of the pairs', () => {
    const lines = targetLines(rows);
    expect(lines).toContain(
      "TTFT overhead p99 <= the floor's + 2 ms at 250 streams: holds (median +2.00 ms of 3 pair(s): +1.00, +4.00, +2.00)",
    );
    expect(lines).toContain(
      "TTFT overhead p99 <= the floor's + 1 ms at 100 streams: holds (median +0.50 ms of 3 pair(s): +0.50, +0.20, +1.50)",
    );
    expect(lines).toContain(
      'CPU per chunk <= 1.2x the floor at C=250, ITL 10 ms: DOES NOT HOLD (median 1.25x of 3 pair(s): 1.20, 1.30, 1.25)',
    );
  });

  it('counts the tail behind a GC pause only when the pause overlaps its wait for the first token', () => {
    // Overheads 1.0, 1.1, … 10.8 ms, then one of 13 ms that waited from 5000 to 5012 for its first token: the p99
    // (nearest rank) is 10.8, so the tail is those two, far apart in time.
    const joined = Array.from({ length: 99 }, (_, i) => ({
      t0: i * 10,
      arrival: i * 10 + 1,
      serverFirst: i * 10 + 100,
      first: i * 10 + 100 + i * 0.1,
    }));
    joined.push({ t0: 4900, arrival: 4901, serverFirst: 5000, first: 5012 });
    expect(tailAttribution(joined, [{ at: 5002, ms: 8, kind: 4 }])).toMatchObject({
      tailRequests: 2,
      tailBursts: 2,
      tailBehindGc: 0.5,
      majorGcs: 1,
      longGcs: 1,
      longGcsHolding: 1,
    });
    // The same pause just after the token was read: it delayed nobody.
    expect(tailAttribution(joined, [{ at: 5013, ms: 8, kind: 4 }])).toMatchObject({
      tailBehindGc: 0,
      longGcsHolding: 0,
    });
  });
});
