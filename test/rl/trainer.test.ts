/**
 * The training loop: no tensor leaks, determinism, resume = uninterrupted (bit for bit), NaN handling,
 * config errors, report and curves. Tiny networks on the plain CPU backend (exact and fast).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../src/errors/index.ts';
import { NonFiniteError, train, type TrainingReport } from '../../src/rl/index.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtf-rl-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const batch = syntheticBatch({ n: 200 });
const latestBin = (out: string) => readFileSync(join(out, 'checkpoints', readFileSync(join(out, 'checkpoints', 'LATEST'), 'utf8').trim(), 'tensors.bin'));
const latestManifest = (out: string) =>
  JSON.parse(readFileSync(join(out, 'checkpoints', readFileSync(join(out, 'checkpoints', 'LATEST'), 'utf8').trim(), 'manifest.json'), 'utf8'));

describe('trainer', () => {
  test('a run leaves tf.memory().numTensors where it found it, and writes report + curves', async () => {
    await train({ batch, config: tinyConfig('bcq', { steps: 2 }), progress: 'none' }).then((r) => r.policy.dispose()); // warm up kernels
    const before = tf.memory().numTensors;
    const out = tmp();
    const { policy, report } = await train({ batch, config: tinyConfig('bcq'), outDir: out, progress: 'none' });
    const alpha = policy.act(batch.state.subarray(0, 3 * batch.stateDim), 3);
    assert.equal(alpha.length, 3 * batch.actionDim);
    policy.dispose();
    assert.equal(tf.memory().numTensors, before);

    assert.equal(report.status, 'completed');
    assert.equal(report.stepsDone, 20);
    assert.equal(report.dataset.truncatedRows, batch.truncated.reduce((a, b) => a + b, 0));
    const onDisk = JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')) as TrainingReport;
    assert.deepEqual(onDisk.curves.step, [5, 10, 15, 20]);
    for (const k of ['vaeLoss', 'criticLoss', 'actorLoss', 'qMean', 'qStd']) assert.equal(onDisk.curves.scalars[k].length, 4, k);
    assert.equal(onDisk.curves.actionMean[0].length, batch.actionDim);
    assert.ok(onDisk.curves.policyQMean.every((q) => q !== null && Number.isFinite(q)));
    const csv = readFileSync(join(out, 'curves.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 5);
    assert.match(csv[0], /^step,.*criticLoss.*,mean_a0,mean_a1,std_a0,std_a1$/);
  });

  test('same seed → same weights; another seed → other weights', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    for (const [out, seed] of [[a, 7], [b, 7], [c, 8]] as const) {
      (await train({ batch, config: tinyConfig('bcq', { seed }), outDir: out, progress: 'none' })).policy.dispose();
    }
    assert.ok(latestBin(a).equals(latestBin(b)));
    assert.ok(!latestBin(a).equals(latestBin(c)));
  });

  test('stop at step 13 + resume = an uninterrupted run, bit for bit (also from the periodic checkpoint)', async () => {
    const [full, resumed, crashed] = [tmp(), tmp(), tmp()];
    const cfg = tinyConfig('bcq', { steps: 20, checkpointEvery: 10, logEvery: 4 });
    (await train({ batch, config: cfg, outDir: full, progress: 'none' })).policy.dispose();

    for (const out of [resumed, crashed]) {
      const stop = new AbortController();
      const first = await train({ batch, config: cfg, outDir: out, progress: 'none', signal: stop.signal, onStep: (s) => s === 13 && stop.abort() });
      first.policy.dispose();
      assert.equal(first.report.status, 'stopped');
      assert.equal(latestManifest(out).step, 13);
    }
    // a crash after step 13 loses what was not checkpointed: resume from step 10
    writeFileSync(join(crashed, 'checkpoints', 'LATEST'), 'step-000000010\n');

    for (const out of [resumed, crashed]) {
      const second = await train({ batch, config: cfg, outDir: out, resume: true, progress: 'none' });
      second.policy.dispose();
      assert.equal(second.report.stepsDone, 20);
      assert.ok(latestBin(out).equals(latestBin(full)), `${out}: weights, targets and Adam moments equal`);
      assert.deepEqual(latestManifest(out).rng, latestManifest(full).rng);
      assert.deepEqual(latestManifest(out).counters, latestManifest(full).counters);
      const curves = (d: string) => (JSON.parse(readFileSync(join(d, 'training-report.json'), 'utf8')) as TrainingReport).curves;
      assert.deepEqual(curves(out), curves(full));
    }
  });

  test('resume refuses another config or other data, naming what differs', async () => {
    const out = tmp();
    (await train({ batch, config: tinyConfig('bcq', { steps: 10 }), outDir: out, progress: 'none' })).policy.dispose();
    await assert.rejects(
      train({ batch, config: tinyConfig('bcq', { steps: 20, gamma: 0.9 }), outDir: out, resume: true, progress: 'none' }),
      (e: Error) => e instanceof InputError && /gamma/.test(e.message),
    );
    await assert.rejects(
      train({ batch: syntheticBatch({ n: 200, seed: 2 }), config: tinyConfig('bcq', { steps: 20 }), outDir: out, resume: true, progress: 'none' }),
      (e: Error) => e instanceof InputError && /data differs/.test(e.message),
    );
    // more steps is fine
    const more = await train({ batch, config: tinyConfig('bcq', { steps: 15 }), outDir: out, resume: true, progress: 'none' });
    more.policy.dispose();
    assert.equal(more.report.resumedFrom, 10);
  });

  test('NaN/Inf stops training with an error naming the quantity, and writes no checkpoint', async () => {
    const out = tmp();
    const bad = syntheticBatch({ n: 200 });
    bad.reward.fill(3e38); // finite data whose squared TD error overflows
    const before = tf.memory().numTensors;
    await assert.rejects(
      // rewardScale 1: 'auto' would divide the huge rewards back down to 1
      train({ batch: bad, config: tinyConfig('bcq', { checkpointEvery: 1, rewardScale: 1 }), outDir: out, progress: 'none' }),
      (e: Error) => e instanceof NonFiniteError && /criticLoss|targetMean|qMean|actorLoss/.test(e.message) && /step 1\b/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before);
    assert.ok(!existsSync(join(out, 'checkpoints', 'LATEST')));
    const report = JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')) as TrainingReport;
    assert.equal(report.status, 'diverged');
    assert.match(report.error!, /diverged/);
  });

  test('bad input: non-finite data and invalid config fields are InputErrors naming the field', async () => {
    const bad = syntheticBatch({ n: 50 });
    bad.state[7] = NaN;
    await assert.rejects(train({ batch: bad, config: tinyConfig('bcq'), progress: 'none' }), /state is not finite \(NaN\) at row 1, column 3/);
    await assert.rejects(train({ batch, config: tinyConfig('bcq', { eta: 0 }), progress: 'none' }), (e: Error) => e instanceof InputError && /eta/.test(e.message));
    await assert.rejects(train({ batch, config: tinyConfig('bcq', { policyNoise: 0.1 }), progress: 'none' }), /Unrecognized key.*policyNoise/);
  });
});
