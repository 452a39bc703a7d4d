/**
 * Sessions → transitions (s, a, r, s', done) with the paper's reward (Eq. 2), terminal vs truncated
 * ends, the time split (§4.1) and the train split's statistics.
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

export interface SplitResult {
  batch: TransitionBatch;
  rewardSum: number;
  terminal: number;
  truncated: number;
}

/** Number of sessions in the test split: the last ⌊fraction · n⌋ by start time. */
export function testSessionCount(n: number, fraction: number): number {
  return Math.floor(fraction * n + 1e-9);
}

/**
 * Builds the transitions of sessions [s0, s1) of the table; `sessionBase` is the index the split's
 * numbering starts from (a split is built in chunks of sessions, see splitChunks).
 */
export function buildSplit(store: RowStore, table: SessionTable, s0: number, s1: number, opts: TrajectoryOptions, sessionBase = s0): SplitResult {
  const d = store.stateDim;
  const k = store.actionDim;
  const F = store.feedbackNames.length;
  const r0 = table.start[s0];
  const n = table.start[s1] - r0;
  const state = new Float32Array(n * d);
  const nextState = new Float32Array(n * d);
  const action = new Float32Array(n * k);
  const reward = new Float32Array(n);
  const done = new Uint8Array(n);
  const truncated = new Uint8Array(n);
  const sessionIndex = new Int32Array(n);
  const step = new Int32Array(n);
  const requestTs = new Float64Array(n);
  const actionLogp = new Float32Array(n);
  const feedback: Record<string, Float32Array> = {};
  const fbArrays = store.feedbackNames.map((name) => (feedback[name] = new Float32Array(n)));
  const policyCodes = store.hasPolicyId ? new Int32Array(n) : null;
  const sessionIds: string[] = [];
  let rewardSum = 0;
  let terminal = 0;
  let truncatedCount = 0;
  const w = opts.rewardWeights;
  for (let s = s0; s < s1; s++) {
    const lo = table.start[s];
    const hi = table.start[s + 1];
    sessionIds.push(store.sessions.values[table.code[s]]);
    // Vectors move in runs of consecutive store rows (a log written session by session is one run per
    // session): one block copy per run instead of one per row.
    for (let i = lo; i < hi; ) {
      let j = i + 1;
      while (j < hi && table.rows[j] === table.rows[j - 1] + 1) j++;
      const r = table.rows[i];
      const len = j - i;
      state.set(store.state.subarray(r * d, (r + len) * d), (i - r0) * d);
      action.set(store.action.subarray(r * k, (r + len) * k), (i - r0) * k);
      i = j;
    }
    for (let i = lo; i < hi; i++) {
      const t = i - r0;
      const row = table.rows[i];
      // Eq. (2): r = Σ_i w_i · v_i
      let r = 0;
      for (let c = 0; c < F; c++) {
        const v = store.feedback[row * F + c];
        fbArrays[c][t] = v;
        r += w[c] * v;
      }
      reward[t] = r;
      rewardSum += r;
      sessionIndex[t] = s - sessionBase;
      step[t] = i - lo;
      requestTs[t] = store.ts[row];
      actionLogp[t] = store.actionLogp[row];
      if (policyCodes) policyCodes[t] = store.policy[row];
      if (i + 1 === hi) {
        // s' of rows lo … hi−2 is the next row's state: one copy for the whole session.
        nextState.set(state.subarray((lo - r0 + 1) * d, (t + 1) * d), (lo - r0) * d);
        // The session's last row: s' = s. Terminal, unless the window's end may have cut it.
        nextState.set(state.subarray(t * d, (t + 1) * d), t * d);
        const cut = opts.windowEndMs !== null && opts.windowEndMs - store.ts[row] <= opts.inactivityGapMs;
        if (cut) {
          truncated[t] = 1;
          truncatedCount++;
        } else {
          done[t] = 1;
          terminal++;
        }
      }
    }
  }
  const batch: TransitionBatch = {
    n,
    stateDim: d,
    actionDim: k,
    state,
    action,
    reward,
    nextState,
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

/**
 * Session ranges [a, b) covering [s0, s1) with about `rows` transitions each, so a split can be built
 * and written chunk by chunk: memory holds the rows read plus one chunk, not a second copy of the data.
 */
export function splitChunks(table: SessionTable, s0: number, s1: number, rows: number): [number, number][] {
  const out: [number, number][] = [];
  let a = s0;
  for (let b = s0; b < s1; b++) {
    if (table.start[b + 1] - table.start[a] >= rows) {
      out.push([a, b + 1]);
      a = b + 1;
    }
  }
  if (a < s1 || out.length === 0) out.push([a, s1]);
  return out;
}

/** Per-dimension statistics accumulated over chunks (sums in float64). */
export class StatsAccumulator {
  private n = 0;
  private readonly sum: Float64Array;
  private readonly sq: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  constructor(private readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.sq = new Float64Array(dim);
    this.min = new Float64Array(dim).fill(Infinity);
    this.max = new Float64Array(dim).fill(-Infinity);
  }
  add(x: Float32Array, n: number): void {
    const { dim, sum, sq, min, max } = this;
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      for (let j = 0; j < dim; j++) {
        const v = x[o + j];
        sum[j] += v;
        sq[j] += v * v;
        if (v < min[j]) min[j] = v;
        if (v > max[j]) max[j] = v;
      }
    }
    this.n += n;
  }
  result(): VectorStats {
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
