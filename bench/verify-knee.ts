// `npm run verify:knee`: the capacity search against five simulator configurations whose knee is
// known (slots 7 to 150, coarse steps and factors); every one must report capacity = slots. Then three rate runs
// (open loop, p99(ttft) < 2s) whose capacity.rate must lie within 10 % below the simulator's service rate at the
// knee (docs/simulator.md); these take about 45 minutes each. Names on the command line select configurations.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../src/profile/load.ts';
import { runCapacitySearch } from '../src/controller/run.ts';
import { KNEE_CONFIGS, RATE_KNEE_CONFIGS, kneeProfile, rateKneeProfile, serviceRate } from './knee-configs.ts';

const only = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'fc-knee-'));
let failures = 0;
console.log('config            slots  capacity  bracket     stages  stop_reason  seconds');
for (const c of KNEE_CONFIGS.filter((k) => only.length === 0 || only.includes(k.name))) {
  const file = join(dir, `${c.name}.yaml`);
  writeFileSync(file, kneeProfile(c));
  const { profile } = await loadProfile(file, { env: {} });
  const t = performance.now();
  const r = await runCapacitySearch({ profile, env: {}, outDir: dir });
  const ok = r.capacity.concurrency === c.slots;
  if (!ok) failures++;
  console.log(
    `${c.name.padEnd(17)} ${String(c.slots).padStart(5)}  ${String(r.capacity.concurrency).padStart(8)}  ${JSON.stringify(r.capacity.bracket).padEnd(10)}  ${String(r.summary.stages.length).padStart(6)}  ${r.capacity.stopReason.padEnd(11)}  ${((performance.now() - t) / 1000).toFixed(0).padStart(7)}  ${ok ? 'ok' : 'WRONG'}  ${r.runDir}`,
  );
}
failures += await verifyRateKnees();
console.log(
  failures === 0
    ? 'every configuration reported capacity = slots (rate runs: within 10 % below the service rate)'
    : `${failures} configuration(s) missed their knee`,
);

/** The rate runs: capacity.rate / service rate must lie in [0.9, 1]. Returns the number of misses. */
async function verifyRateKnees(): Promise<number> {
  const chosen = RATE_KNEE_CONFIGS.filter((k) => only.length === 0 || only.includes(k.name));
  if (chosen.length === 0) return 0;
  let misses = 0;
  console.log('rate config       service rate  capacity.rate  ratio  bracket          stages  stop_reason  seconds');
  for (const c of chosen) {
    const file = join(dir, `${c.name}.yaml`);
    writeFileSync(file, rateKneeProfile(c));
    const { profile } = await loadProfile(file, { env: {} });
    const t = performance.now();
    const r = await runCapacitySearch({ profile, env: {}, outDir: dir });
    const mu = serviceRate(c);
    const ratio = (r.capacity.rate ?? 0) / mu;
    const ok = ratio >= 0.9 && ratio <= 1;
    if (!ok) misses++;
    console.log(
      `${c.name.padEnd(17)} ${mu.toFixed(2).padStart(12)}  ${String(r.capacity.rate).padStart(13)}  ${ratio.toFixed(3)}  ${JSON.stringify(r.capacity.bracket).padEnd(15)}  ${String(r.summary.stages.length).padStart(6)}  ${r.capacity.stopReason.padEnd(11)}  ${((performance.now() - t) / 1000).toFixed(0).padStart(7)}  ${ok ? 'ok' : 'WRONG'}  ${r.runDir}`,
    );
  }
  return misses;
}
process.exitCode = failures === 0 ? 0 : 1;
