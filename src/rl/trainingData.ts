/**
 * The training data as the loop uses it: the logged TransitionBatch checked, normalised (actions truncated to
 * the action interval, README §3.5) and flattened into PreparedData with its critic targets (one-step or
 * n-step, per-response columns; see targets.ts) and the behavior log-density.
 */
import { nextRowIndex } from '../data/trajectories.ts';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import { normalizeActions, normalizeStatesInto, type Normalization } from './normalization.ts';
import { nStepWindows, ONE_STEP, responseColumns, type TargetOptions } from './targets.ts';

/** The normalised dataset, flat, ready for minibatch gathering. */
export interface PreparedData {
  n: number;
  stateDim: number;
  actionDim: number;
  /**
   * normalised states, [rows × stateDim]: the n rows' own states, followed (when the batch stores its s′,
   * nextStateFromRows unset) by the n logged next states — rows n … 2n − 1
   */
  s: Float32Array;
  a: Float32Array;
  r: Float32Array;
  /** per transition, the row of `s` that holds its critic target's s′ (the one-step s′, or the state after the n-step window) */
  s2Row: Int32Array;
  notDone: Float32Array;
  mask: Float32Array;
  /** n-step targets: the weight γ^m·(1 − done) of the bootstrapped value per row; null = one-step (γ·notDone) */
  discount: Float32Array | null;
  /** per-response critics: R, and [n × R] rewards κ·w_i·Σ_{k<m} γ_i^k v_{i,t+k} and bootstrap weights γ_i^m·(1 − done); null without */
  responses: { R: number; r: Float32Array; discount: Float32Array } | null;
  /** log π_β(a|s) per row in normalised action units (action_logp + the normalisation's log-Jacobian); null unless every row has a finite action_logp */
  logpB?: Float32Array | null;
  /** box-aware training: the live policy's mean μ(s) per row, [n × actionDim] normalised (behaviorBox.ts); null without */
  boxMu?: Float32Array | null;
}

/**
 * The normalised dataset. With nStep = n > 1 each row t carries an n-step target instead of the
 * one-step one: r_t ← Σ_{k<m} γ^k r_{t+k}, s′_t ← the state after those m rows, discount γ^m·(1 − done),
 * where m ≤ n stops early at the session's end (done: no bootstrap), at a truncated row t + m (whose
 * own state is known and is bootstrapped from) or where the session's rows stop. A truncated row keeps
 * mask 0 (its own s′ is unknown). Rows of a session must be consecutive and in step order (as ingest
 * writes them); a gap just ends the window there. With `consumeStates` (and s′ derived from the rows) the
 * batch's state array is normalised in place and becomes `s`: the caller must not read batch.state after.
 */
export function prepareData(b: TransitionBatch, norm: Normalization, targets: TargetOptions = ONE_STEP, opts: { consumeStates?: boolean } = {}): PreparedData {
  const notDone = new Float32Array(b.n);
  const mask = new Float32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    notDone[i] = b.done[i] ? 0 : 1;
    mask[i] = b.truncated[i] ? 0 : 1;
  }
  // s′ as a row of the normalised states rather than a second copy of them: the next row's own state
  // when s′ is derived from the rows (format 2 files; at the paper's scale this saves the 1.6 GB copy
  // and its normalised twin), else the logged next state appended after the states.
  const S = b.stateDim;
  const derived = b.nextStateFromRows === true;
  // consumeStates: the batch's own state array becomes the normalised states (one copy fewer: 1.4 GB at the paper's scale)
  const s = derived && opts.consumeStates ? b.state : new Float32Array((derived ? b.n : 2 * b.n) * S);
  normalizeStatesInto(b.state, norm, s, 0);
  if (!derived) normalizeStatesInto(b.nextState, norm, s, b.n * S);
  const following = derived ? nextRowIndex(b.sessionIndex, b.n) : null;
  /** the row of `s` holding row j's logged s′ */
  const nextOf = following ? (j: number) => following[j] : (j: number) => b.n + j;
  const base = {
    n: b.n,
    stateDim: S,
    actionDim: b.actionDim,
    s,
    a: normalizeActions(b.action, norm, true), // truncated to the action interval (README §3.5)
    notDone,
    mask,
  };
  const { gamma, nStep, rewardScale } = targets;
  if (!(Number.isInteger(nStep) && nStep >= 1)) throw new RangeError(`nStep must be a positive integer, got ${nStep}`);
  const win = nStep > 1 || targets.responses ? nStepWindows(b, nStep) : null;
  const responses = targets.responses ? responseColumns(b, win!, targets.responses, rewardScale) : null;
  const s2Row = new Int32Array(b.n);
  if (nStep === 1) {
    const r = Float32Array.from(b.reward);
    if (rewardScale !== 1) for (let i = 0; i < r.length; i++) r[i] *= rewardScale;
    for (let t = 0; t < b.n; t++) s2Row[t] = nextOf(t);
    return { ...base, r, s2Row, discount: null, responses, logpB: behaviorLogp(b, norm) };
  }
  const { len, boot, nextRow, nextIsState } = win!;
  const r = new Float32Array(b.n);
  const discount = new Float32Array(b.n);
  for (let t = 0; t < b.n; t++) {
    let g = 0;
    let w = 1; // γ^k
    for (let k = 0; k < len[t]; k++) {
      g += w * b.reward[t + k];
      w *= gamma;
    }
    discount[t] = boot[t] ? w : 0;
    const j = nextRow[t];
    s2Row[t] = nextIsState[t] ? j : nextOf(j);
    r[t] = g * rewardScale;
  }
  return { ...base, r, s2Row, discount, responses, logpB: behaviorLogp(b, norm) };
}

