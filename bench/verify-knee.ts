// `npm run verify:knee`: the capacity search against five simulator configurations whose knee is
// known (slots 7 to 150, coarse steps and factors); every one must report capacity = slots.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../src/profile/load.ts';
import { runCapacitySearch } from '../src/controller/run.ts';
import { KNEE_CONFIGS, kneeProfile } from './knee-configs.ts';

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
console.log(
  failures === 0
    ? 'every configuration reported capacity = slots'
    : `${failures} configuration(s) did not report capacity = slots`,
);
process.exitCode = failures === 0 ? 0 : 1;
