/**
 * What the training loop records besides the algorithm's own step scalars: the policy probed on fixed
 * states (α and Q1(s, π(s)), per-response Q), Q statistics back in reward units, the progress line, and
 * the final record of the curves.
 */
import type { Algorithm } from './algorithm.ts';
import type { Response } from './config.ts';
import { NonFiniteError } from './divergence.ts';
import type { Normalization } from './normalization.ts';
import type { Curves } from './report.ts';
import { Rng } from './rng.ts';
import type { PreparedData } from './trainingData.ts';

/** The step scalars that are Q statistics (in rewardScale units while training). */
const Q_STAT = /^(qMean|qStd|targetMean)(\.|$)/;

/**
 * Q statistics back into reward units (the losses stay in the scaled units they are minimised in); the
 * per-response ones (`qMean.<name>`, `targetMean.<name>`, already divided by w_i) into response units.
 */
export function unscaleStats(stats: Record<string, number>, scale: number): void {
  if (scale === 1) return;
  for (const k of Object.keys(stats)) if (Q_STAT.test(k)) stats[k] /= scale;
}

/**
 * π on the probe states: per-dim mean/std of α (logged units) and mean/std of Q1(s, π(s)) (reward units);
 * with responses also the mean Q1_i(s, π(s)) per response in response units (`policyQMean.<name>`).
 */
export function probePolicy(algo: Algorithm, d: PreparedData, idx: Int32Array, norm: Normalization, rng: Rng, rewardScale: number, responses: Response[] | null) {
  const [S, A, m] = [d.stateDim, d.actionDim, idx.length];
  const s = new Float32Array(m * S);
  for (let i = 0; i < m; i++) s.set(d.s.subarray(idx[i] * S, (idx[i] + 1) * S), i * S);
  // The probe draws its own latent samples so that recording curves never moves the training RNG.
  const u = algo.act(s, m, new Rng(rng.getState()[0] ^ 0x2545f491));
  const mean = new Array<number>(A).fill(0);
  const sq = new Array<number>(A).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < A; j++) {
      const [lo, hi] = [norm.actionMin[j], norm.actionMax[j]];
      const v = lo + ((u[i * A + j] + 1) / 2) * (hi - lo);
      mean[j] += v / m;
      sq[j] += (v * v) / m;
    }
  }
  const q = algo.q1(s, u, m);
  let qMean: number | null = null;
  let qStd: number | null = null;
  if (q) {
    qMean = q.reduce((x, y) => x + y, 0) / m;
    qStd = Math.sqrt(Math.max(q.reduce((x, y) => x + y * y, 0) / m - qMean * qMean, 0));
    qMean /= rewardScale;
    qStd /= rewardScale;
    if (!Number.isFinite(qMean)) throw new NonFiniteError('Q1(s, π(s)) on the probe states', 0, qMean);
  }
  const perResponse: Record<string, number> = {};
  const qr = responses ? (algo.qResponses?.(s, u, m) ?? null) : null;
  if (responses && qr) {
    const R = responses.length;
    responses.forEach((r, i) => {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += qr[k * R + i];
      perResponse[`policyQMean.${r.name}`] = acc / m / (rewardScale * r.weight);
    });
  }
  return { actionMean: mean, actionStd: sq.map((v, j) => Math.sqrt(Math.max(v - mean[j] * mean[j], 0))), qMean, qStd, perResponse };
}

/** The progress line of a log interval: its mean losses and Q, and Q(π) on the probe states. */
export function summarize(m: Record<string, number>, qPi: number | null): string {
  const f = (k: string, label: string) => (k in m ? `${label} ${m[k].toPrecision(3)}` : null);
  return [f('vaeLoss', 'vae'), f('criticLoss', 'critic'), f('actorLoss', 'actor'), f('qMean', 'Q'), qPi === null ? null : `Q(π) ${qPi.toPrecision(3)}`]
    .filter(Boolean)
    .join(' ');
}

/** The last record of the curves (the report's `final`). */
export function lastRecord(c: Curves): Record<string, number | null> {
  const i = c.step.length - 1;
  if (i < 0) return {};
  const out: Record<string, number | null> = {};
  for (const [k, col] of Object.entries(c.scalars)) out[k] = col[i];
  out.policyQMean = c.policyQMean[i];
  return out;
}
