/**
 * `mtf --help` loads commander, zod and the CLI's own modules, nothing more: the libraries a command
 * needs (TensorFlow.js, DuckDB, onnxruntime, Arrow, YAML, fastify, BullMQ) load inside its action, so
 * the compiled CLI starts quickly (issue 22: ≤ 0.3 s; `npm run bench:cli` measures it). A module that
 * imports one of them at the top, reachable from a command's registration, fails this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

/** packages `mtf --help` may load: the command-line parser, the schemas its help texts come from, and tsx with its esbuild (a checkout runs the sources) */
const ALLOWED = ['commander', 'esbuild', 'tsx', 'zod'];

/** The packages (under node_modules) a run of bin/mtf.js with `args` imports, seen by a module resolve hook. */
function packagesLoaded(args: string[]): { packages: string[]; code: number | null; stderr: string } {
  const dir = tempDir('mtf-startup-');
  const log = join(dir, 'resolved.txt');
  writeFileSync(log, '');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, join(ROOT, 'bin', 'mtf.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const packages = new Set<string>();
  for (const url of readFileSync(log, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) packages.add(m[1]);
  }
  return { packages: [...packages].sort(), code: r.status, stderr: r.stderr };
}

test('mtf --help loads no library a command needs only when it runs', () => {
  const r = packagesLoaded(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.packages.includes('commander'), `the hook saw no package at all (${r.packages.join(', ')}): the check itself is broken`);
  const extra = r.packages.filter((p) => !ALLOWED.includes(p));
  assert.deepEqual(extra, [], `mtf --help loads ${extra.join(', ')}: import it inside the command's action (await import(…)), not at the top of a module the CLI registers`);
});

test('the same for a command that uses the heavy libraries (train --help)', () => {
  const r = packagesLoaded(['train', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.packages.filter((p) => !ALLOWED.includes(p)), []);
});

test('the resolve hook sees what a command action loads (the check can fail)', () => {
  // `status` reads its pipeline file in its action: config/pipeline.ts (YAML) loads, then the missing file stops it
  const r = packagesLoaded(['status', '--no-redis', '--config', join(tempDir('mtf-startup-'), 'missing.yaml')]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.packages.includes('yaml'), `expected yaml among ${r.packages.join(', ')}`);
});
