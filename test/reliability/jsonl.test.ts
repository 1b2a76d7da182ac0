// The JSONL writer behind requests.jsonl and stages.jsonl: whole lines only, pending lines flushed when the
// process exits (a second Ctrl-C calls process.exit), and at worst one torn last line after a SIGKILL.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonl, writeFileAtomicSync } from '../../src/io/jsonl.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { readJsonlStrict, sleep } from './helpers.ts';

const JSONL = join(ROOT, 'src', 'io', 'jsonl.ts');

/** Runs a TypeScript snippet in its own node process; `onLine` sees its stdout lines. */
function runScript(dir: string, code: string, onLine?: (line: string, kill: (sig: NodeJS.Signals) => void) => void) {
  const file = join(dir, 'script.mts');
  writeFileSync(file, `import { JsonlWriter } from ${JSON.stringify(JSONL)};\n${code}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line) onLine?.(line, (sig) => child.kill(sig));
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
}

describe('JsonlWriter', () => {
  it('flushes pending lines when the process exits before the writer is closed', async () => {
    const dir = tempDir('fc-jsonl-');
    const path = join(dir, 'r.jsonl');
    // A flush timer far in the future: only the exit hook can write these lines.
    const r = await runScript(
      dir,
      `const w = new JsonlWriter(${JSON.stringify(path)}, 600_000);\nfor (let i = 0; i < 3; i++) w.append({ i });\nprocess.exit(130);`,
    );
    expect(r.code, r.stderr).toBe(130);
    expect(readJsonlStrict(path)).toEqual({ rows: [{ i: 0 }, { i: 1 }, { i: 2 }], tornLast: false });
  });

  it('SIGKILL in the middle of heavy writing leaves only whole lines (at most a torn last one)', async () => {
    const dir = tempDir('fc-jsonl-');
    const path = join(dir, 'r.jsonl');
    const pad = 'x'.repeat(300);
    let killedAfterMs = 0;
    const r = await runScript(
      dir,
      `const w = new JsonlWriter(${JSON.stringify(path)}, 5);
let i = 0;
const burst = () => { for (let k = 0; k < 2000; k++) w.append({ i: i++, pad: ${JSON.stringify(pad)} }); setImmediate(burst); };
burst();
setTimeout(() => console.log('writing'), 20);`,
      (line, kill) => {
        if (line === 'writing') {
          killedAfterMs = 20 + Math.round(Math.random() * 200);
          void sleep(killedAfterMs - 20).then(() => kill('SIGKILL'));
        }
      },
    );
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const { rows } = readJsonlStrict<{ i: number; pad: string }>(path);
    expect(rows.length, `killed after ${killedAfterMs} ms`).toBeGreaterThan(1000);
    // In order, none missing, none half-written.
    rows.forEach((row, k) => {
      expect(row.i).toBe(k);
      expect(row.pad).toBe(pad);
    });
    expect(readJsonl(path).rows.length).toBe(rows.length);
  });

  it('writeFileAtomicSync replaces a file in one step and leaves no temporary file', () => {
    const dir = tempDir('fc-atomic-');
    const path = join(dir, 'summary.json');
    writeFileAtomicSync(path, '{"a":1}\n');
    writeFileAtomicSync(path, '{"a":2}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"a":2}\n');
    expect(readdirSync(dir)).toEqual(['summary.json']);
    expect(existsSync(`${path}.${process.pid}.tmp`)).toBe(false);
  });
});
