/**
 * One conformance run for every algorithm (and BCQ, TD3+BC with an ensemble of critics): fit → checkpoint → loadPolicy → act parity; actions inside
 * the action interval; the policy spec carries what an ONNX export needs; no tensor left behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ALGOS, loadPolicy, train } from '../../src/rl/index.ts';
import { ACTION_INTERVAL_DEFAULT } from '../../src/rl/config.ts';
import { actionBox, dimStats } from '../../src/rl/normalization.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const batch = syntheticBatch({ n: 160, stateDim: 3, actionDim: 2 });
/** the default action interval (mean ± 4 sd of the logged α, src/rl/README.md §3.5): every policy answers inside it */
const box = actionBox(dimStats(batch.action, batch.n, batch.actionDim), ACTION_INTERVAL_DEFAULT);
// TSCAC's auxiliary response (tinyConfig('tscac')); the other algorithms ignore feedback columns they do not name
batch.feedback = { click: Float32Array.from(batch.reward, (r) => (r > -0.5 ? 1 : 0)) };

/** every algorithm at its defaults, and BCQ and TD3+BC with ensemble pessimism (config critics, README §12) */
const CASES: [(typeof ALGOS)[number], Record<string, unknown>][] = [
  ...ALGOS.map((a): [(typeof ALGOS)[number], Record<string, unknown>] => [a, {}]),
  ['bcq', { critics: { count: 3, target: 'mean-std', k: 1 } }],
  ['td3bc', { critics: { count: 5, target: 'subset-min', subset: 2 } }],
];

describe('every algorithm: fit → save → load → act', () => {
  for (const [algo, extra] of CASES) {
    test(`${algo}${extra.critics ? ` ${JSON.stringify(extra.critics)}` : ''}`, async () => {
      const out = mkdtempSync(join(tmpdir(), `mtf-${algo}-`));
      dirs.push(out);
      const before = tf.memory().numTensors;
      const { policy, report } = await train({ batch, config: tinyConfig(algo, { steps: 12, ...extra }), outDir: out, progress: 'none' });
      assert.equal(report.status, 'completed');
      const states = batch.state.subarray(0, 10 * batch.stateDim);
      const alpha = policy.act(states, 10);
      assert.equal(alpha.length, 10 * batch.actionDim);
      alpha.forEach((v, i) => {
        const j = i % batch.actionDim;
        assert.ok(v >= box.min[j] - 1e-4 && v <= box.max[j] + 1e-4, `α[${i}] = ${v} outside [${box.min[j]}, ${box.max[j]}]`);
      });
      const spec = policy.spec();
      assert.equal(spec.algo, algo);
      assert.deepEqual(spec.normalization.actionMin, box.min);
      const layers = spec.networks.kind === 'bcq' ? spec.networks.decoder : spec.networks.kind === 'vae-decoder' ? spec.networks.decoder : spec.networks.actor;
      assert.equal(layers.at(-1)!.activation, 'tanh');
      assert.equal(layers[0].W.length, layers[0].inDim * layers[0].outDim);

      const loaded = await loadPolicy(out, { backend: 'cpu' });
      const again = loaded.act(states, 10);
      assert.deepEqual(Array.from(again), Array.from(alpha), 'reloaded policy acts the same (same weights, same seed)');
      loaded.dispose();
      policy.dispose();
      assert.equal(tf.memory().numTensors, before);
      assert.throws(() => policy.act(states, 10), /disposed/);
    });
  }
});
