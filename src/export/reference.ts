/**
 * The exported computation in plain TypeScript loops (float64 accumulation, no tensor library): the
 * independent reference that the export's parity check and the scoring benchmark compare
 * onnxruntime against. It follows graphs.ts step by step, with the same baked latent samples.
 */
import type { LayerSpec } from '../rl/index.ts';
import type { FusionModel } from './model.ts';

export interface ReferenceOutput {
  /** α [N × k], logged units */
  alpha: Float32Array;
  /** BCQ: Q1 of each of the n candidates [N × n]; null for the other kinds */
  q: Float64Array | null;
  /** BCQ: the chosen candidate per state (first maximum of Q1) */
  chosen: Int32Array | null;
}

function dense(x: ArrayLike<number>, l: LayerSpec, out: Float64Array, rowOffset = 0, rows = l.inDim, init?: ArrayLike<number>): Float64Array {
  const m = l.outDim;
  if (init) for (let o = 0; o < m; o++) out[o] = init[o];
  else out.fill(0);
  for (let r = 0; r < rows; r++) {
    const xr = x[r];
    if (xr === 0) continue;
    const base = (rowOffset + r) * m;
    for (let o = 0; o < m; o++) out[o] += xr * l.W[base + o];
  }
  return out;
}

function activateInPlace(h: Float64Array, act: LayerSpec['activation']): void {
  if (act === 'relu') for (let i = 0; i < h.length; i++) h[i] = h[i] > 0 ? h[i] : 0;
  else if (act === 'tanh') for (let i = 0; i < h.length; i++) h[i] = Math.tanh(h[i]);
}

/** Layers from `from` on, starting at h. */
function rest(h: Float64Array, layers: LayerSpec[], from: number): Float64Array {
  let x = h;
  for (let i = from; i < layers.length; i++) {
    const l = layers[i];
    const y = dense(x, l, new Float64Array(l.outDim), 0, l.inDim, l.b);
    activateInPlace(y, l.activation);
    x = y;
  }
  return x;
}

/** First layer over [s, y] given the state's share (s·W_s, without bias), then the rest. */
function stateAnd(sShare: Float64Array, y: ArrayLike<number>, layers: LayerSpec[], d: number): Float64Array {
  const l = layers[0];
  const h = dense(y, l, new Float64Array(l.outDim), d, l.inDim - d);
  for (let o = 0; o < h.length; o++) h[o] += sShare[o] + l.b[o];
  activateInPlace(h, l.activation);
  return rest(h, layers, 1);
}

export class ReferenceModel {
  private readonly latentShare: Float64Array[];

  constructor(readonly model: FusionModel) {
    const net = model.networks;
    const d = model.stateDim;
    if (net.kind === 'bcq' || net.kind === 'vae-decoder') {
      const l = net.decoder[0];
      const L = l.inDim - d;
      const n = net.kind === 'bcq' ? net.numSamples : 1;
      const z = net.kind === 'bcq' ? model.latent! : new Float32Array(L);
      this.latentShare = Array.from({ length: n }, (_, j) => dense(z.subarray(j * L, (j + 1) * L), l, new Float64Array(l.outDim), d, L));
    } else this.latentShare = [];
  }

  /** α = π(s) for `count` states [count × d] (logged units). */
  act(states: Float32Array, count: number): ReferenceOutput {
    const { stateDim: d, actionDim: k, normalization: norm, networks: net } = this.model;
    const alpha = new Float32Array(count * k);
    const n = net.kind === 'bcq' ? net.numSamples : 1;
    const q = net.kind === 'bcq' ? new Float64Array(count * n) : null;
    const chosen = net.kind === 'bcq' ? new Int32Array(count) : null;
    const s = new Float64Array(d);
    const u = new Float64Array(k);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < d; j++) s[j] = (states[i * d + j] - norm.stateMean[j]) / norm.stateStd[j];
      if (net.kind === 'deterministic') {
        u.set(rest(s, net.actor, 0));
      } else {
        const l0 = net.decoder[0];
        const sDec = dense(s, l0, new Float64Array(l0.outDim), 0, d);
        if (net.kind === 'vae-decoder') {
          const h = new Float64Array(l0.outDim);
          for (let o = 0; o < h.length; o++) h[o] = sDec[o] + this.latentShare[0][o] + l0.b[o];
          activateInPlace(h, l0.activation);
          u.set(rest(h, net.decoder, 1));
        } else {
          const sPert = dense(s, net.perturbation[0], new Float64Array(net.perturbation[0].outDim), 0, d);
          const sQ = dense(s, net.q1[0], new Float64Array(net.q1[0].outDim), 0, d);
          let bestQ = -Infinity;
          for (let j = 0; j < n; j++) {
            const h = new Float64Array(l0.outDim);
            for (let o = 0; o < h.length; o++) h[o] = sDec[o] + this.latentShare[j][o] + l0.b[o];
            activateInPlace(h, l0.activation);
            const a = rest(h, net.decoder, 1);
            const p = stateAnd(sPert, a, net.perturbation, d);
            const xi = new Float64Array(k);
            for (let t = 0; t < k; t++) xi[t] = Math.min(1, Math.max(-1, a[t] + net.rho * p[t])); // Eq. (5)
            const qj = stateAnd(sQ, xi, net.q1, d)[0];
            q![i * n + j] = qj;
            if (qj > bestQ) {
              bestQ = qj; // strictly greater: the first maximum wins, as policy.ts and ONNX ArgMax
              chosen![i] = j;
              u.set(xi);
            }
          }
        }
      }
      for (let t = 0; t < k; t++) {
        const ut = Math.min(1, Math.max(-1, u[t]));
        const lo = norm.actionMin[t];
        const hi = norm.actionMax[t];
        alpha[i * k + t] = lo + ((ut + 1) / 2) * (hi - lo);
      }
    }
    return { alpha, q, chosen };
  }

  /** Eq. (1) for `count` requests of `candidates` candidates each: scores [count × C]. */
  score(states: Float32Array, taskScores: Float32Array, count: number, candidates: number): { alpha: Float32Array; scores: Float32Array } {
    const { alpha } = this.act(states, count);
    return { alpha, scores: fuseScores(alpha, taskScores, count, candidates, this.model.beta) };
  }
}

/** scores[i, c] = Σ_t α[i, t]·log(o[i, c, t] + β_t) (Eq. 1). */
export function fuseScores(alpha: Float32Array, taskScores: Float32Array, count: number, candidates: number, beta: number[]): Float32Array {
  const k = beta.length;
  const scores = new Float32Array(count * candidates);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < candidates; c++) {
      let f = 0;
      const base = (i * candidates + c) * k;
      for (let t = 0; t < k; t++) f += alpha[i * k + t] * Math.log(taskScores[base + t] + beta[t]);
      scores[i * candidates + c] = f;
    }
  }
  return scores;
}
