/** `mtf evaluate` as a user runs it: simulated logs → ingest → evaluate, through bin/mtf.js. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { REWARD_SPEC } from '../../src/sim/index.ts';

// Created at the top level: a tempDir made inside before() would be removed when the hook ends.
const dir = tempDir('mtf-ope-cli-');
const traj = join(dir, 'traj');

before(() => {
  const logs = join(dir, 'logs');
  const sim = runMtf(['simulate', '--out', logs, '--end-date', '2026-11-20', '--days', '2', '--sessions-per-day', '150', '--quiet']);
  assert.equal(sim.code, 0, sim.stderr);
  const ing = runMtf(['ingest', '--logs', logs, '--out', traj, '--reward-weights', REWARD_SPEC, '--end-date', '2026-11-20', '--days', '2', '--test-fraction', '0.3', '--quiet']);
  assert.equal(ing.code, 0, ing.stderr);
});

test('mtf evaluate writes ope-report.json (policies in the given order) and ope-report.html', () => {
  const out = join(dir, 'ope');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'evaluate:\n  fqe:\n    hidden: [16]\n    batchSize: 64\n  oodStates: 200\n');
  const r = runMtf([
    'evaluate', '--data', traj, '--out', out,
    '--policy', 'best=const:0.13,0.27,0.6,0.8,0.6,0.6,0.11,1.2', '--policy', 'behavior', '--policy', 'const:1,0.5,0.4,0.2,0.2,0.2,0.5,1.2',
    '--baseline', 'live=const:1,0.5,0.4,0.2,0.2,0.2,0.5,1.2',
    '--iterations', '30', '--bootstrap', '2', '--bootstrap-iterations', '10', '--config', config,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /behavior check (ok|warn)/);
  const report = JSON.parse(readFileSync(join(out, 'ope-report.json'), 'utf8'));
  assert.deepEqual(report.policies.map((p: { name: string }) => p.name), ['best', 'behavior', 'const:1,0.5,0.4,0.2,0.2,0.2,0.5,1.2']);
  for (const p of report.policies) assert.ok(typeof p.v_hat === 'number' && p.ci95.length === 2);
  assert.equal(report.baseline.name, 'live');
  assert.deepEqual(report.config.fqe.hidden, [16]);
  assert.ok(report.data.has_action_logp, 'the simulator logs action_logp');
  assert.ok(existsSync(join(out, 'ope-report.html')));
});

test('mtf evaluate: bad flags exit 2, bad input 1, with one line naming the flag', () => {
  const noPolicy = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x')]);
  assert.equal(noPolicy.code, 2);
  assert.match(noPolicy.stderr, /^mtf: required option '--policy <spec>' not specified/);
  const badConst = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x'), '--policy', 'const:1,2']);
  assert.equal(badConst.code, 1);
  assert.match(badConst.stderr, /--policy: 'const:1,2' must give 8 finite comma-separated weights/);
  const badBoot = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x'), '--policy', 'behavior', '--bootstrap', '1']);
  assert.equal(badBoot.code, 2);
  assert.match(badBoot.stderr, /--bootstrap: expected a whole number ≥ 2/);
  const dup = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x'), '--policy', 'behavior', '--policy', 'behavior']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /two policies are named 'behavior'/);
  const badSeed = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x'), '--policy', 'behavior', '--latent-seed', 'some']);
  assert.equal(badSeed.code, 2);
  assert.match(badSeed.stderr, /--latent-seed: expected a whole number/);
  // a file that exists but is not a policy is named as such, not "no such file or directory"
  const notPolicy = runMtf(['evaluate', '--data', traj, '--out', join(dir, 'x'), '--policy', join(traj, 'metadata.json')]);
  assert.equal(notPolicy.code, 1);
  assert.match(notPolicy.stderr, /^mtf: --policy: '.*metadata\.json' is a file but not a recognised policy \(a model file ends in \.onnx\); expected \[name=\]behavior/);
});
