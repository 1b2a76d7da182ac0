// `npm run build` (and `prepare`, so at install): compiles src/ into dist/ and writes dist/'s entry files. Plain
// JavaScript, so it runs before anything is built. The installed package then runs without a TypeScript loader.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

// Stale files of deleted sources must not ship.
rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

// The worker-thread and simulator entries (.mjs) register tsx so that the sources run as TypeScript. Built, they
// import the compiled module instead: the same file without the loader, its `.ts` import made `.js`.
const REGISTER_IMPORT = /^import \{ register \} from 'tsx\/esm\/api';\n/m;
const REGISTER_CALL = /^register\(\);\n/m;
const LEADING_COMMENT = /^(\/\/.*\n)+/;

function entries(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? entries(join(dir, e.name)) : e.name.endsWith('.mjs') ? [join(dir, e.name)] : [],
  );
}

for (const file of entries(SRC)) {
  const name = relative(ROOT, file);
  const text = readFileSync(file, 'utf8');
  if (!REGISTER_IMPORT.test(text) || !REGISTER_CALL.test(text))
    throw new Error(`${name}: expected tsx's register import and call; update scripts/build.mjs to match the entry`);
  const built = text
    .replace(LEADING_COMMENT, '')
    .replace(REGISTER_IMPORT, '')
    .replace(REGISTER_CALL, '')
    .replace(/(import\s*\(\s*'\.{1,2}\/[^']+)\.ts('\s*\))/g, '$1.js$2')
    .replace(/(from\s*'\.{1,2}\/[^']+)\.ts(')/g, '$1.js$2');
  if (/tsx|\.ts'/.test(built)) throw new Error(`${name}: still loads TypeScript after the rewrite:\n${built}`);
  const out = join(DIST, relative(SRC, file));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `// Built from ${name} by scripts/build.mjs: the compiled module, no TypeScript loader.\n${built}`,
  );
}

// The bin entries stay executable: `npx find-capacity` links them once (bin-links sets the mode then), and every
// later build replaces the file; without this, the link made before a rebuild says "Permission denied".
const { bin } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
for (const target of Object.values(bin ?? {})) chmodSync(join(ROOT, target), 0o755);
