/**
 * OPE of an exported model: a trained BCQ checkpoint and the policy.onnx `mtf export` wrote from it (real
 * onnxruntime, through the model store's CURRENT) must be one policy to the estimator — the same
 * actions on every test state, hence the same V̂. Catches any disagreement between the two paths'
 * normalisation or latent samples that the linear hand-written ONNX models of policies.test.ts cannot.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { readTrajectories } from '../../src/data/index.ts';
import { exportModel } from '../../src/export/index.ts';
import { evaluatePolicies } from '../../src/ope/evaluate.ts';
import { loadEvalPolicy, type EvalPolicy } from '../../src/ope/policies.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ingestAndTrainTinyBcq, writeOpeReport } from '../export/helpers.ts';

describe('OPE of an exported BCQ model equals OPE of its checkpoint', () => {
  const dir = tempDir('mtf-ope-exported-');
  const traj = join(dir, 'traj');
  const run = join(dir, 'run');
  const store = join(dir, 'models');

  before(async () => {
    await ingestAndTrainTinyBcq(traj, run, 30);
    const ope = writeOpeReport(dir, [
      { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
      { name: 'bcq', v_hat: 1.0, ci95: [0.9, 1.1] },
    ]);
    await exportModel({ checkpoint: run, opeReport: ope, storeDir: store, name: 'feed', data: traj, checkStates: 100 });
  });

  test('same actions on every test state, same V̂ and interval (a BCQ checkpoint acts with the baked latent codes)', async () => {
    const { batch, metadata } = await readTrajectories(traj, 'test');
    const dims = { stateDim: batch.stateDim, actionDim: batch.actionDim };
    const ckpt = await loadEvalPolicy(`checkpoint=${run}`, dims);
    const onnx = await loadEvalPolicy(`exported=${join(store, 'feed')}`, dims);
    try {
      const act = (p: EvalPolicy) => (p.kind === 'fn' ? p.act(batch.state, batch.n) : assert.fail(`${p.name} is not a function policy`));
      const [a, b] = [await act(ckpt), await act(onnx)];
      assert.equal(a.length, b.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert.ok(worst < 1e-4, `largest |α_ckpt − α_onnx| = ${worst}`);

      const report = await evaluatePolicies({
        batch,
        metadata,
        dataDir: traj,
        policies: [ckpt, onnx],
        config: { fqe: { iterations: 200, hidden: [32, 32], batchSize: 64 }, bootstrap: 2, bootstrapIterations: 20, oodStates: 50, backend: 'cpu' },
      });
      const [pc, po] = report.policies.filter((p) => p.name !== 'behavior');
      assert.deepEqual([pc.name, po.name], ['checkpoint', 'exported']);
      // Same seed, same minibatches, actions equal to float32 rounding: V̂ agrees to well under 0.1%.
      const rel = Math.abs(pc.v_hat - po.v_hat) / Math.max(1e-9, Math.abs(pc.v_hat));
      assert.ok(rel < 1e-3, `V̂ checkpoint ${pc.v_hat} vs exported ${po.v_hat}`);
      assert.ok(Math.abs(pc.ci95[0] - po.ci95[0]) <= 1e-3 * Math.abs(pc.ci95[0]) + 1e-6, `ci95 ${pc.ci95} vs ${po.ci95}`);
      assert.equal(pc.ood.share, po.ood.share);
      assert.equal(pc.latent_seed, 0, 'the report says which codes scored the checkpoint (the export checks it)');
      assert.equal(po.latent_seed, undefined);
      // The paper's π draws fresh codes per call: a different (stochastic) function from the one shipped.
      const fresh = await loadEvalPolicy(`fresh=${run}`, { ...dims, latentSeed: null });
      const c = fresh.kind === 'fn' ? await fresh.act(batch.state, batch.n) : assert.fail('not a function policy');
      if (fresh.kind === 'fn') await fresh.dispose?.();
      assert.ok(c.some((v, i) => Math.abs(v - a[i]) > 1e-3), 'fresh latent codes give other actions than the baked ones');
    } finally {
      for (const p of [ckpt, onnx]) if (p.kind === 'fn') await p.dispose?.();
    }
  });
});
