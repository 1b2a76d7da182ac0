// Bad input through the real CLI, with base_url pointing at a loopback server that counts TCP connections:
// profiles whose target is fine but something else is wrong get located errors and the "invalid profile"
// exit code (2), and not one connection reaches the target. The validator's messages for every other broken
// profile (alias bomb, list or scalar document, ...) are covered by test/profile/corpus.test.ts, the 50 MB
// profile by test/profile/load.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeProfile, type CliResult } from '../helpers.ts';
import { loopbackServer, runDirsIn, type LoopbackServer } from './helpers.ts';

let target: LoopbackServer;
let dir: string;

beforeAll(async () => {
  target = await loopbackServer();
  dir = tempDir('fc-badinput-');
});
afterAll(async () => {
  await target.close();
});

const tail = 'ramp: {concurrency: [1, 2], warmup: 100ms, stage: {duration: 1s}}\nslo: ["p99(ttft) < 1s"]\n';
const targetYaml = (extra = '') => `target:\n  base_url: ${target.url}\n  model: m\n${extra}`;

interface Case {
  name: string;
  write: (dir: string) => string;
  /** Regexps the error output must match (each a located error). */
  expect: RegExp[];
}

const cases: Case[] = [
  {
    name: 'several problems at once: missing key variable, concurrency 0 and 1e9, a negative duration, a malformed prompts line',
    write: (d) => {
      writeFileSync(join(d, 'prompts.jsonl'), '"one"\n"two"\n{"messages": [\n"four"\n');
      return writeProfile(
        d,
        'many.yaml',
        `${targetYaml('  api_key_env: FC_RELIABILITY_MISSING_KEY\n')}request:\n  prompts_file: prompts.jsonl\nramp:\n  concurrency: {start: 0, step: 1, max: 1e9}\n  stage: {duration: -5s}\nslo: ["p99(ttft) < 1s"]\n`,
      );
    },
    expect: [
      /many\.yaml:4:\d+ target\.api_key_env: environment variable FC_RELIABILITY_MISSING_KEY is not set/,
      /prompts\.jsonl:3:1 request\.prompts_file: line 3 of .*prompts\.jsonl is not valid JSON/,
      /many\.yaml:8:\d+ ramp\.concurrency\.start: must be a positive integer, got 0/,
      /many\.yaml:8:\d+ ramp\.concurrency\.max: must be at most/,
      /many\.yaml:9:\d+ ramp\.stage\.duration: must not be negative/,
    ],
  },
  {
    name: 'prompts_file missing',
    write: (d) => writeProfile(d, 'nofile.yaml', `${targetYaml()}request:\n  prompts_file: nowhere.jsonl\n${tail}`),
    expect: [/nofile\.yaml:5:\d+ request\.prompts_file: file not found: .*nowhere\.jsonl/],
  },
  {
    name: 'prompts_file empty',
    write: (d) => {
      writeFileSync(join(d, 'empty.jsonl'), '\n\n');
      return writeProfile(d, 'emptyprompts.yaml', `${targetYaml()}request:\n  prompts_file: empty.jsonl\n${tail}`);
    },
    expect: [/emptyprompts\.yaml:5:\d+ request\.prompts_file: .*empty\.jsonl is empty/],
  },
];

async function inPool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe('bad input: located errors, exit 2, nothing sent', () => {
  let results: Map<string, CliResult & { out: string }>;

  beforeAll(async () => {
    const runs = await inPool(cases, 3, async (c) => {
      const d = tempDir('fc-bad-');
      const file = c.write(d);
      const out = join(d, 'out');
      return { name: c.name, r: { ...(await runCli([file, '--out', out])), out } };
    });
    results = new Map(runs.map((x) => [x.name, x.r]));
  }, 120_000);

  for (const c of cases) {
    it(c.name, () => {
      const r = results.get(c.name)!;
      expect(r.code, r.stderr).toBe(2);
      for (const re of c.expect) expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(runDirsIn(r.out)).toEqual([]);
    });
  }

  it('not one connection reached the target', () => {
    expect(results.size).toBe(cases.length);
    expect(target.connections()).toBe(0);
  });

  it('a timeout shorter than a latency SLO is a warning: the profile stays valid, and validate sends nothing', async () => {
    const file = writeProfile(
      dir,
      'warn.yaml',
      `${targetYaml()}request:\n  messages: [{role: user, content: hi}]\n  timeouts: {first_token: 500ms}\nramp: {concurrency: [1]}\nslo: ["p99(ttft) < 1s"]\n`,
    );
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: .*warn\.yaml:\d+:\d+ slo\[0\]: request\.timeouts\.first_token \(500ms\) is shorter than this rule's threshold/,
    );
    expect(target.connections()).toBe(0);
  });
});
