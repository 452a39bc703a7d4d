/**
 * The evaluation data as FQE consumes it: the test split normalised the way training normalises
 * (states standardised with the train split's statistics, actions mapped to [−1, 1]), the targets of
 * every value head scaled to O(1), and the session structure the bootstrap and the returns need.
 *
 * Terminal and truncated rows (d3rlpy's terminal vs timeout): `done` rows end their session, their
 * target is r alone; `truncated` rows were cut by the data window, s′ is unknown, so they carry no TD
 * target at all (mask 0) — bootstrapping from them as if terminal would teach Q that cut sessions end.
 */
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import type { FqeConfig } from './config.ts';
import { dimStats, normalizationFromStats, normalizeActions, normalizeStates, type DimStats, type Normalization } from './rl.ts';

export interface OpeData {
  n: number;
  stateDim: number;
  actionDim: number;
  /** [n × S] standardised */
  s: Float32Array;
  /** [n × A] in [−1, 1] (the train split's box) */
  a: Float32Array;
  /** [n × S] standardised */
  s2: Float32Array;
  /**
   * Q's state input, [n × qStateDim] at s and s′: the same arrays as s, s2 unless withQInputs appended
   * columns (the observability study); the policies and the OOD distances read s alone
   */
  qs: Float32Array;
  qs2: Float32Array;
  qStateDim: number;
  /** 1 − done */
  notDone: Float32Array;
  /** 1 − truncated: rows with a TD target */
  mask: Float32Array;
  /** value heads: 'reward' (r = Σ w_i v_i) first, then one per feedback column when per-response */
  heads: string[];
  /** per head: Q is learnt in units of this scale (mean |v| / (1 − γ)), so targets are O(1) */
  headScale: number[];
  /**
   * per head, in scaled units: the feasible range of a discounted return, [min(0, min v), max(0, max v)]
   * / (1 − γ) over the logged per-step values (Q^π of any policy lies in it if future per-step values stay
   * within the logged range)
   */
  headBounds: [number, number][];
  /** [n × H] per-step values of each head, divided by its scale */
  y: Float32Array;
  /** the row holding (s′, a′) of row i in the same session, −1 where there is none */
  nextRow: Int32Array;
  /** sessions: rows of session j are order[ptr[j] … ptr[j+1]) in step order */
  sessions: number;
  ptr: Int32Array;
  order: Int32Array;
  /** 1 where the session's last row is truncated (cut by the window) */
  sessionCut: Uint8Array;
  /** the unnormalised batch (policies read logged-unit states) */
  batch: TransitionBatch;
  norm: Normalization;
  gamma: number;
}

export interface PrepareOptions {
  gamma: number;
  /** train-split statistics (metadata.json); computed from the batch when absent */
  stats?: { state: DimStats; action: DimStats };
  /** add one head per feedback column of the batch */
  perResponse: boolean;
  /**
   * how actions enter Q: `box` maps the logged [min, max] to [−1, 1] as training does; `standard` maps
   * them to z-scores with the train split's mean and std (fqe.actionInput)
   */
  actionInput?: 'box' | 'standard';
}

/**
 * The PrepareOptions an FQE configuration implies (γ, per-response heads, action input), with the train
 * split's statistics from metadata.json when given: one place, so no caller drops a setting.
 */
export function opeDataOptions(
  fqe: Pick<FqeConfig, 'gamma' | 'perResponse' | 'actionInput'>,
  metadata?: { state_stats: DimStats; action_stats: DimStats } | null,
): PrepareOptions {
  return {
    gamma: fqe.gamma,
    stats: metadata ? { state: metadata.state_stats, action: metadata.action_stats } : undefined,
    perResponse: fqe.perResponse,
    actionInput: fqe.actionInput,
  };
}

