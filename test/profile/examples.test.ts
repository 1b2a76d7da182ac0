// The example profiles of README "Workloads": each is valid with no warning against the built-in simulator, and its
// requests can be built (synthetic words, recorded reply lengths, conversations).
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildWorkload } from '../../src/controller/workload.ts';
import { formatProblem } from '../../src/errors.ts';
import { loadProfile } from '../../src/profile/load.ts';

const EXAMPLES = readdirSync('profiles').filter((f) => f.endsWith('.yaml') && f !== 'example-openai.yaml');

describe('example profiles', () => {
  it('cover every workload feature', () => {
    expect(EXAMPLES).toEqual(
      expect.arrayContaining([
        'completions.yaml',
        'multi-turn.yaml',
        'reasoning.yaml',
        'sharegpt.yaml',
        'synthetic.yaml',
      ]),
    );
  });

  for (const file of EXAMPLES) {
    it(`${file} is valid, targets the simulator, and its requests build`, async () => {
      const { profile, warnings } = await loadProfile(`profiles/${file}`, { env: {} });
      expect(warnings.map(formatProblem)).toEqual([]);
      expect(profile.target.simulator).not.toBeNull();
      const workload = await buildWorkload(profile);
      if (workload.spec.kind === 'payloads') expect(workload.payloads.length).toBeGreaterThan(0);
      if (file === 'sharegpt.yaml') for (const p of workload.payloads) expect(p.max_tokens).toBeGreaterThan(0);
      if (file === 'multi-turn.yaml' && workload.spec.kind === 'scripts')
        expect(workload.spec.scripts.every((s) => s.length === 4)).toBe(true);
      else if (file === 'multi-turn.yaml') throw new Error('multi-turn.yaml must play recorded conversations');
    });
  }
});
