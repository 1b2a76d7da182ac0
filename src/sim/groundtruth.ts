// The simulator's own view of every chat or legacy completion request, one JSONL line each, so tests and
// benchmarks can check the tool's measurements against the server's. Times are epoch ms with sub-ms precision
// (performance.timeOrigin + performance.now()), comparable across processes on one machine.
import { open } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import type { FaultType } from './config.ts';

export interface GroundTruthRecord {
  /** The x-request-id request header, else a generated `sim-<n>`. */
  id: string;
  /** Request headers received. */
  arrival_ms: number;
  /** Response headers written (null when none were). */
  headers_ms: number | null;
  /** Took a batch slot (null when never admitted). */
  admitted_ms: number | null;
  /** First output token emitted, reasoning or content (for streams: written to the socket). */
  first_token_ms: number | null;
  /** Response finished or the connection closed. */
  end_ms: number;
  /** Tokens of the prompt's text under the configured tokenizer (null: the request was not valid). */
  prompt_tokens: number | null;
  /** Prompt tokens found in the prefix cache at admission, not prefilled (0 without a cache; null: never admitted). */
  cached_tokens: number | null;
  /** Output tokens emitted, reasoning and content (for streams: written). */
  output_tokens: number;
  /** Of output_tokens, those sent as reasoning_content. */
  reasoning_tokens: number;
  /** The output length the request asked for (or the default). */
  max_tokens: number | null;
  stream: boolean | null;
  fault: FaultType | null;
  /** HTTP status sent (null when the connection was reset before headers). */
  status: number | null;
  /** completed | fault | rejected (429 queue full) | bad_request | client_closed | server_stopped */
  outcome: 'completed' | 'fault' | 'rejected' | 'bad_request' | 'client_closed' | 'server_stopped';
}

export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

const round3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

/** Logs open in this thread, so the simulator's host can flush them on request (GroundTruthLog.flushAll). */
const openLogs = new Set<GroundTruthLog>();

/** Buffered appender: lines are collected and written at most every 100 ms, on flush() and on close. */
export class GroundTruthLog {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Settles when the last chunk handed to the stream is in the file (chunks are written in order). */
  private written: Promise<void> = Promise.resolve();

  private constructor(private readonly stream: WriteStream) {}

  /** Opens (appends to) the file; rejects if it cannot be opened, so a bad path fails at start-up. */
  static async open(path: string): Promise<GroundTruthLog> {
    const handle = await open(path, 'a');
    const log = new GroundTruthLog(handle.createWriteStream());
    openLogs.add(log);
    return log;
  }

  /** flush() of every log open in this thread (one per simulator server). */
  static async flushAll(): Promise<void> {
    await Promise.all([...openLogs].map((log) => log.flush()));
  }

  write(r: GroundTruthRecord): void {
    if (this.closed) return;
    const line = {
      ...r,
      arrival_ms: round3(r.arrival_ms),
      headers_ms: round3(r.headers_ms),
      admitted_ms: round3(r.admitted_ms),
      first_token_ms: round3(r.first_token_ms),
      end_ms: round3(r.end_ms),
    };
    this.pending.push(JSON.stringify(line) + '\n');
    if (this.timer === null) this.timer = setTimeout(() => this.writePending(), 100);
  }

  /** Writes the lines collected so far now; resolves once the file holds every line written before the call. */
  flush(): Promise<void> {
    this.writePending();
    return this.written;
  }

  private writePending(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    // The callback runs on a failed write too (the stream reports the error itself): a flush never hangs.
    this.written = new Promise<void>((resolve) => this.stream.write(chunk, () => resolve()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.writePending();
    this.closed = true;
    openLogs.delete(this);
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }
}
