// The capacity reported after bisection equals the simulator's slots exactly (its knee by
// construction), with a coarse ramp. One configuration here: its knee is the tightest of the fast ones (the mean
// TTFT one request over 13 slots moves least). All five configurations: `npm run verify:knee`. The decisions of
// both coarse ramps (step: test/controller/search.test.ts; factor: search-decisions.test.ts) run on a fake clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNEE_CONFIGS, kneeProfile } from '../../bench/knee-configs.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { tempDir } from '../helpers.ts';

describe('capacity = slots after bisection', () => {
  for (const name of ['slots13-step4']) {
    it(name, async () => {
      const c = KNEE_CONFIGS.find((k) => k.name === name)!;
      const dir = tempDir();
      const file = join(dir, 'p.yaml');
      writeFileSync(file, kneeProfile(c, { fast: true }));
      const { profile } = await loadProfile(file, { env: {} });
      const r = await runCapacitySearch({ profile, env: {}, outDir: dir });
      expect(r.capacity.concurrency).toBe(c.slots);
      expect(r.capacity.bracket).toEqual([c.slots, c.slots + 1]);
      // The coarse ramp overshot the knee, so bisection probes ran.
      expect(r.summary.stages.some((s) => s.kind === 'bisect')).toBe(true);
    });
  }
});
