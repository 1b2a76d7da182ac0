// Run-wide safety budgets: limits.max_duration stops a real run with its own stop reason, its deadline counted
// from before the simulator starts, and the dry run shows the limits that apply. The run is in-process (the stop
// reason is the contract; the exit code 6 the limits share is the CLI's: test/cli/exit-codes.test.ts), the dry
// run through the CLI. max_output_tokens, max_requests and max_duration as decisions of the search run on a fake
// clock (test/controller/search-decisions.test.ts, search.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';
import { readJsonlStrict, runDirsIn, type Rec } from './helpers.ts';

const HEALTH =
  'verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}';
const SLO = ['p99(ttft) < 2s', 'success_rate >= 90%'];

async function runWithLimits(limits: string) {
  const dir = tempDir('fc-budget-');
  const file = writeProfile(
    dir,
    'p.yaml',
    simProfile({
      slots: 8,
      concurrency: '[2, 4, 6, 8]',
      duration: '1s',
      warmup: '300ms',
      tokens: 20,
      slo: SLO,
      extra: `${HEALTH}\nlimits: ${limits}`,
    }),
  );
  const { profile } = await loadProfile(file, { env: {} });
  const result = await runCapacitySearch({ profile, env: {}, outDir: join(dir, 'out') });
  const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
  const records = readJsonlStrict<Rec>(join(result.runDir, 'requests.jsonl')).rows;
  return { result, summary, records };
}

// Concurrent: the tests are separate runs whose checks do not depend on measured latency (lax health, lax SLOs).
describe.concurrent('safety budgets', () => {
  it('max_duration stops the run: no request starts after it, with its own stop reason', async () => {
    const { summary, records } = await runWithLimits('{max_duration: 3s}');
    expect(summary.capacity.stop_reason).toBe('limit_duration');
    expect(summary.capacity.stop_detail).toMatch(/^the run reached limits\.max_duration \(3 s\)/);
    expect(summary.stages.length).toBeLessThan(4);
    expect(records.length).toBeGreaterThan(0);
    // The run clock starts before the simulator does, so this bounds the whole run.
    for (const r of records) expect(r.t0).toBeLessThan(3000);
  });

  it('the dry run shows the safety limits and sends nothing', async () => {
    const dir = tempDir('fc-budget-dry-');
    const file = writeProfile(
      dir,
      'g.yaml',
      simProfile({
        slots: 4,
        concurrency: '[2, 4]',
        extra: 'limits: {max_duration: 2500ms, max_requests: 77, max_output_tokens: 300}',
      }),
    );
    const r = await runCli([file, '--dry-run', '--out', join(dir, 'out')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Safety limits: max_duration 2\.5s, max_requests 77, max_output_tokens 300/);
    expect(r.stdout).toMatch(/\(capped by limits\.max_duration 2\.5s\)/);
    expect(runDirsIn(join(dir, 'out'))).toEqual([]);
  });
});
