/**
 * The two exported graphs (issue 6 §1), self-contained: a runtime needs no batchrl-mtf code to use them.
 *
 * policy.onnx: state [N, d] → fusion_weights [N, k]
 *   s = (state − mean)/std; for BCQ (Eq. 4): a_j = D(s, z_j) for the n baked z_j, ξ_j = clip(a_j +
 *   ρ·P(s, a_j), −1, 1) (Eq. 5), j* = argmax_j Q1(s, ξ_j), u = ξ_j*; for the baselines u = D(s, 0) or
 *   μ(s); then α = min + (u + 1)/2·(max − min), the logged units of the fusion weights.
 * scorer.onnx: the same, plus task_scores [N, C, k] → scores [N, C] = Σ_i α_i·log(o_i + β_i) (Eq. 1).
 *
 * The n samples of one state are one extra tensor axis ([N, n, ·]); the state's share of each first
 * layer is computed once per state and broadcast over the samples, and the decoder's latent share
 * z_j·W_z + b is a baked [n, h] constant.
 */
import type { LayerSpec } from '../rl/index.ts';
import { GraphBuilder } from './onnx/builder.ts';
import { weightRows, type FusionModel } from './model.ts';

export const STATE_INPUT = 'state';
export const TASK_SCORES_INPUT = 'task_scores';
export const WEIGHTS_OUTPUT = 'fusion_weights';
export const SCORES_OUTPUT = 'scores';
export const GRAPH_FORMAT = 'batchrl-mtf/fusion-graph@1';

const ACT = { relu: 'Relu', tanh: 'Tanh', linear: null } as const;

function activate(g: GraphBuilder, x: string, act: LayerSpec['activation']): string {
  const op = ACT[act];
  return op ? g.op(op, [x]) : x;
}

/** Layers `from…` of an MLP on x (any rank; the last axis is the features). */
function mlpRest(g: GraphBuilder, x: string, layers: LayerSpec[], from: number, prefix: string): string {
  let h = x;
  for (let i = from; i < layers.length; i++) {
    const l = layers[i];
    const W = g.floats(`${prefix}.${i}.W`, [l.inDim, l.outDim], l.W);
    const b = g.floats(`${prefix}.${i}.b`, [l.outDim], l.b);
    h = activate(g, g.op('Add', [g.op('MatMul', [h, W]), b]), l.activation);
  }
  return h;
}

interface Ctx {
  g: GraphBuilder;
  /** standardised state [N, d] */
  s: string;
  d: number;
  /** the int64 constant [1] (created on first use: an unused initializer draws runtime warnings) */
  axis1: () => string;
}

/** The state's share of a first layer over [s, ·], broadcast over the samples axis: [N, 1, h]. */
function stateShare(c: Ctx, l: LayerSpec, prefix: string): string {
  const Ws = c.g.floats(`${prefix}.0.W_state`, [c.d, l.outDim], weightRows(l, 0, c.d));
  return c.g.op('Unsqueeze', [c.g.op('MatMul', [c.s, Ws]), c.axis1()]);
}

/** An MLP over [s, y] with y [N, n, m]: first layer split into its state and y rows. */
function mlpStateAnd(c: Ctx, y: string, layers: LayerSpec[], prefix: string): string {
  const l = layers[0];
  const Wy = c.g.floats(`${prefix}.0.W_in`, [l.inDim - c.d, l.outDim], weightRows(l, c.d, l.inDim));
  const b = c.g.floats(`${prefix}.0.b`, [l.outDim], l.b);
  const pre = c.g.op('Add', [c.g.op('Add', [stateShare(c, l, prefix), c.g.op('MatMul', [y, Wy])]), b]);
  return mlpRest(c.g, activate(c.g, pre, l.activation), layers, 1, prefix);
}

/**
 * Decoder D(s, z) for fixed latent rows z [n × L]: the z share z·W_z + b is the constant [n, h]. Returns
 * [N, n, k] (or [N, 1, k] for the single code z = 0 of the BC baseline).
 */
function decodeBaked(c: Ctx, layers: LayerSpec[], z: Float32Array, n: number, prefix: string): string {
  const l = layers[0];
  const L = l.inDim - c.d;
  const zb = new Float32Array(n * l.outDim);
  for (let j = 0; j < n; j++) {
    for (let o = 0; o < l.outDim; o++) {
      let acc = l.b[o];
      for (let r = 0; r < L; r++) acc += z[j * L + r] * l.W[(c.d + r) * l.outDim + o];
      zb[j * l.outDim + o] = acc;
    }
  }
  const zShare = c.g.floats(`${prefix}.0.latent_share`, [n, l.outDim], zb);
  const pre = c.g.op('Add', [stateShare(c, l, prefix), zShare]);
  return mlpRest(c.g, activate(c.g, pre, l.activation), layers, 1, prefix);
}

