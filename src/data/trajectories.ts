/**
 * Sessions → transitions (s, a, r, s', done) with the paper's reward (Eq. 2), terminal vs truncated
 * ends, the time split (§4.1) and the train split's statistics.
 *
 * The files hold (s, a, r, done) per row and no s': it is the next row's state within the session
 * (readTrajectories materialises it). A split is produced in batches of transitions whose vectors are
 * lists of views into the rows read — no copy where consecutive transitions are consecutive rows.
 */
import type { RowStore } from './rowStore.ts';
import type { SessionTable } from './sessions.ts';
import type { TransitionBatch } from './trajectoryTypes.ts';

export interface TrajectoryOptions {
  /** feedback column → weight, in the store's feedback order */
  rewardWeights: number[];
  /** end of the data window (epoch ms), or null when the log has no window */
  windowEndMs: number | null;
  /** a session whose last request is within this gap of the window's end may have been cut */
  inactivityGapMs: number;
  /** share of sessions (the latest by start) held out for evaluation */
  testFraction: number;
}

export interface VectorStats {
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
}

/** Number of sessions in the test split: the last ⌊fraction · n⌋ by start time. */
export function testSessionCount(n: number, fraction: number): number {
  return Math.floor(fraction * n + 1e-9);
}

/**
 * One batch of transitions as the trajectory file stores it. The arrays are views of buffers the
 * producer reuses for the next batch: consume (write) a batch before asking for the next.
 */
export interface TransitionChunk {
  n: number;
  /** row-major pieces whose concatenation is [n × stateDim] */
  state: Float32Array[];
  /** row-major pieces whose concatenation is [n × actionDim] */
  action: Float32Array[];
  reward: Float32Array;
  done: Uint8Array;
  truncated: Uint8Array;
  sessionIndex: Int32Array;
  step: Int32Array;
  requestTs: Float64Array;
  actionLogp: Float32Array;
  /** in the store's feedback order */
  feedback: Float32Array[];
  /** policy codes into the store's dictionary, −1 = not logged; null when no file logs policy_id */
  policy: Int32Array | null;
  /** Σ r over the split's rows so far, this batch included, summed row by row in float64 (so the total does not depend on the batching) */
  rewardSumSoFar: number;
  terminal: number;
  truncatedCount: number;
}

/** A run of at least this many consecutive rows is written from where it lies; shorter ones are gathered. */
const MIN_RUN = 16;

/**
 * The transitions of sessions [s0, s1) of the table, in batches of at most `batchRows`, numbered from
 * `sessionBase` (the split's first session).
 */
