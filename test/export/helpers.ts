/**
 * Test helpers for src/export and src/serving: policy specs with random weights (shape tests, the
 * store, the benchmark), a real tiny trained policy (parity against TensorFlow.js), an OPE report,
 * and the TensorFlow.js reference of the exported computation with the same baked latent samples.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fusionModel, MANIFEST_FORMAT, policyGraph, scorerGraph, writeVersion, type FusionModel, type HeldLock, type Manifest, type StoreLeaseOptions, type WrittenVersion } from '../../src/export/index.ts';
import { POLICY_FORMAT, type LayerSpec, type PolicyNetworks, type PolicySpec } from '../../src/rl/index.ts';

/** A small deterministic generator for test data (not the code under test's). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mlp(sizes: number[], last: LayerSpec['activation'], rnd: () => number, scale = 1): LayerSpec[] {
  return sizes.slice(0, -1).map((inDim, i) => {
    const outDim = sizes[i + 1];
    const bound = scale / Math.sqrt(inDim);
    return {
      inDim,
      outDim,
      W: Float32Array.from({ length: inDim * outDim }, () => (2 * rnd() - 1) * bound),
      b: Float32Array.from({ length: outDim }, () => (2 * rnd() - 1) * bound),
      activation: i + 2 < sizes.length ? 'relu' : last,
    };
  });
}

export interface SpecOptions {
  kind?: PolicyNetworks['kind'];
  stateDim?: number;
  actionDim?: number;
  hidden?: number[];
  numSamples?: number;
  seed?: number;
}

/** A PolicySpec with random weights (PyTorch-style init) and a non-trivial normalisation. */
export function randomSpec(opts: SpecOptions = {}): PolicySpec {
  const { kind = 'bcq', stateDim: S = 5, actionDim: A = 3, hidden = [16, 16], numSamples = 10, seed = 1 } = opts;
  const rnd = seeded(seed);
  const L = 2 * A;
  const networks: PolicyNetworks =
    kind === 'bcq'
      ? {
          kind,
          decoder: mlp([S + L, ...hidden, A], 'tanh', rnd, 3),
          perturbation: mlp([S + A, ...hidden, A], 'tanh', rnd),
          q1: mlp([S + A, ...hidden, 1], 'linear', rnd, 3),
          latentDim: L,
          zClip: 0.5,
          rho: 0.15,
          numSamples,
        }
      : kind === 'vae-decoder'
        ? { kind, decoder: mlp([S + L, ...hidden, A], 'tanh', rnd, 3), latentDim: L }
        : { kind, actor: mlp([S, ...hidden, A], 'tanh', rnd, 3) };
  return {
    format: POLICY_FORMAT,
    algo: kind === 'bcq' ? 'bcq' : kind === 'vae-decoder' ? 'bc' : 'td3',
    stateDim: S,
    actionDim: A,
    normalization: {
      stateMean: Array.from({ length: S }, (_, j) => j - 1),
      stateStd: Array.from({ length: S }, (_, j) => 0.5 + j),
      actionMin: Array.from({ length: A }, (_, j) => 0.1 * j),
      actionMax: Array.from({ length: A }, (_, j) => 1 + j),
    },
    networks,
  };
}

/** `count` states around the normalisation's mean (±3σ, some beyond), logged units. */
export function randomStates(spec: Pick<PolicySpec, 'stateDim' | 'normalization'>, count: number, seed = 7): Float32Array {
  const rnd = seeded(seed);
  const d = spec.stateDim;
  return Float32Array.from({ length: count * d }, (_, i) => {
    const j = i % d;
    return spec.normalization.stateMean[j] + (6 * rnd() - 3) * spec.normalization.stateStd[j];
  });
}

/** task scores o ∈ [0, 1) with some exact zeros (β keeps log finite). */
export function randomTaskScores(count: number, candidates: number, k: number, seed = 11): Float32Array {
  const rnd = seeded(seed);
  return Float32Array.from({ length: count * candidates * k }, () => (rnd() < 0.05 ? 0 : rnd()));
}

/**
 * The exported computation in TensorFlow.js ops, straight from the LayerSpecs (as src/rl's mlp() runs
 * them: [s, ·] blocks, hidden ReLU, last layer's activation) with the model's baked latent samples.
 * Returns α [N × k] and, for BCQ, Q1 of every candidate [N × n].
 */
