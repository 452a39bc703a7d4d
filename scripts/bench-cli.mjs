#!/usr/bin/env node
// `npm run bench:cli`: the start-up time of `mtf --help`, median wall time of --runs runs (default 7),
// from the compiled files (dist/, what an installed package runs; `npm run bench:cli` builds it first)
// against the TypeScript sources through tsx (what a checkout runs). Issue 22 asks ≤ 0.3 s compiled.
// `mtf train --help` beside it: a command's own help loads that command's module and the zod schemas
// its defaults come from (`mtf --help` loads no command module: src/cli/commands/index.ts).
// The 1-minute load average is printed beside: on a busy machine every number is larger.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'mtf.js');
const at = process.argv.indexOf('--runs');
const runs = at >= 0 ? Number(process.argv[at + 1]) : 7;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got ${process.argv[at + 1]}`);
if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ not built: run `npm run build` (npm run bench:cli does)');

function median(label, args, env = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${label}: exited ${r.status}: ${r.stderr}`);
    times.push(s);
  }
  times.sort((a, b) => a - b);
  const m = times[Math.floor(times.length / 2)];
  console.log(`${label.padEnd(34)} median ${m.toFixed(3)} s  (min ${times[0].toFixed(3)}, max ${times.at(-1).toFixed(3)}, ${runs} runs)`);
  return m;
}

console.log(`mtf --help, node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(2)}`);
median('node -e 0 (Node alone)', ['-e', '0']);
const compiled = median('compiled (dist/, MTF_COMPILED=1)', [bin, '--help'], { MTF_COMPILED: '1' });
median('compiled, mtf train --help', [bin, 'train', '--help'], { MTF_COMPILED: '1' });
const tsx = median('sources through tsx', [bin, '--help'], { MTF_COMPILED: '0' });
console.log(`compiled / tsx: ${(compiled / tsx).toFixed(2)}`);