export function prepareOpeData(batch: TransitionBatch, o: PrepareOptions): OpeData {
  const { n, stateDim: S, actionDim: A } = batch;
  if (n === 0) throw new InputError('evaluation data: the split has no transitions');
  const actionStats = o.stats?.action ?? dimStats(batch.action, n, A);
  // `standard`: the box [mean − std, mean + std] maps to [−1, 1], i.e. z-scores, through the same
  // normalizeActions / denormalisation every other consumer of d.norm uses
  const norm = normalizationFromStats(o.stats?.state ?? dimStats(batch.state, n, S), o.actionInput === 'standard' ? standardBox(actionStats) : actionStats);
  if (norm.stateMean.length !== S || norm.actionMin.length !== A) {
    throw new InputError(`evaluation data: metadata statistics have ${norm.stateMean.length}/${norm.actionMin.length} dims, the split ${S}/${A}`);
  }
  const heads = ['reward', ...(o.perResponse ? Object.keys(batch.feedback) : [])];
  const cols = heads.map((h) => (h === 'reward' ? batch.reward : batch.feedback[h]));
  const H = heads.length;
  const headScale = cols.map((c) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += Math.abs(c[i]);
    m /= n;
    return m > 0 ? m / (1 - o.gamma) : 1;
  });
  const y = new Float32Array(n * H);
  const headBounds: [number, number][] = [];
  for (let h = 0; h < H; h++) {
    let [lo, hi] = [Infinity, -Infinity];
    for (let i = 0; i < n; i++) {
      const v = cols[h][i] / headScale[h];
      y[i * H + h] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    // Sessions may end at any step, so 0 is always feasible: [min(0, min v), max(0, max v)] / (1 − γ).
    headBounds.push([Math.min(0, lo) / (1 - o.gamma), Math.max(0, hi) / (1 - o.gamma)]);
  }

  const notDone = new Float32Array(n);
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    notDone[i] = batch.done[i] ? 0 : 1;
    mask[i] = batch.truncated[i] ? 0 : 1;
  }
  const { sessions, ptr, order } = sessionIndex(batch);
  const nextRow = new Int32Array(n).fill(-1);
  const sessionCut = new Uint8Array(sessions);
  for (let j = 0; j < sessions; j++) {
    for (let p = ptr[j]; p < ptr[j + 1]; p++) {
      const i = order[p];
      if (p + 1 < ptr[j + 1] && !batch.done[i] && !batch.truncated[i]) nextRow[i] = order[p + 1];
    }
    if (ptr[j + 1] > ptr[j] && batch.truncated[order[ptr[j + 1] - 1]]) sessionCut[j] = 1;
  }
  const s = normalizeStates(batch.state, norm);
  const s2 = normalizeStates(batch.nextState, norm);
  return {
    n,
    stateDim: S,
    actionDim: A,
    s,
    a: normalizeActions(batch.action, norm),
    s2,
    qs: s,
    qs2: s2,
    qStateDim: S,
    notDone,
    mask,
    heads,
    headScale,
    headBounds,
    y,
    nextRow,
    sessions,
    ptr,
    order,
    sessionCut,
    batch,
    norm,
    gamma: o.gamma,
  };
}

/**
 * Extra inputs of Q beside the logged state, per row: `before` goes beside s, `after` beside s′ (so a
 * row's `after` is the next row's `before`). withQInputs standardises a copy column-wise with the mean
 * and sd of `before`.
 */
export interface QInputs {
  before: Float32Array;
  after: Float32Array;
  dim: number;
}

/**
 * The data with Q reading [s, extra.before] and [s′, extra.after] (policies, OOD distances and the
 * support still read s alone). FQE assumes the logged state is Markov; this is the seam to test that:
 * `npm run study:observability` appends the session's running totals, or the simulator's latent
 * satisfaction, and measures what FQE then sees.
 */
export function withQInputs(d: OpeData, extra: QInputs): OpeData {
  if (extra.before.length !== d.n * extra.dim || extra.after.length !== d.n * extra.dim) {
    throw new RangeError(`withQInputs: expected ${d.n} × ${extra.dim} values, got ${extra.before.length} / ${extra.after.length}`);
  }
  const x = { before: extra.before.slice(), after: extra.after.slice(), dim: extra.dim };
  standardizeColumns(x);
  return { ...d, qs: appendColumns(d.s, d.stateDim, x.before, x.dim), qs2: appendColumns(d.s2, d.stateDim, x.after, x.dim), qStateDim: d.stateDim + x.dim };
}

/**
 * Per row, the running total of each column over the session's earlier rows (`before`) and including
 * the row itself (`after`), as sign·log1p|x|. A session's first row in the split starts from 0.
 */
export function sessionTotals(cols: ArrayLike<number>[], d: Pick<OpeData, 'n' | 'sessions' | 'ptr' | 'order'>): QInputs {
  const F = cols.length;
  const before = new Float32Array(d.n * F);
  const after = new Float32Array(d.n * F);
  const acc = new Float64Array(F);
  const squash = (x: number) => Math.sign(x) * Math.log1p(Math.abs(x));
  for (let j = 0; j < d.sessions; j++) {
    acc.fill(0);
    for (let p = d.ptr[j]; p < d.ptr[j + 1]; p++) {
      const i = d.order[p];
      for (let f = 0; f < F; f++) {
        before[i * F + f] = squash(acc[f]);
        acc[f] += cols[f][i];
        after[i * F + f] = squash(acc[f]);
      }
    }
  }
  return { before, after, dim: F };
}

