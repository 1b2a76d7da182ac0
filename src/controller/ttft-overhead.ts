// The load generator's own share of TTFT, measured against the built-in simulator's ground truth: for each
// successful window request, (client firstContentAt − t0) − (server first_token_ms − arrival_ms). Both terms
// are durations on one machine's monotonic clock, so no offset between the two processes' clocks enters.
// What is left is the time the request spent between the client's t0 and the server's arrival (the client's send
// path, loopback, the server's header parsing) plus between the server's write of the first token and the
// client's timestamp of it (loopback, the client's read path and event loop): a late client shows up here.
import { open, type FileHandle } from 'node:fs/promises';
import type { RequestRecord } from '../model/record.ts';
import { distribution } from '../stats/summarize.ts';
import type { TtftOverhead } from '../model/verdict.ts';

/** The simulator's ground-truth log in the run directory (one GroundTruthRecord per line). */
export const GROUND_TRUTH_FILE = 'simulator-ground-truth.jsonl';

/** A line can lag its response's end by a turn of the simulator's loop: flush and read again, this many times at most. */
const FLUSH_ROUNDS = 3;

/** Client TTFT (ms) of every request the check uses: judged (window), successful, with a first token. */
export function clientTtfts(records: readonly RequestRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records)
    if (r.phase === 'window' && r.ok && r.firstContentAt !== null) out.set(r.id, r.firstContentAt - r.t0);
  return out;
}

/** Client TTFT − server TTFT of every request present in both maps (ms), in the client map's order. */
export function overheadSamples(client: ReadonlyMap<string, number>, server: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (const [id, ttft] of client) {
    const s = server.get(id);
    if (s !== undefined) out.push(ttft - s);
  }
  return out;
}

/** p50 and p99 with the project's percentile definition (type 7, src/stats); null statistics without samples. */
export function summarizeOverhead(samples: readonly number[]): TtftOverhead {
  const d = distribution([...samples]);
  return { n: d.count, p50Ms: d.p50, p99Ms: d.p99 };
}

/** Bytes read at a time: a stage of 100,000 requests logs ~30 MB, read in pieces of this size. */
const READ_CHUNK = 1 << 20;

/** Reads the ground-truth log incrementally: each call parses only the whole lines appended since the last one. */
export class GroundTruthReader {
  private offset = 0;
  private readonly buf = Buffer.allocUnsafe(READ_CHUNK);

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<GroundTruthReader> {
    return new GroundTruthReader(await open(path, 'r'));
  }

  /** Adds the server TTFT (first_token_ms − arrival_ms) of each new line whose id is in `wanted` to `into`. */
  async readNew(wanted: ReadonlyMap<string, unknown>, into: Map<string, number>): Promise<void> {
    const { size } = await this.file.stat();
    while (this.offset < size) {
      const { bytesRead } = await this.file.read(this.buf, 0, Math.min(READ_CHUNK, size - this.offset), this.offset);
      // Only up to the last newline: a line still being written is read whole next time (a line is ~300 bytes).
      const end = bytesRead > 0 ? this.buf.lastIndexOf(0x0a, bytesRead - 1) : -1;
      if (end < 0) return;
      this.offset += end + 1;
      for (const line of this.buf.toString('utf8', 0, end).split('\n')) {
        if (line === '') continue;
        let g: { id?: unknown; arrival_ms?: unknown; first_token_ms?: unknown };
        try {
          g = JSON.parse(line) as typeof g;
        } catch {
          continue;
        }
        if (
          typeof g.id !== 'string' ||
          !wanted.has(g.id) ||
          typeof g.arrival_ms !== 'number' ||
          typeof g.first_token_ms !== 'number'
        )
          continue;
        into.set(g.id, g.first_token_ms - g.arrival_ms);
      }
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * The overhead samples of one drained stage attempt: flushes the simulator's log (`flush`, false when it could
 * not), reads the lines appended since the previous attempt, joins them with the records on the request id.
 * Null when the simulator could not flush (stopped or died): the ground truth of the attempt is incomplete.
 */
export async function measureTtftOverhead(
  records: readonly RequestRecord[],
  flush: () => Promise<boolean>,
  reader: GroundTruthReader,
): Promise<number[] | null> {
  const client = clientTtfts(records);
  const server = new Map<string, number>();
  for (let round = 0; round < FLUSH_ROUNDS && server.size < client.size; round++) {
    if (!(await flush())) return null;
    await reader.readNew(client, server);
  }
  return overheadSamples(client, server);
}