export function* splitBatches(
  store: RowStore,
  table: SessionTable,
  s0: number,
  s1: number,
  opts: TrajectoryOptions,
  batchRows: number,
  sessionBase = s0,
): Generator<TransitionChunk> {
  const d = store.stateDim;
  const k = store.actionDim;
  const F = store.feedbackNames.length;
  const lo = table.start[s0];
  const hi = table.start[s1];
  const cap = Math.max(1, Math.min(batchRows, hi - lo));
  const reward = new Float32Array(cap);
  const done = new Uint8Array(cap);
  const truncated = new Uint8Array(cap);
  const sessionIndex = new Int32Array(cap);
  const step = new Int32Array(cap);
  const requestTs = new Float64Array(cap);
  const actionLogp = new Float32Array(cap);
  const feedback = store.feedbackNames.map(() => new Float32Array(cap));
  const policy = store.hasPolicyId ? new Int32Array(cap) : null;
  let gatherS: Float32Array | null = null;
  let gatherA: Float32Array | null = null;
  const w = opts.rewardWeights;
  const { rows, start } = table;
  const { rowSegment, segStart, segState, segAction, ts, actionLogp: logp, policy: pol, feedback: fb } = store;
  let s = s0;
  let rewardSum = 0;
  for (let b0 = lo; b0 < hi; b0 += batchRows) {
    const b1 = Math.min(hi, b0 + batchRows);
    const n = b1 - b0;
    done.fill(0, 0, n);
    truncated.fill(0, 0, n);
    let terminal = 0;
    let truncatedCount = 0;
    for (let i = b0; i < b1; i++) {
      const t = i - b0;
      while (start[s + 1] <= i) s++;
      const row = rows[i];
      // Eq. (2): r = Σ_i w_i · v_i
      let r = 0;
      for (let c = 0; c < F; c++) {
        const v = fb[row * F + c];
        feedback[c][t] = v;
        r += w[c] * v;
      }
      reward[t] = r;
      rewardSum += r;
      sessionIndex[t] = s - sessionBase;
      step[t] = i - start[s];
      requestTs[t] = ts[row];
      actionLogp[t] = logp[row];
      if (policy) policy[t] = pol[row];
      if (i + 1 === start[s + 1]) {
        // The session's last row: terminal, unless the window's end may have cut it.
        const cut = opts.windowEndMs !== null && opts.windowEndMs - ts[row] <= opts.inactivityGapMs;
        if (cut) {
          truncated[t] = 1;
          truncatedCount++;
        } else {
          done[t] = 1;
          terminal++;
        }
      }
    }
    // Vectors: runs of consecutive rows of one segment become views; short runs are gathered.
    const statePieces: Float32Array[] = [];
    const actionPieces: Float32Array[] = [];
    let g = 0; // rows gathered in this batch
    let gFrom = 0; // first gathered row of the open gather piece
    const closeGather = () => {
      if (g > gFrom) {
        statePieces.push(gatherS!.subarray(gFrom * d, g * d));
        actionPieces.push(gatherA!.subarray(gFrom * k, g * k));
      }
      gFrom = g;
    };
    for (let i = b0; i < b1; ) {
      const r = rows[i];
      const seg = rowSegment[r];
      const segEnd = segStart[seg + 1];
      let j = i + 1;
      while (j < b1 && rows[j] === rows[j - 1] + 1 && rows[j] < segEnd) j++;
      const len = j - i;
      const off = r - segStart[seg];
      if (len >= MIN_RUN) {
        closeGather();
        statePieces.push(segState[seg].subarray(off * d, (off + len) * d));
        actionPieces.push(segAction[seg].subarray(off * k, (off + len) * k));
      } else {
        gatherS ??= new Float32Array(cap * d);
        gatherA ??= new Float32Array(cap * k);
        gatherS.set(segState[seg].subarray(off * d, (off + len) * d), g * d);
        gatherA.set(segAction[seg].subarray(off * k, (off + len) * k), g * k);
        g += len;
      }
      i = j;
    }
    closeGather();
    yield {
      n,
      state: statePieces,
      action: actionPieces,
      reward: reward.subarray(0, n),
      done: done.subarray(0, n),
      truncated: truncated.subarray(0, n),
      sessionIndex: sessionIndex.subarray(0, n),
      step: step.subarray(0, n),
      requestTs: requestTs.subarray(0, n),
      actionLogp: actionLogp.subarray(0, n),
      feedback: feedback.map((f) => f.subarray(0, n)),
      policy: policy ? policy.subarray(0, n) : null,
      rewardSumSoFar: rewardSum,
      terminal,
      truncatedCount,
    };
  }
}

/** Concatenates pieces into one array. */
export function concatPieces(pieces: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let p = 0;
  for (const x of pieces) {
    out.set(x, p);
    p += x.length;
  }
  return out;
}

/**
 * The row whose state is row i's s′ when s′ is derived from the rows (format 2): i + 1 within the session,
 * i itself on the session's last row (terminal or truncated) — nextStates as indices, 4 bytes a row
 * instead of a copy of the state.
 */
export function nextRowIndex(sessionIndex: Int32Array, n: number): Int32Array {
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) next[i] = i + 1 < n && sessionIndex[i + 1] === sessionIndex[i] ? i + 1 : i;
  return next;
}

/**
 * s' of every row: the next row's state within the same session, and s itself on a session's last
 * row (terminal or truncated: nothing to bootstrap from). `sessionIndex` tells the sessions apart.
 */
export function nextStates(state: Float32Array, sessionIndex: Int32Array, n: number, dim: number): Float32Array {
  const next = new Float32Array(n * dim);
  if (n === 0) return next;
  next.set(state.subarray(dim), 0);
  for (let i = 0; i < n; i++) {
    if (i + 1 === n || sessionIndex[i + 1] !== sessionIndex[i]) next.set(state.subarray(i * dim, (i + 1) * dim), i * dim);
  }
  return next;
}

export interface SplitResult {
  batch: TransitionBatch;
  rewardSum: number;
  terminal: number;
  truncated: number;
}

/**
 * The transitions of sessions [s0, s1) as one in-memory batch, s' included (what readTrajectories
 * returns for the same sessions). `sessionBase` is the index the split's numbering starts from.
 */