/** The normalised s′ of every transition, [n × stateDim] (a copy: for tests and diagnostics, not the training loop). */
export function nextStatesOf(d: PreparedData): Float32Array {
  const S = d.stateDim;
  const out = new Float32Array(d.n * S);
  for (let t = 0; t < d.n; t++) out.set(d.s.subarray(d.s2Row[t] * S, (d.s2Row[t] + 1) * S), t * S);
  return out;
}

/**
 * The logged behavior log-density in normalised action units: action_logp + Σ_j log((max_j − min_j)/2)
 * (u = 2(α − min)/(max − min) − 1); null unless every row has a finite action_logp. Rows whose α was
 * truncated to the action interval keep the density of the untruncated α.
 */
function behaviorLogp(b: TransitionBatch, norm: Normalization): Float32Array | null {
  if (!b.actionLogp || b.actionLogp.length !== b.n || b.n === 0) return null;
  let jac = 0;
  for (let j = 0; j < norm.actionMin.length; j++) if (norm.actionMax[j] > norm.actionMin[j]) jac += Math.log((norm.actionMax[j] - norm.actionMin[j]) / 2);
  const out = new Float32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    if (!Number.isFinite(b.actionLogp[i])) return null;
    out[i] = b.actionLogp[i] + jac;
  }
  return out;
}

/** The batch's shapes agree and every state, action, reward and next state is finite; an InputError naming the field otherwise. */
export function validateBatch(b: TransitionBatch): void {
  const need = (ok: boolean, field: string, msg: string) => {
    if (!ok) throw new InputError(`training data: ${field} ${msg}`, { field });
  };
  need(Number.isInteger(b.n) && b.n > 0, 'n', `must be a positive number of transitions, got ${b.n}`);
  need(b.stateDim > 0 && b.actionDim > 0, 'stateDim', `and actionDim must be positive, got ${b.stateDim} and ${b.actionDim}`);
  need(b.state.length === b.n * b.stateDim, 'state', `has ${b.state.length} values, expected n × stateDim = ${b.n * b.stateDim}`);
  // A derived s′ is a copy of state rows, checked with them: reading it would materialise it.
  const derived = b.nextStateFromRows === true;
  if (!derived) need(b.nextState.length === b.n * b.stateDim, 'nextState', `has ${b.nextState.length} values, expected ${b.n * b.stateDim}`);
  need(b.action.length === b.n * b.actionDim, 'action', `has ${b.action.length} values, expected ${b.n * b.actionDim}`);
  need(b.reward.length === b.n, 'reward', `has ${b.reward.length} values, expected ${b.n}`);
  need(b.done.length === b.n && b.truncated.length === b.n, 'done', `and truncated must have ${b.n} entries`);
  const fields = [['state', b.state], ['action', b.action], ['reward', b.reward], ...(derived ? [] : [['nextState', b.nextState]])] as [string, Float32Array][];
  for (const [field, x] of fields) {
    const i = x.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      const dim = field === 'reward' ? 1 : field === 'action' ? b.actionDim : b.stateDim;
      need(false, field, `is not finite (${x[i]}) at row ${Math.floor(i / dim)}, column ${i % dim}`);
    }
  }
}