/** In place: (x − mean) / sd per column, mean and sd of `before` (a constant column: sd 1). */
function standardizeColumns({ before, after, dim: F }: QInputs): void {
  const n = before.length / F;
  for (let f = 0; f < F; f++) {
    let m = 0;
    let q = 0;
    for (let i = 0; i < n; i++) m += before[i * F + f];
    m /= n;
    for (let i = 0; i < n; i++) q += (before[i * F + f] - m) ** 2;
    const sd = Math.sqrt(q / n) || 1;
    for (let i = 0; i < n; i++) {
      before[i * F + f] = (before[i * F + f] - m) / sd;
      after[i * F + f] = (after[i * F + f] - m) / sd;
    }
  }
}

/** [n × (S + F)]: each row of x followed by the same row of extra. */
function appendColumns(x: Float32Array, S: number, extra: Float32Array, F: number): Float32Array {
  const n = x.length / S;
  const out = new Float32Array(n * (S + F));
  for (let i = 0; i < n; i++) {
    out.set(x.subarray(i * S, (i + 1) * S), i * (S + F));
    out.set(extra.subarray(i * F, (i + 1) * F), i * (S + F) + S);
  }
  return out;
}

/** Rows grouped by session (sessionIndex) in step order, as CSR offsets. */
export function sessionIndex(b: Pick<TransitionBatch, 'n' | 'sessionIndex' | 'step'>): { sessions: number; ptr: Int32Array; order: Int32Array } {
  let sessions = 0;
  for (let i = 0; i < b.n; i++) {
    if (b.sessionIndex[i] < 0) throw new InputError(`evaluation data: session_index is negative (${b.sessionIndex[i]}) at row ${i}`, { column: 'session_index' });
    sessions = Math.max(sessions, b.sessionIndex[i] + 1);
  }
  const ptr = new Int32Array(sessions + 1);
  for (let i = 0; i < b.n; i++) ptr[b.sessionIndex[i] + 1]++;
  for (let j = 0; j < sessions; j++) ptr[j + 1] += ptr[j];
  const fill = ptr.slice(0, sessions);
  const order = new Int32Array(b.n);
  for (let i = 0; i < b.n; i++) order[fill[b.sessionIndex[i]]++] = i;
  for (let j = 0; j < sessions; j++) {
    const seg = order.subarray(ptr[j], ptr[j + 1]);
    let sorted = true;
    for (let p = 1; p < seg.length; p++) if (b.step[seg[p]] < b.step[seg[p - 1]]) sorted = false;
    if (!sorted) seg.set(Int32Array.from(seg).sort((x, y) => b.step[x] - b.step[y]));
  }
  return { sessions, ptr, order };
}

/** The first row of each non-empty session: the initial states s₀ of Eq. (10). */
export function sessionStarts(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>): Int32Array {
  const out: number[] = [];
  for (let j = 0; j < d.sessions; j++) if (d.ptr[j + 1] > d.ptr[j]) out.push(d.order[d.ptr[j]]);
  return Int32Array.from(out);
}

/** Σ_t γ^t r_t of each session from its first row (a cut session's return stops at the cut). */
export function discountedReturns(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>, r: ArrayLike<number>, gamma: number): Float64Array {
  const out = new Float64Array(d.sessions);
  for (let j = 0; j < d.sessions; j++) {
    let g = 0;
    let disc = 1;
    for (let p = d.ptr[j]; p < d.ptr[j + 1]; p++) {
      g += disc * r[d.order[p]];
      disc *= gamma;
    }
    out[j] = g;
  }
  return out;
}

/** The action statistics whose [min, max] box is [mean − std, mean + std] (a zero std keeps the logged box). */
function standardBox(a: DimStats): DimStats {
  const ok = (j: number) => Number.isFinite(a.std[j]) && a.std[j] > 0;
  return { ...a, min: a.mean.map((m, j) => (ok(j) ? m - a.std[j] : a.min[j])), max: a.mean.map((m, j) => (ok(j) ? m + a.std[j] : a.max[j])) };
}
