#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's own test runner (through tsx). Extra arguments are passed
// on, e.g. `npm test -- --test-name-pattern=ingest`; a path argument narrows the files.
//
// Two guards keep one bad test from stalling the suite (the tests close what they open in after()
// hooks; these catch what slips through): --test-force-exit ends a test file's process once its tests
// are done even if a handle (a Redis connection, a timer) is still open, and --test-timeout fails a
// test that sets no timeout of its own after 10 minutes instead of waiting forever.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const files = paths.length ? paths.flatMap((p) => (statSync(p).isDirectory() ? find(p) : [p])) : find('test');
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-force-exit', '--test-timeout=600000', ...flags, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
