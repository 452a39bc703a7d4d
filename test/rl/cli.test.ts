/** `mtf train` end to end, as a user runs it: ingest a fixture log, train, resume, and the error paths. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, runMtf } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'mtf-train-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('mtf train: ingest → train → resume, report on disk, one-line errors', () => {
  const traj = join(dir, 'traj');
  const logs = join(ROOT, 'test', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
  const ing = runMtf(['ingest', '--logs', logs, '--reward-weights', 'play_time_s=1,like=2,share=4', '--out', traj, '--quiet']);
  assert.equal(ing.code, 0, ing.stderr);

  const out = join(dir, 'run');
  const cfg = join(dir, 'train.yaml');
  writeFileSync(cfg, 'train:\n  batchSize: 16\n  vaeHidden: [8]\n  actorHidden: [8]\n  criticHidden: [8]\n  numSamples: 3\n  probeStates: 8\n');
  const common = ['train', '--data', traj, '--out', out, '--config', cfg, '--backend', 'cpu', '--checkpoint-every', '5', '--log-every', '5'];
  const first = runMtf([...common, '--steps', '10']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^completed bcq: 10\/10 steps at [\d.]+ it\/s on cpu/);
  assert.match(first.stderr, /backend: cpu/);
  assert.match(first.stderr, /step 10\/10 \(100\.0%\)/); // not a terminal: log lines, no bar
  const report = JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8'));
  assert.equal(report.stepsDone, 10);
  assert.equal(report.actionNames.length, report.dataset.actionDim);
  assert.ok(existsSync(join(out, 'curves.csv')));

  const resumed = runMtf([...common, '--steps', '15', '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from .*step-000000010 \(step 10\)/);
  assert.equal(JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')).stepsDone, 15);

  // --steps is the total: a run that has them already has nothing to do, and is left as it is (issue 15 §6).
  const before = readdirSync(join(out, 'checkpoints')).map((f) => [f, statSync(join(out, 'checkpoints', f)).mtimeMs]);
  const reportBefore = readFileSync(join(out, 'training-report.json'), 'utf8');
  const done = runMtf([...common, '--steps', '10', '--resume']);
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.stdout, `nothing to do: ${out} already holds 15 steps of bcq (--steps 10); give a larger --steps to train further\n`);
  assert.deepEqual(readdirSync(join(out, 'checkpoints')).map((f) => [f, statSync(join(out, 'checkpoints', f)).mtimeMs]), before);
  assert.equal(readFileSync(join(out, 'training-report.json'), 'utf8'), reportBefore);

  // A new run never trains into another run's folder (its checkpoints would sit beside the old ones).
  const again = runMtf([...common, '--steps', '10']);
  assert.equal(again.code, 1, again.stderr);
  assert.equal(again.stderr, `mtf: --out: ${out} is not empty (a training run, latest checkpoint step-000000015); --resume continues that run, or give a new --out (delete the folder to start over)\n`);
  assert.equal(readFileSync(join(out, 'training-report.json'), 'utf8'), reportBefore, 'the old run is untouched');

  const badAlgo = runMtf(['train', '--data', traj, '--out', out, '--algo', 'sac']);
  assert.equal(badAlgo.code, 2);
  assert.equal(badAlgo.stderr, "mtf: --algo: expected one of bcq, bc, td3, td3bc, tscac, iql, got 'sac' (see mtf train --help)\n");
  writeFileSync(cfg, 'train:\n  gamma: 1.5\n');
  const badCfg = runMtf([...common.map((a) => (a === out ? join(dir, 'run2') : a)), '--steps', '3']);
  assert.equal(badCfg.code, 1);
  assert.match(badCfg.stderr, /^mtf: config: gamma: Too big/);
  const noData = runMtf(['train', '--data', join(dir, 'nope'), '--out', out]);
  assert.equal(noData.code, 1, noData.stderr);
});