export function buildSplit(store: RowStore, table: SessionTable, s0: number, s1: number, opts: TrajectoryOptions, sessionBase = s0): SplitResult {
  const d = store.stateDim;
  const k = store.actionDim;
  const n = table.start[s1] - table.start[s0];
  const state = new Float32Array(n * d);
  const action = new Float32Array(n * k);
  const reward = new Float32Array(n);
  const done = new Uint8Array(n);
  const truncated = new Uint8Array(n);
  const sessionIndex = new Int32Array(n);
  const step = new Int32Array(n);
  const requestTs = new Float64Array(n);
  const actionLogp = new Float32Array(n);
  const fbArrays = store.feedbackNames.map(() => new Float32Array(n));
  const policyCodes = store.hasPolicyId ? new Int32Array(n) : null;
  let rewardSum = 0;
  let terminal = 0;
  let truncatedCount = 0;
  let p = 0;
  for (const c of splitBatches(store, table, s0, s1, opts, 65_536, sessionBase)) {
    state.set(concatPieces(c.state, c.n * d), p * d);
    action.set(concatPieces(c.action, c.n * k), p * k);
    reward.set(c.reward, p);
    done.set(c.done, p);
    truncated.set(c.truncated, p);
    sessionIndex.set(c.sessionIndex, p);
    step.set(c.step, p);
    requestTs.set(c.requestTs, p);
    actionLogp.set(c.actionLogp, p);
    c.feedback.forEach((f, i) => fbArrays[i].set(f, p));
    if (policyCodes && c.policy) policyCodes.set(c.policy, p);
    rewardSum = c.rewardSumSoFar;
    terminal += c.terminal;
    truncatedCount += c.truncatedCount;
    p += c.n;
  }
  const feedback: Record<string, Float32Array> = {};
  store.feedbackNames.forEach((name, i) => (feedback[name] = fbArrays[i]));
  const sessionIds: string[] = [];
  for (let s = s0; s < s1; s++) sessionIds.push(store.sessions.values[table.code[s]]);
  const batch: TransitionBatch = {
    n,
    stateDim: d,
    actionDim: k,
    state,
    action,
    reward,
    nextState: nextStates(state, sessionIndex, n, d),
    done,
    truncated,
    sessionIndex,
    step,
    requestTs,
    actionLogp,
    feedback,
    policyId: policyCodes ? { codes: policyCodes, values: store.policies.values.slice() } : null,
    sessionIds,
  };
  return { batch, rewardSum, terminal, truncated: truncatedCount };
}

/** rows per tile of the statistics: partial sums over a tile, then into the totals */
const TILE = 64;

/**
 * Per-dimension statistics (sums in float64) over rows added in order. Rows are summed in tiles of 64
 * consecutive rows, dimension by dimension within a tile (the tile stays in cache, a dimension's
 * accumulators in registers), and each tile's partial sums are added to the totals. The result
 * depends only on the sequence of rows, not on how they were split into calls.
 */
export class StatsAccumulator {
  private n = 0;
  private readonly sum: Float64Array;
  private readonly sq: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  // the open tile's partial sums
  private readonly tSum: Float64Array;
  private readonly tSq: Float64Array;
  private tRows = 0;
  constructor(private readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.sq = new Float64Array(dim);
    this.min = new Float64Array(dim).fill(Infinity);
    this.max = new Float64Array(dim).fill(-Infinity);
    this.tSum = new Float64Array(dim);
    this.tSq = new Float64Array(dim);
  }

  /** Adds `rows` rows, row-major from x[off]. */
  add(x: Float32Array, rows: number, off = 0): void {
    const { dim, tSum, tSq, min, max } = this;
    let o = off;
    let left = rows;
    while (left > 0) {
      const take = Math.min(left, TILE - this.tRows);
      const end = o + take * dim;
      for (let j = 0; j < dim; j++) {
        let s = tSum[j];
        let q = tSq[j];
        let lo = min[j];
        let hi = max[j];
        for (let p = o + j; p < end; p += dim) {
          const v = x[p];
          s += v;
          q += v * v;
          lo = v < lo ? v : lo;
          hi = v > hi ? v : hi;
        }
        tSum[j] = s;
        tSq[j] = q;
        min[j] = lo;
        max[j] = hi;
      }
      o = end;
      left -= take;
      this.tRows += take;
      this.n += take;
      if (this.tRows === TILE) this.closeTile();
    }
  }

  private closeTile(): void {
    for (let j = 0; j < this.dim; j++) {
      this.sum[j] += this.tSum[j];
      this.sq[j] += this.tSq[j];
    }
    this.tSum.fill(0);
    this.tSq.fill(0);
    this.tRows = 0;
  }

  result(): VectorStats {
    if (this.tRows > 0) this.closeTile();
    const n = this.n;
    const mean = Array.from(this.sum, (s) => (n ? s / n : 0));
    const std = Array.from(this.sq, (q, j) => (n ? Math.sqrt(Math.max(0, q / n - mean[j] * mean[j])) : 0));
    return { mean, std, min: Array.from(this.min, (v) => (n ? v : 0)), max: Array.from(this.max, (v) => (n ? v : 0)) };
  }
}

/** Per-dimension mean, std (population), min and max of an [n × dim] matrix. */
export function vectorStats(x: Float32Array, n: number, dim: number): VectorStats {
  const acc = new StatsAccumulator(dim);
  acc.add(x, n);
  return acc.result();
}