export function tfjsReference(m: FusionModel, states: Float32Array, count: number): { alpha: Float32Array; q: Float32Array | null } {
  const { stateDim: d, actionDim: k, normalization: norm, networks: net } = m;
  const run = (layers: LayerSpec[], x: tf.Tensor2D) =>
    layers.reduce((h, l) => {
      const y = tf.add(tf.matMul(h, tf.tensor2d(l.W, [l.inDim, l.outDim])), tf.tensor1d(l.b)) as tf.Tensor2D;
      return l.activation === 'relu' ? tf.relu(y) : l.activation === 'tanh' ? tf.tanh(y) : y;
    }, x);
  const out = tf.tidy(() => {
    const s = tf.div(tf.sub(tf.tensor2d(states, [count, d]), tf.tensor1d(norm.stateMean)), tf.tensor1d(norm.stateStd)) as tf.Tensor2D;
    let u: tf.Tensor2D;
    let q: tf.Tensor | null = null;
    if (net.kind === 'deterministic') u = run(net.actor, s);
    else if (net.kind === 'vae-decoder') u = run(net.decoder, tf.concat([s, tf.zeros([count, net.latentDim])], 1));
    else {
      const n = net.numSamples;
      const sRep = tf.reshape(tf.tile(tf.expandDims(s, 1) as tf.Tensor3D, [1, n, 1]), [count * n, d]) as tf.Tensor2D;
      const z = tf.tile(tf.tensor2d(m.latent!, [n, net.latentDim]), [count, 1]) as tf.Tensor2D;
      const a = run(net.decoder, tf.concat([sRep, z], 1));
      const xi = tf.clipByValue(tf.add(a, tf.mul(net.rho, run(net.perturbation, tf.concat([sRep, a], 1)))), -1, 1) as tf.Tensor2D;
      const q1 = tf.reshape(run(net.q1, tf.concat([sRep, xi], 1)), [count, n]);
      const best = tf.argMax(q1, 1);
      u = tf.gather(tf.reshape<tf.Rank.R3>(xi, [count, n, k]), best, 1, 1) as unknown as tf.Tensor2D;
      q = q1;
    }
    const lo = tf.tensor1d(norm.actionMin);
    const hi = tf.tensor1d(norm.actionMax);
    const alpha = tf.add(lo, tf.mul(tf.div(tf.add(tf.clipByValue(u, -1, 1), 1), 2), tf.sub(hi, lo)));
    return q ? [alpha, q] : [alpha];
  });
  const alpha = Float32Array.from(out[0].dataSync() as Float32Array);
  const q = out[1] ? Float32Array.from(out[1].dataSync() as Float32Array) : null;
  tf.dispose(out);
  return { alpha, q };
}

/** An ope-report.json with the fields the gate reads (and a few it must ignore). */
export function writeOpeReport(dir: string, policies: { name: string; v_hat: number; ci95: [number, number] | null; latent_seed?: number | null }[], file = 'ope-report.json'): string {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify({ format: 'test', estimator: 'fqe', policies: policies.map((p) => ({ ...p, ood_share: 0.1 })) }, null, 2));
  return path;
}

