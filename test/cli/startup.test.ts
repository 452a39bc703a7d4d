/**
 * `mtf --help` loads commander and the CLI's table of commands, nothing more: each command's module loads
 * only when that command is named (src/cli/commands/index.ts), and the libraries a command needs
 * (TensorFlow.js, DuckDB, onnxruntime, Arrow, YAML, fastify, BullMQ) load inside its action, so the
 * compiled CLI starts quickly (issue 22: ≤ 0.3 s; `npm run bench:cli` measures it). A module that
 * imports one of them at the top, reachable from a command's registration, fails this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/cli.ts';
import { buildProgram } from '../../src/cli/main.ts';
import { tempDir } from '../helpers/tmp.ts';

/** packages `mtf --help` may load: the command-line parser, and tsx with its esbuild (a checkout runs the sources) */
const ALLOWED = ['commander', 'esbuild', 'tsx'];
/** a command's own --help also loads the schemas its defaults and choices come from */
const ALLOWED_COMMAND_HELP = [...ALLOWED, 'zod'];

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

test('mtf --help loads no library a command needs only when it runs, and no command module', () => {
  const r = packagesLoaded(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.packages.includes('commander'), `the hook saw no package at all (${r.packages.join(', ')}): the check itself is broken`);
  const extra = r.packages.filter((p) => !ALLOWED.includes(p));
  assert.deepEqual(extra, [], `mtf --help loads ${extra.join(', ')}: import it inside the command's action (await import(…)), not at the top of a module the CLI registers`);
});

test('the same for a command that uses the heavy libraries (train --help, help train)', () => {
  for (const args of [['train', '--help'], ['help', 'train']]) {
    const r = packagesLoaded(args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.packages.filter((p) => !ALLOWED_COMMAND_HELP.includes(p)), [], args.join(' '));
    assert.ok(r.packages.includes('zod'), `${args.join(' ')} loaded ${r.packages.join(', ')}: not train's module, whose defaults come from the zod schemas`);
  }
});

test("mtf --help lists every command as the fully registered program does (the table in commands/index.ts cannot drift from the modules)", async () => {
  const full = await buildProgram();
  const listed = await buildProgram({ only: null });
  assert.deepEqual(listed.commands.map((c) => c.name()), full.commands.map((c) => c.name()));
  assert.equal(listed.helpInformation(), full.helpInformation());
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mtf.js'), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' } });
  assert.equal(r.status, 0, r.stderr);
  // both at commander's width for a pipe; the examples and exit codes (addHelpText) follow
  assert.equal(r.stdout.slice(0, full.helpInformation().length), full.helpInformation());
  // a named command is its module's, with its options: the listing's stand-in is never what runs
  const train = (await buildProgram({ only: 'train' })).commands.find((c) => c.name() === 'train');
  assert.ok(train?.options.some((o) => o.long === '--algo'), 'train registered from its module');
});

test('the resolve hook sees what a command action loads (the check can fail)', () => {
  // `status` reads its pipeline file in its action: config/pipeline.ts (YAML) loads, then the missing file stops it
  const r = packagesLoaded(['status', '--no-redis', '--config', join(tempDir('mtf-startup-'), 'missing.yaml')]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.packages.includes('yaml'), `expected yaml among ${r.packages.join(', ')}`);
});