/** Adds the policy's nodes to `g`; returns the name of α [N, k] (logged units). */
function addPolicy(g: GraphBuilder, m: FusionModel, state: string): string {
  const { normalization: norm, networks: net, stateDim: d, actionDim: k } = m;
  const mean = g.floats('state_mean', [d], norm.stateMean);
  const std = g.floats('state_std', [d], norm.stateStd);
  const s = g.op('Div', [g.op('Sub', [state, mean]), std]);
  let axis1Name: string | null = null;
  const axis1 = () => (axis1Name ??= g.int64s('axis_1', [1], [1]));
  const c: Ctx = { g, s, d, axis1 };
  const lo = g.floats('minus_one', [], [-1]);
  const hi = g.floats('plus_one', [], [1]);

  let u: string;
  if (net.kind === 'bcq') {
    const n = net.numSamples;
    const a = decodeBaked(c, net.decoder, m.latent!, n, 'decoder'); // [N, n, k]
    const rho = g.floats('rho', [], [net.rho]);
    const xi = g.op('Clip', [g.op('Add', [a, g.op('Mul', [mlpStateAnd(c, a, net.perturbation, 'perturbation'), rho])]), lo, hi]); // Eq. (5)
    const q = mlpStateAnd(c, xi, net.q1, 'q1'); // [N, n, 1]
    const best = g.op('ArgMax', [q], { axis: 1, keepdims: 1, select_last_index: 0 }); // [N, 1, 1]: the first maximum, as policy.ts
    const bestK = g.op('Add', [best, g.int64s('zeros_k', [1, 1, k], new Array<number>(k).fill(0))]); // [N, 1, k]
    u = g.op('Squeeze', [g.op('GatherElements', [xi, bestK], { axis: 1 }), axis1()]); // Eq. (4)
  } else if (net.kind === 'vae-decoder') {
    u = g.op('Squeeze', [decodeBaked(c, net.decoder, new Float32Array(net.latentDim), 1, 'decoder'), axis1()]); // π(s) = D(s, 0)
  } else {
    u = mlpRest(g, s, net.actor, 0, 'actor');
  }
  const clamped = g.op('Clip', [u, lo, hi]);
  const half = norm.actionMax.map((x, j) => (x - norm.actionMin[j]) / 2);
  const mid = norm.actionMax.map((x, j) => (x + norm.actionMin[j]) / 2);
  return g.op('Add', [g.op('Mul', [clamped, g.floats('action_half_range', [k], half)]), g.floats('action_mid', [k], mid)]);
}

export interface GraphInfo {
  stateNames: string[];
  actionNames: string[];
  producerVersion: string;
}

function metadata(m: FusionModel, info: GraphInfo, graph: 'policy' | 'scorer'): Record<string, string> {
  return {
    format: GRAPH_FORMAT,
    graph,
    algo: m.algo,
    policy_kind: m.networks.kind,
    state_dim: String(m.stateDim),
    action_dim: String(m.actionDim),
    state_names: JSON.stringify(info.stateNames),
    action_names: JSON.stringify(info.actionNames),
    beta: JSON.stringify(m.beta),
    latent_samples: m.networks.kind === 'bcq' ? String(m.networks.numSamples) : '0',
    latent_seed: m.latentSeed === null ? '' : String(m.latentSeed),
  };
}

export function policyGraph(m: FusionModel, info: GraphInfo): Uint8Array {
  const g = new GraphBuilder('batchrl_mtf_policy');
  const state = g.input(STATE_INPUT, 'float', ['N', m.stateDim], 'user state in logged units, features in the manifest order');
  const alpha = addPolicy(g, m, state);
  g.output(alpha, WEIGHTS_OUTPUT, 'float', ['N', m.actionDim], 'fusion weights α in logged units, one per task');
  return g.encode({ doc: 'BatchRL-MTF fusion policy: α = π(state)', producerVersion: info.producerVersion, metadata: metadata(m, info, 'policy') });
}

export function scorerGraph(m: FusionModel, info: GraphInfo): Uint8Array {
  const g = new GraphBuilder('batchrl_mtf_scorer');
  const state = g.input(STATE_INPUT, 'float', ['N', m.stateDim], 'user state in logged units, features in the manifest order');
  const o = g.input(TASK_SCORES_INPUT, 'float', ['N', 'C', m.actionDim], 'multi-task predictions o of C candidates per request');
  const alpha = addPolicy(g, m, state);
  const logO = g.op('Log', [g.op('Add', [o, g.floats('beta', [m.actionDim], m.beta)])]); // log(o_i + β_i)
  const axis2 = g.int64s('axis_2', [1], [2]);
  const f = g.op('Squeeze', [g.op('MatMul', [logO, g.op('Unsqueeze', [alpha, axis2])]), axis2]); // Eq. (1): Σ_i α_i·log(o_i + β_i)
  g.output(alpha, WEIGHTS_OUTPUT, 'float', ['N', m.actionDim], 'fusion weights α in logged units, one per task');
  g.output(f, SCORES_OUTPUT, 'float', ['N', 'C'], 'fused ranking score of each candidate (Eq. 1); rank by descending score');
  return g.encode({ doc: 'BatchRL-MTF fusion scorer: α = π(state), scores = Σ α_i·log(o_i + β_i)', producerVersion: info.producerVersion, metadata: metadata(m, info, 'scorer') });
}