/** Whether Debian's python3-onnx is installed (the checker tests skip, saying so, when it is not). */
export const PYTHON_ONNX: string | null = (() => {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();

/** Runs onnx.checker.check_model (full_check: shape inference too) on each file; returns stderr on failure. */
export function onnxCheck(files: string[]): { ok: boolean; output: string } {
  const script = 'import sys, onnx\nfor f in sys.argv[1:]:\n    m = onnx.load(f)\n    onnx.checker.check_model(m, full_check=True)\n    print(f, "ok", m.ir_version, m.opset_import[0].version)\n';
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8' });
  return { ok: r.status === 0, output: (r.stdout + r.stderr).trim() };
}

/** A manifest for `model` as exportModel would write it (for store and serving tests that skip training). */
export function testManifest(model: FusionModel, name: string, ctx: { version: string; files: Manifest['files']; replaces: string | null }, status: 'published' | 'rejected' = 'published'): Manifest {
  const norm = model.normalization;
  const parity = { passed: true, states: 0, max_abs_diff: 0, near_ties: 0, near_tie_flips: 0, mismatches: 0, score_max_rel_diff: 0, scorer_policy_diff: 0, tfjs_max_abs_diff: null, tolerance: 1e-4 };
  return {
    format: MANIFEST_FORMAT,
    name,
    version: ctx.version,
    created_at: new Date().toISOString(),
    status,
    replaces: ctx.replaces,
    producer: { name: 'batchrl-mtf', version: 'test' },
    source: { checkpoint: '/nowhere', step: 0, algo: model.algo, policy_kind: model.networks.kind, config_hash: 'test', data_fingerprint: null },
    data: { window: null, counts: null, train_rows: null },
    state: { dim: model.stateDim, names: Array.from({ length: model.stateDim }, (_, j) => `s${j}`) },
    action: { dim: model.actionDim, names: Array.from({ length: model.actionDim }, (_, j) => `task${j}`), min: norm.actionMin, max: norm.actionMax },
    beta: model.beta,
    normalization: { state_mean: norm.stateMean, state_std: norm.stateStd, action_min: norm.actionMin, action_max: norm.actionMax },
    onnx: { opset: 17, ir_version: 8, latent_samples: 0, latent_seed: null, inputs: {}, outputs: {} },
    files: ctx.files,
    ope: { report: '/nowhere', report_sha256: 'x', candidate: { name: 'new', v_hat: 1, ci95: [0.9, 1.1] }, baseline: { name: 'behavior', v_hat: 0.8, ci95: null, role: 'behavior' } },
    gate: {
      decision: status,
      reason: status === 'published' ? 'test' : 'test rejection',
      reasons: status === 'published' ? [] : ['test rejection'],
      tolerance: 0,
      value: { passed: status === 'published', lower_bound: 0.9, threshold: 0.8 },
      actions: { passed: true, states: 0, non_finite: 0, out_of_bounds: 0, first_problem: null },
      parity,
    },
  };
}

export interface PublishRandomOptions {
  seed?: number;
  publish?: boolean;
  keep?: number;
  spec?: SpecOptions;
  /** the store's file lease (short leases, simulated hosts) */
  lease?: StoreLeaseOptions;
  /** outer locks held (withPublishLock) */
  held?: HeldLock[];
  /** called inside the publish lock, when the gate's decision is asked for (lock tests hold it there) */
  onPublish?: (ctx: { replaces: string | null }) => void;
  /** the manifest's `exploration` (absent when undefined, as in manifests written before it) */
  exploration?: Manifest['exploration'];
}

/** Writes one version of a random-weight model to the store, as the export would. */
export function publishRandom(storeDir: string, name: string, opts: PublishRandomOptions = {}): WrittenVersion {
  const model = fusionModel(randomSpec({ seed: opts.seed ?? 1, ...opts.spec }));
  const g = { producerVersion: 'test', stateNames: [], actionNames: [] };
  const publish = opts.publish ?? true;
  return writeVersion({
    storeDir,
    name,
    keep: opts.keep,
    files: { 'policy.onnx': policyGraph(model, g), 'scorer.onnx': scorerGraph(model, g) },
    lease: opts.lease,
    held: opts.held,
    manifest: (ctx) => ({
      ...testManifest(model, name, ctx, publish ? 'published' : 'rejected'),
      ...(opts.exploration !== undefined ? { exploration: opts.exploration } : {}),
    }),
    publish: (ctx) => {
      opts.onPublish?.(ctx);
      return publish;
    },
  });
}

/**
 * The fixture log of a real parquet writer ingested into `traj` and a tiny BCQ trained on it into
 * `run` (`steps` steps, one checkpoint at the end); returns the trajectories' state names.
 */
export async function ingestAndTrainTinyBcq(traj: string, run: string, steps: number): Promise<string[]> {
  // loaded here, not at the top: the other users of this file (the scoring bench, shape tests) need not load DuckDB
  const [{ ingest, parseRewardWeights, readTrajectories }, { train }, { ROOT }, { tinyConfig }] = await Promise.all([
    import('../../src/data/index.ts'),
    import('../../src/rl/index.ts'),
    import('../helpers/cli.ts'),
    import('../rl/helpers.ts'),
  ]);
  const logs = join(ROOT, 'test', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
  await ingest({ logs, window: null, reward: parseRewardWeights('play_time_s=1,like=2,share=4'), out: traj });
  const { batch, metadata } = await readTrajectories(traj, 'train');
  const { policy } = await train({
    batch,
    stats: { state: metadata.state_stats, action: metadata.action_stats },
    actionNames: metadata.action_names,
    config: tinyConfig('bcq', { steps, checkpointEvery: steps }),
    outDir: run,
    progress: 'none',
  });
  policy.dispose();
  return metadata.state_names;
}
