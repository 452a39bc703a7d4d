/**
 * Twin critics Q1, Q2 (clipped double Q-learning, as BCQ and TD3): each an MLP (s, a) → R; with ensemble
 * pessimism (config `critics.count` = N > 2, src/rl/ensemble.ts) critics Q3 … QN besides them.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { cloneMlp, createMlp, disposeMlp, mlp, mlpSpec, mlpVariables, type LayerSpec, type Mlp } from './mlp.ts';

export interface TwinCritic {
  q1: Mlp;
  q2: Mlp;
  /** Q3 … QN of an ensemble of N > 2 critics; absent for the twin pair */
  more?: Mlp[];
}

/** `count` critics (default 2: the twin pair, drawn from `rng` as before ensembles existed). */
export function createTwinCritic(stateDim: number, actionDim: number, hidden: number[], rng: Rng, count = 2): TwinCritic {
  const make = () => createMlp([stateDim + actionDim, ...hidden, 1], rng);
  const c: TwinCritic = { q1: make(), q2: make() };
  if (count > 2) c.more = Array.from({ length: count - 2 }, make);
  return c;
}

/** Every critic of the pair or ensemble, in order: Q1, Q2, Q3, … */
export function criticNets(c: TwinCritic): Mlp[] {
  return [c.q1, c.q2, ...(c.more ?? [])];
}

/** Q(s, a) as [rows, 1]. */
export function q(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  return mlp(net, [s, a]);
}

export function cloneTwinCritic(c: TwinCritic): TwinCritic {
  const out: TwinCritic = { q1: cloneMlp(c.q1), q2: cloneMlp(c.q2) };
  if (c.more) out.more = c.more.map(cloneMlp);
  return out;
}

/** `${prefix}.q1.*`, `${prefix}.q2.*`, then `${prefix}.q3.*` … for an ensemble (checkpoint names). */
export function twinCriticVariables(prefix: string, c: TwinCritic): [string, tf.Variable][] {
  return criticNets(c).flatMap((n, j) => mlpVariables(`${prefix}.q${j + 1}`, n));
}

export function disposeTwinCritic(c: TwinCritic): void {
  for (const n of criticNets(c)) disposeMlp(n);
}

/**
 * Per-response twin critics (TSCAC's multi-critic): Q1 and Q2 each give one value per response,
 * [rows, R]. Stored as a list of MLPs whose outputs, concatenated, are the R columns:
 *   separate  — R MLPs of one output each (response i = MLP i);
 *   multihead — one MLP with R outputs (shared hidden layers, one linear head per response).
 */
export interface ResponseTwinCritic {
  q1: Mlp[];
  q2: Mlp[];
  /** response names, in column order (variable names of the separate kind) */
  names: string[];
  kind: 'separate' | 'multihead';
}

export function createResponseTwinCritic(
  stateDim: number,
  actionDim: number,
  hidden: number[],
  names: string[],
  kind: 'separate' | 'multihead',
  rng: Rng,
): ResponseTwinCritic {
  const sizes = (out: number) => [stateDim + actionDim, ...hidden, out];
  const make = () => (kind === 'multihead' ? [createMlp(sizes(names.length), rng)] : names.map(() => createMlp(sizes(1), rng)));
  const q1 = make();
  const q2 = make();
  return { q1, q2, names: [...names], kind };
}

/** Q_i(s, a) for every response i as [rows, R]. */
export function qResponses(nets: Mlp[], s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  if (nets.length === 1) return mlp(nets[0], [s, a]);
  return tf.concat(nets.map((n) => mlp(n, [s, a])), 1);
}

export function cloneResponseTwinCritic(c: ResponseTwinCritic): ResponseTwinCritic {
  return { q1: c.q1.map(cloneMlp), q2: c.q2.map(cloneMlp), names: [...c.names], kind: c.kind };
}

/** `${prefix}.q1.${i}.W` (multihead, as the single critic) or `${prefix}.q1.${name}.${i}.W` (separate). */
export function responseTwinCriticVariables(prefix: string, c: ResponseTwinCritic): [string, tf.Variable][] {
  const of = (j: 'q1' | 'q2') =>
    c.kind === 'multihead' ? mlpVariables(`${prefix}.${j}`, c[j][0]) : c[j].flatMap((n, i) => mlpVariables(`${prefix}.${j}.${c.names[i]}`, n));
  return [...of('q1'), ...of('q2')];
}

export function disposeResponseTwinCritic(c: ResponseTwinCritic): void {
  for (const n of [...c.q1, ...c.q2]) disposeMlp(n);
}

/**
 * Σ_i Q_i(s, a) as one MLP of one output, exactly (for Eq. 4 in the policy spec and the ONNX export):
 * multihead — the heads' columns summed into one (Σ_i (h·W_i + b_i) = h·Σ_i W_i + Σ_i b_i);
 * separate — the R MLPs side by side: first layers concatenated by columns, hidden layers
 * block-diagonal (ReLU acts per unit, so the blocks stay independent), last layers stacked by rows
 * with the biases summed. The hidden width of the separate kind's spec is R × the critic's.
 */
export function sumOfResponsesSpec(nets: Mlp[]): LayerSpec[] {
  const specs = nets.map((n) => mlpSpec(n));
  if (specs.length === 1) {
    const layers = specs[0];
    const last = layers[layers.length - 1];
    const W = new Float32Array(last.inDim);
    for (let r = 0; r < last.inDim; r++) {
      let acc = 0;
      for (let o = 0; o < last.outDim; o++) acc += last.W[r * last.outDim + o];
      W[r] = acc;
    }
    const b = Float32Array.of(last.b.reduce((x, y) => x + y, 0));
    return [...layers.slice(0, -1), { W, b, inDim: last.inDim, outDim: 1, activation: 'linear' }];
  }
  const depth = specs[0].length;
  const out: LayerSpec[] = [];
  for (let l = 0; l < depth; l++) {
    const ls = specs.map((s) => s[l]);
    const isFirst = l === 0;
    const isLast = l === depth - 1;
    const inDim = isFirst ? ls[0].inDim : ls.reduce((x, y) => x + y.inDim, 0);
    const outDim = isLast ? 1 : ls.reduce((x, y) => x + y.outDim, 0);
    const W = new Float32Array(inDim * outDim);
    const b = new Float32Array(outDim);
    let rowOff = 0;
    let colOff = 0;
    for (const s of ls) {
      const r0 = isFirst ? 0 : rowOff;
      const c0 = isLast ? 0 : colOff;
      for (let r = 0; r < s.inDim; r++) for (let o = 0; o < s.outDim; o++) W[(r0 + r) * outDim + c0 + o] += s.W[r * s.outDim + o];
      if (isLast) b[0] += s.b[0];
      else b.set(s.b, c0);
      rowOff += s.inDim;
      colOff += s.outDim;
    }
    out.push({ W, b, inDim, outDim, activation: ls[0].activation });
  }
  return out;
}
