import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('mtf-sim-cli-');

test('mtf simulate writes a Hive-partitioned log and says how to ingest it', () => {
  const out = join(dir, 'logs');
  const r = runMtf(['simulate', '--out', out, '--end-date', '2025-11-20', '--days', '2', '--sessions-per-day', '40', '--seed', '3', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^simulated 80 sessions \(\d+ requests\) .* ingest with --reward-weights play_time_s=1,like=10,share=30,comment=20,follow=40\n$/);
  assert.ok(readdirSync(out).includes('dt=2025-11-19'));
});

test('mtf simulate --scenario picks the production; --policy takes a model store version (the next night explores around it)', async () => {
  const { publishRandom } = await import('../export/helpers.ts');
  const { STATE_DIM, NUM_TASKS } = await import('../../src/sim/index.ts');
  const legacy = runMtf(['simulate', '--out', join(dir, 'legacy'), '--end-date', '2025-11-20', '--days', '1', '--sessions-per-day', '30', '--scenario', 'hand-tuned-production', '--quiet']);
  assert.equal(legacy.code, 0, legacy.stderr);
  assert.match(legacy.stdout, / around hand-tuned-production → /);
  const bad = runMtf(['simulate', '--out', join(dir, 'x'), '--end-date', '2025-11-20', '--scenario', 'nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--scenario: expected one of tuned-production, hand-tuned-production, got 'nope'/);
  const store = tempDir('mtf-sim-store-');
  const v = publishRandom(store, 'fusion', { spec: { stateDim: STATE_DIM, actionDim: NUM_TASKS } });
  const r = runMtf(['simulate', '--out', join(dir, 'next'), '--end-date', '2025-11-21', '--days', '1', '--sessions-per-day', '30', '--policy', v.dir, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(` around fusion@${v.version} → `));
});

test('mtf simulate --policy store:<store>/<model>: the ranking stack serves the traffic with its manifest\'s exploration', async () => {
  const { publishRandom } = await import('../export/helpers.ts');
  const { STATE_DIM, NUM_TASKS } = await import('../../src/sim/index.ts');
  const { defaultPublishedExploration } = await import('../../src/serving/index.ts');
  const { duckdbQuery } = await import('./helpers.ts');
  const store = tempDir('mtf-sim-stack-');
  const v = publishRandom(store, 'fusion', { spec: { stateDim: STATE_DIM, actionDim: NUM_TASKS }, exploration: defaultPublishedExploration() });
  const out = join(dir, 'stack');
  const r = runMtf(['simulate', '--out', out, '--end-date', '2025-11-22', '--days', '1', '--sessions-per-day', '40', '--policy', `store:${join(store, 'fusion')}`, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rows = await duckdbQuery(`SELECT policy_id, count(*) AS n, count(action_logp) AS with_logp FROM read_parquet('${out}/*/*.parquet') GROUP BY policy_id ORDER BY policy_id`);
  assert.deepEqual(rows.map((x) => x.policy_id), ['action_noise', 'control', 'random_explore'].map((a) => `${a}:${v.version}`));
  for (const x of rows) assert.equal(Number(x.with_logp), String(x.policy_id).startsWith('control:') ? 0 : Number(x.n), `${x.policy_id}: action_logp null exactly on the control arm`);
  const bad = runMtf(['simulate', '--out', join(dir, 'x2'), '--end-date', '2025-11-22', '--days', '1', '--policy', `store:${join(store, 'nope')}`, '--quiet']);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /nope/);
});

test('mtf truth prints the ground-truth JSON; --baseline adds the paired difference', () => {
  const r = runMtf(['truth', '--policy', 'const:0.1,0.3,0.6,0.8,0.6,0.6,0.3,1.2', '--sessions', '100', '--seed', '2']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ['discounted_return', 'return', 'dwell_time', 'interaction_rate', 'session_length']) {
    assert.equal(typeof j[k].mean, 'number');
    assert.equal(j[k].ci95.length, 2);
  }
  assert.equal(j.sessions, 100);
  assert.equal(j.seed, 2);
  const c = runMtf(['truth', '--policy', 'best', '--baseline', 'behavior', '--sessions', '60']);
  assert.equal(c.code, 0, c.stderr);
  const jc = JSON.parse(c.stdout);
  assert.equal(jc.policy, 'best');
  assert.equal(jc.baseline.policy, 'behavior');
  assert.ok(Math.abs(jc.difference.return.mean - (jc.return.mean - jc.baseline.return.mean)) < 1e-6);
});

test('bad flags (exit 2) and bad input (exit 1): one line on stderr naming the flag', () => {
  for (const [args, pattern, code] of [
    [['truth', '--policy', 'const:1,2'], /--policy: 'const:1,2' must give 8/, 1],
    [['truth', '--policy', 'best', '--sessions', '0'], /--sessions: expected a whole number ≥ 2, got '0'/, 2],
    [['simulate', '--out', join(dir, 'x'), '--end-date', '2025-02-30'], /--end-date: expected a date YYYY-MM-DD, got '2025-02-30'/, 2],
  ] as const) {
    const r = runMtf([...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
