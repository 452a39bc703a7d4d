/**
 * Export of a BCQ policy trained with per-response critics (config `responses`, src/rl/README.md §7):
 * the policy spec carries Σ_i w_i·Q1_i folded into one MLP (exact), so the ONNX graphs, the parity checks
 * and the gate work unchanged — for both critic kinds (multihead, and separate: block-diagonal).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { exportModel, ManifestSchema, readVersion } from '../../src/export/index.ts';
import { loadPolicy, train } from '../../src/rl/index.ts';
import { assignArm, FusionScorer, type PublishedExploration } from '../../src/serving/index.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { tinyConfig } from '../rl/helpers.ts';
import { onnxCheck, PYTHON_ONNX, writeOpeReport } from './helpers.ts';

/** exploration the 'separate' export carries into its manifest (the 'multihead' one passes none) */
const EXPLORATION: PublishedExploration = { key: 'responses-test', arms: [{ name: 'noise', share: 0.7, sigma: 0.2 }, { name: 'control', share: 0.3, sigma: 0 }] };

const RESPONSES = [
  { name: 'play_time_s', weight: 1, gamma: 0.95 },
  { name: 'like', weight: 2, gamma: 0 },
  { name: 'share', weight: 4, gamma: 0 },
];

describe('export of a multi-critic BCQ', () => {
  const dir = tempDir();
  const traj = join(dir, 'traj');

  before(async () => {
    const logs = join(ROOT, 'test', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
    await ingest({ logs, window: null, reward: parseRewardWeights('play_time_s=1,like=2,share=4'), out: traj });
  });

  for (const kind of ['multihead', 'separate'] as const) {
    test(`${kind}: published with parity, one-output q1 of width ${kind === 'separate' ? 'R × hidden' : 'hidden'}`, async () => {
      const { batch, metadata } = await readTrajectories(traj, 'train');
      const run = join(dir, `run-${kind}`);
      const { policy } = await train({
        batch,
        stats: { state: metadata.state_stats, action: metadata.action_stats },
        actionNames: metadata.action_names,
        config: tinyConfig('bcq', { steps: 10, checkpointEvery: 10, responses: RESPONSES, responseCritic: kind }),
        outDir: run,
        progress: 'none',
      });
      policy.dispose();
      const loaded = await loadPolicy(run, { backend: 'cpu' });
      const net = loaded.spec().networks;
      loaded.dispose();
      assert.equal(net.kind, 'bcq');
      if (net.kind === 'bcq') {
        assert.equal(net.q1.at(-1)!.outDim, 1);
        assert.equal(net.q1[0].outDim, kind === 'separate' ? 3 * 8 : 8); // tinyConfig: criticHidden [8]
      }

      const ope = writeOpeReport(dir, [
        { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
        { name: 'bcq', v_hat: 1.0, ci95: [0.9, 1.1] },
      ], `ope-${kind}.json`);
      const store = join(dir, `models-${kind}`);
      const exploration = kind === 'separate' ? EXPLORATION : undefined;
      const written = await exportModel({ checkpoint: run, opeReport: ope, storeDir: store, name: 'feed', data: traj, checkStates: 200, exploration });
      const m = ManifestSchema.parse(readVersion(store, 'feed', written.version).manifest);
      assert.equal(m.status, 'published');
      assert.equal(m.source.policy_kind, 'bcq');
      assert.ok(m.gate.parity.passed && m.gate.parity.max_abs_diff <= 1e-4, JSON.stringify(m.gate.parity));
      assert.ok(m.gate.actions.passed);
      assert.deepEqual(m.exploration, exploration ?? null, 'ExportOptions.exploration → manifest.exploration (default null)');
      if (exploration) {
        // served as published: FusionScorer explores per session with the manifest's settings
        const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
        try {
          const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
          const states = Float32Array.from(ids.flatMap(() => m.normalization.state_mean));
          const r = await scorer.scoreSessions(states, new Float32Array(ids.length * 4 * m.action.dim).fill(0.3), ids);
          ids.forEach((id, i) => assert.equal(r.policyIds[i], `${assignArm(id, exploration.key, exploration).name}:${written.version}`));
        } finally {
          await scorer.close();
        }
      }
      if (PYTHON_ONNX) {
        const dirV = readVersion(store, 'feed', written.version).dir;
        const check = onnxCheck([join(dirV, 'policy.onnx'), join(dirV, 'scorer.onnx')]);
        assert.ok(check.ok, check.output);
      }
    });
  }
});
