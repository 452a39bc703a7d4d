/**
 * The pre-defined action interval (config actionInterval, src/rl/README.md §3.5): how the box is derived,
 * that logged α outside it are truncated for training and counted in the report, and that a policy
 * answers inside it (the exported graph clips the same way: src/export/graphs.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACTION_INTERVAL_DEFAULT, describeConfig, runConfigSchema, TrainerConfigSchema } from '../../src/rl/config.ts';
import { train } from '../../src/rl/index.ts';
import { actionBox, dimStats, normalizationFromStats, normalizeActions, outsideBox } from '../../src/rl/normalization.ts';
import { prepareData } from '../../src/rl/trainingData.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const stats = { mean: [1, 0], std: [0.5, 0], min: [-1, 0], max: [4, 0] };

describe('actionBox', () => {
  test("'data' is the statistics' [min, max]; {sd: k} is mean ± k·sd; {min, max} is taken as given", () => {
    assert.deepEqual(actionBox(stats, 'data'), { min: [-1, 0], max: [4, 0] });
    // a coordinate with sd 0 falls back to [min, max]
    assert.deepEqual(actionBox(stats, { sd: 4 }), { min: [-1, 0], max: [3, 0] });
    assert.deepEqual(actionBox(stats, { sd: 2 }), { min: [0, 0], max: [2, 0] });
    assert.deepEqual(actionBox(stats, { min: [0, -1], max: [2, 1] }), { min: [0, -1], max: [2, 1] });
    assert.throws(() => actionBox(stats, { min: [0], max: [2] }), /1\/1 bounds for 2 action dimensions/);
  });

  test('the config field: default {sd: 4}, validated, documented with the paper value', () => {
    assert.deepEqual(TrainerConfigSchema.parse({}).actionInterval, { sd: 4 });
    assert.deepEqual(ACTION_INTERVAL_DEFAULT, { sd: 4 });
    assert.equal(TrainerConfigSchema.parse({ actionInterval: 'data' }).actionInterval, 'data');
    assert.throws(() => TrainerConfigSchema.parse({ actionInterval: { sd: 0 } }));
    assert.throws(() => TrainerConfigSchema.parse({ actionInterval: { min: [1, 0], max: [0, 1] } }));
    assert.throws(() => TrainerConfigSchema.parse({ actionInterval: { min: [0], max: [1, 2] } }));
    assert.throws(() => TrainerConfigSchema.parse({ actionInterval: 'minmax' }));
    const doc = describeConfig(runConfigSchema('bcq')).find((l) => l.startsWith('actionInterval '))!;
    assert.match(doc, /paper: a pre-defined interval/);
    for (const f of ['klWeight', 'vaeActionScale']) assert.match(describeConfig(runConfigSchema('bcq')).find((l) => l.startsWith(`${f} `))!, /paper/);
  });

  test('normalizeActions truncates to [−1, 1] only when asked', () => {
    const norm = normalizationFromStats({ mean: [0], std: [1], min: [0], max: [0] }, stats, { min: [0, -1], max: [2, 1] });
    const a = Float32Array.from([3, 0.5, -1, -2]);
    assert.deepEqual(Array.from(normalizeActions(a, norm)), [2, 0.5, -2, -2]);
    assert.deepEqual(Array.from(normalizeActions(a, norm, true)), [1, 0.5, -1, -1]);
    assert.deepEqual(outsideBox(a, 2, norm), { rows: 2, share: [1, 0.5] });
  });
});

test('training in a narrower interval: rows outside are truncated and counted, the policy answers inside it', async () => {
  const batch = syntheticBatch({ n: 160, stateDim: 3, actionDim: 2 });
  const s = dimStats(batch.action, batch.n, batch.actionDim);
  const box = { min: s.mean.map((m) => m - 0.1), max: s.mean.map((m) => m + 0.1) };
  const norm = normalizationFromStats(dimStats(batch.state, batch.n, 3), s, box);
  const outside = outsideBox(batch.action, batch.n, norm);
  assert.ok(outside.rows > 20, `${outside.rows} rows outside ±0.1 of the mean`);
  const d = prepareData(batch, norm);
  assert.ok(d.a.every((u) => u >= -1 && u <= 1), 'the training actions are truncated to the interval');
  for (const algo of ['bcq', 'td3'] as const) {
    const { policy, report } = await train({ batch, config: tinyConfig(algo, { steps: 6, actionInterval: box }), progress: 'none' });
    try {
      assert.deepEqual(report.actionInterval, { min: box.min, max: box.max, rowsOutside: outside.rows, shareOutside: outside.share });
      assert.deepEqual(policy.spec().normalization.actionMin, box.min);
      const alpha = policy.act(batch.state, batch.n);
      alpha.forEach((v, i) => {
        const j = i % 2;
        assert.ok(v >= box.min[j] - 1e-6 && v <= box.max[j] + 1e-6, `${algo}: α[${i}] = ${v} outside [${box.min[j]}, ${box.max[j]}]`);
      });
    } finally {
      policy.dispose();
    }
  }
});
