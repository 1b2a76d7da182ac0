// The broken-profile corpus: each test/fixtures/profiles/bad/*.yaml names, in `# expect:` comments,
// every error it must produce, as `# expect: [<file>:]<line>:<col> <path>: <message fragment>`.
// The file must produce exactly those errors (no more), so cascades and regressions both show up.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/errors.ts';
import { validateProfileText } from '../../src/profile/load.ts';

const DIR = 'test/fixtures/profiles/bad';
const ENV = { FC_TEST_KEY: 'fc-secret-value-1234', FC_TEST_EMPTY_KEY: '' };

interface Expectation {
  file: string | null;
  line: number;
  col: number;
  fragment: string;
}

function expectations(text: string): Expectation[] {
  const out: Expectation[] = [];
  for (const line of text.split('\n')) {
    const m = /^# expect: (?:([^\s:]+):)?(\d+):(\d+) (.+)$/.exec(line);
    if (m) out.push({ file: m[1] ?? null, line: Number(m[2]), col: Number(m[3]), fragment: m[4] as string });
  }
  return out;
}

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('broken profile corpus', () => {
  it('has at least 30 broken profiles, each with expectations', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    for (const f of fixtures) expect(expectations(readFileSync(path.join(DIR, f), 'utf8')), f).not.toHaveLength(0);
  });

  for (const name of fixtures) {
    it(name, async () => {
      const file = path.join(DIR, name);
      const text = readFileSync(file, 'utf8');
      const { profile, problems } = await validateProfileText(text, file, ENV);
      const errors = problems.filter((p) => p.severity === 'error');
      const shown = errors.map(formatProblem).join('\n');
      expect(profile, shown).toBeNull();
      const wanted = expectations(text);
      for (const w of wanted) {
        const hit = errors.find(
          (p) =>
            p.line === w.line &&
            p.col === w.col &&
            (w.file === null ? p.file === file : p.file.endsWith(w.file)) &&
            formatProblem(p).slice(`${p.file}:${p.line}:${p.col} `.length).includes(w.fragment),
        );
        expect(hit, `expected ${w.file ?? file}:${w.line}:${w.col} ${w.fragment}\ngot:\n${shown}`).toBeDefined();
      }
      expect(errors.length, `unexpected extra errors:\n${shown}`).toBe(wanted.length);
      // Every message is located in the profile or (prompts_file lines) in the file it names.
      for (const p of errors) expect(p.line).toBeGreaterThanOrEqual(1);
    });
  }
});
