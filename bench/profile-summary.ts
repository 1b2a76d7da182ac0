// Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`), and self time grouped by file.
//   node bin/run-ts.mjs bench/profile-summary.ts file.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: profile-summary.ts file.cpuprofile [top]');
const top = Number(process.argv[3] ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const shortUrl = (u: string) =>
  u
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
    .replace(/^node:/, 'node:');
const fn = new Map<string, number>();
const mod = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || '(anonymous)';
  const url = shortUrl(n.callFrame.url);
  const key = url ? `${name}  ${url}:${n.callFrame.lineNumber + 1}` : name;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const m = url
    ? url.startsWith('node:')
      ? url
      : url
          .split('/')
          .slice(0, url.startsWith('src/') || url.startsWith('bench/') ? 3 : 1)
          .join('/')
    : `(${name})`;
  mod.set(m, (mod.get(m) ?? 0) + us);
}
// Inclusive time: a sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n: ProfileNode) => {
  const url = shortUrl(n.callFrame.url);
  const name = n.callFrame.functionName || '(anonymous)';
  return url ? `${name}  ${url}:${n.callFrame.lineNumber + 1}` : name;
};
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = keyOf(byId.get(cur)!);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}
const pct = (us: number) => ((us / total) * 100).toFixed(1).padStart(5) + ' %';
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nself time by function:');
for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
if (process.env.INCLUSIVE) {
  console.log('\ninclusive time by function:');
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
}
console.log('\nself time by file / package:');
for (const [k, us] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(us)}  ${k}`);
