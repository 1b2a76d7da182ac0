// Append-only JSON Lines writer: whole lines only, flushed on a short timer, at every stage end and
// when the process exits (a second Ctrl-C), so a killed run leaves a file that is valid line by line.
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';

/** Writers still open; flushed synchronously if the process exits before they are closed. */
const open = new Set<JsonlWriter>();
let exitHookInstalled = false;

function flushAllOnExit(): void {
  for (const w of open) {
    try {
      w.flush();
    } catch {
      // Exiting anyway: a failed last flush must not turn into an uncaught error.
    }
  }
}

/** Writes all of `buf`: writeSync may write less than asked, and a short write would tear a line. */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export class JsonlWriter {
  private fd: number | null;
  private pending: string[] = [];
  private timer: NodeJS.Timeout;

  constructor(
    readonly path: string,
    // Short: a line waiting past two young-generation collections is promoted, and old garbage costs major GCs.
    flushEveryMs = 50,
  ) {
    this.fd = openSync(path, 'a');
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
    open.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAllOnExit);
    }
  }

  append(obj: unknown): void {
    this.pending.push(JSON.stringify(obj) + '\n');
    if (this.pending.length >= 512) this.flush();
  }

  /** One write() of complete lines: a SIGKILL can at worst tear the last of them, which readers skip. */
  flush(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    writeAll(this.fd, chunk);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    open.delete(this);
  }
}

/**
 * Replaces a file in one step (write a temporary file, then rename): a killed process leaves the old file
 * or the new one, never half of one. For summary.json and the report.
 */
export function writeFileAtomicSync(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
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
