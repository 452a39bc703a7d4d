#!/usr/bin/env node
// `npm run build`: the compiled package in dist/ (JavaScript and .d.ts from tsc -p tsconfig.build.json,
// plus the non-TypeScript files the compiled modules read beside themselves).
//
// Run by `prepack` (npm pack, npm publish, installing batchrl-mtf as a git dependency), not by
// `prepare`: in a checkout nothing runs dist/ (bin/mtf.js and the tests run the TypeScript sources
// through tsx, so an edited source is what runs and a dist/ left from an earlier build is never used),
// so `npm ci` (CI, a fresh clone) need not pay for a tsc build. dist/ is removed first: a module
// deleted from src/ must not live on in the package.
//
// `--no-check` emits without type checking (tsc --noCheck; half the time): the package test uses it, so
// that a type error elsewhere (which `npm run typecheck` reports) does not fail the packaging test too.
// `npm pack`/`npm publish` build with the check.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');

/** Files read at run time from beside a module (new URL('./x', import.meta.url)), copied to the same place under dist/. */
const ASSETS = [
  'src/sim/referenceStatePolicies.json', // src/sim/calibrated.ts
  'jobs/sandbox.mjs', // jobs/worker.ts SANDBOX_FILE: BullMQ's child processes (loads processors/stage.js there)
];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const noCheck = process.argv.includes('--no-check') ? ['--noCheck'] : [];
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), ...noCheck], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  console.error(`build: tsc failed (exit ${r.status ?? r.signal}); dist/ is incomplete`);
  process.exit(1);
}
for (const asset of ASSETS) cpSync(join(root, asset), join(dist, asset));

// Every relative import of the compiled modules must name a file that is there: tsc rewrites './x.ts'
// to './x.js' (rewriteRelativeImportExtensions), and an asset missing from ASSETS shows up here.
const problems = [];
const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
for (const file of walk(dist).filter((f) => /\.m?js$/.test(f))) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'(\.\.?\/[^']+)'/g)) {
    if (!existsSync(join(dirname(file), m[1]))) problems.push(`${relative(root, file)}: imports '${m[1]}', which is not in dist/`);
  }
}
// sandbox.mjs picks its processor at run time: check the compiled one is there
if (!existsSync(join(dist, 'jobs/processors/stage.js'))) problems.push('dist/jobs/processors/stage.js missing (jobs/sandbox.mjs loads it)');
if (problems.length) {
  console.error(`build: ${problems.length} broken import(s) in dist/:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`build: dist/ written (${walk(dist).length} files)`);
