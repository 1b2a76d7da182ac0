// Append-only JSON Lines writer: whole lines only, flushed on a short timer and at every
// stage end, so a killed run leaves a file that is valid line by line.
import { closeSync, openSync, writeSync, readFileSync } from 'node:fs';

export class JsonlWriter {
  private fd: number | null;
  private pending: string[] = [];
  private timer: NodeJS.Timeout;

  constructor(readonly path: string, flushEveryMs = 200) {
    this.fd = openSync(path, 'a');
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
  }

  append(obj: unknown): void {
    this.pending.push(JSON.stringify(obj) + '\n');
    if (this.pending.length >= 512) this.flush();
  }

  /** One write() of complete lines: the kernel never leaves half of one behind on SIGKILL. */
  flush(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    writeSync(this.fd, chunk);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads a JSONL file; a torn last line (from a crash mid-write) is skipped and counted. */
export function readJsonl<T>(path: string): { rows: T[]; skipped: number } {
  const text = readFileSync(path, 'utf8');
  const rows: T[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch {
      skipped++;
    }
  }
  return { rows, skipped };
}
