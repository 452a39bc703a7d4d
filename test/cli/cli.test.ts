import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMtf } from '../helpers/cli.ts';
import { buildProgram } from '../../src/cli/main.ts';

test('mtf --help lists the subcommands and exits 0', () => {
  const r = runMtf(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const cmd of buildProgram().commands.map((c) => c.name())) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
  assert.match(r.stdout, /\bingest\b/);
});

test('every subcommand has --help', () => {
  for (const cmd of buildProgram().commands.map((c) => c.name())) {
    const r = runMtf([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: mtf ${cmd}`));
  }
});

test('usage errors and bad input exit non-zero with one line naming the problem', () => {
  const unknown = runMtf(['frobnicate']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);

  const missing = runMtf(['ingest', '--logs', 'x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option/);

  const bad = runMtf(['ingest', '--logs', '/nonexistent/logs', '--reward-weights', 'like=1', '--out', '/tmp/never']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /^mtf: \/nonexistent\/logs: no such file or directory/);

  const badWeights = runMtf(['ingest', '--logs', '.', '--reward-weights', 'like', '--out', '/tmp/never']);
  assert.equal(badWeights.code, 1);
  assert.match(badWeights.stderr, /--reward-weights: 'like' is not column=weight/);
});
