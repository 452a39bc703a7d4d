/**
 * The logged rows of simulated sessions, column by column in growable typed arrays: one row per
 * request, as schemas/interaction-log.md describes them.
 */
import { NUM_TASKS } from './config.ts';
import type { Engine, StepRecorder } from './engine.ts';
import { STATE_DIM } from './features.ts';
import { ITEM_SIGNAL_DIM } from './itemSignals.ts';
import type { FusionPolicy } from './policy.ts';

const K = NUM_TASKS;

/** Columnar rows; `n` rows are valid, arrays may be longer. */
export interface LogRows {
  n: number;
  /** index into sessionIds */
  session: Int32Array;
  /** position of the request in its session */
  step: Int32Array;
  user: Int32Array;
  requestTsMs: Float64Array;
  /** [n × STATE_DIM] */
  state: Float32Array;
  /** [n × k] */
  action: Float32Array;
  playTimeS: Float32Array;
  playRatio: Float32Array;
  like: Uint8Array;
  share: Uint8Array;
  comment: Uint8Array;
  follow: Uint8Array;
  actionLogp: Float64Array;
  /** index into policyIds */
  policy: Int32Array;
  /** the shown item (the world's item index) */
  itemId: Int32Array;
  /** [n × k] the shown item's predicted task scores o, in TASK_NAMES order */
  taskScores: Float32Array;
  /** f(o|α) = Σ α_i log(o_i + β_i) of the shown item (Eq. 1) */
  fusedScore: Float32Array;
  /** [n × 4] the shown item's logged signals, in ITEM_SIGNAL_NAMES order */
  itemSignal: Float32Array;
  sessionIds: string[];
  policyIds: string[];
}

type Growable = Int32Array | Float64Array | Float32Array | Uint8Array;

function grow<T extends Growable>(a: T, length: number): T {
  if (a.length >= length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(length, a.length * 2));
  b.set(a);
  return b;
}

/** Records every request of a rollout as a row; the policy's arms (if stochastic) give policy_id and logp. */
export class RowRecorder implements StepRecorder {
  readonly rows: LogRows;
  private readonly policy: FusionPolicy;
  private readonly o = new Float64Array(K);

  constructor(policy: FusionPolicy, sessionId: (i: number) => string, sessions: number, capacity = 1024) {
    this.policy = policy;
    // policy_id codes: the arm's index for a stochastic policy, else 0 (the policy's own id).
    // the policy's own array, not a copy: a ranking stack appends `<arm>:<version>` when CURRENT moves
    const policyIds = policy.armIds ? (policy.armIds as string[]) : [policy.id];
    const c = Math.max(1, capacity);
    this.rows = {
      n: 0,
      session: new Int32Array(c),
      step: new Int32Array(c),
      user: new Int32Array(c),
      requestTsMs: new Float64Array(c),
      state: new Float32Array(c * STATE_DIM),
      action: new Float32Array(c * K),
      playTimeS: new Float32Array(c),
      playRatio: new Float32Array(c),
      like: new Uint8Array(c),
      share: new Uint8Array(c),
      comment: new Uint8Array(c),
      follow: new Uint8Array(c),
      actionLogp: new Float64Array(c),
      policy: new Int32Array(c),
      itemId: new Int32Array(c),
      taskScores: new Float32Array(c * K),
      fusedScore: new Float32Array(c),
      itemSignal: new Float32Array(c * ITEM_SIGNAL_DIM),
      sessionIds: Array.from({ length: sessions }, (_, i) => sessionId(i)),
      policyIds,
    };
  }

  onStep(e: Engine, s: number): void {
    const r = this.rows;
    const i = r.n;
    if (i >= r.session.length) this.reserve(i + 1);
    r.session[i] = e.session[s];
    r.step[i] = e.step[s];
    r.user[i] = e.user[s];
    r.requestTsMs[i] = e.tsMs[s];
    r.state.set(e.states.subarray(s * STATE_DIM, (s + 1) * STATE_DIM), i * STATE_DIM);
    r.action.set(e.alpha.subarray(s * K, (s + 1) * K), i * K);
    r.playTimeS[i] = e.lastPlayTime[s];
    r.playRatio[i] = e.lastRatio[s];
    r.like[i] = e.lastInteract[s * 4];
    r.share[i] = e.lastInteract[s * 4 + 1];
    r.comment[i] = e.lastInteract[s * 4 + 2];
    r.follow[i] = e.lastInteract[s * 4 + 3];
    // What the stack logs about the shown item: its id, predictions, fused score and item signals.
    const item = e.lastItem[s];
    r.itemId[i] = item;
    e.shownPrediction(s, this.o);
    // o is read back from log(o + β) (table-interpolated, README §1.4): clamped at 0 where that rounds below it
    for (let t = 0; t < K; t++) r.taskScores[i * K + t] = this.o[t] > 0 ? this.o[t] : 0;
    r.fusedScore[i] = e.shownFusedScore(s);
    r.itemSignal.set(e.world.itemSignal.subarray(item * ITEM_SIGNAL_DIM, (item + 1) * ITEM_SIGNAL_DIM), i * ITEM_SIGNAL_DIM);
    const p = this.policy;
    if (p.arm && p.logp) {
      r.policy[i] = p.arm[s];
      r.actionLogp[i] = p.logp[s];
    } else {
      r.policy[i] = 0;
      r.actionLogp[i] = NaN;
    }
    r.n = i + 1;
  }

  private reserve(n: number): void {
    const r = this.rows;
    r.session = grow(r.session, n);
    r.step = grow(r.step, n);
    r.user = grow(r.user, n);
    r.requestTsMs = grow(r.requestTsMs, n);
    r.state = grow(r.state, r.session.length * STATE_DIM);
    r.action = grow(r.action, r.session.length * K);
    r.playTimeS = grow(r.playTimeS, n);
    r.playRatio = grow(r.playRatio, n);
    r.like = grow(r.like, n);
    r.share = grow(r.share, n);
    r.comment = grow(r.comment, n);
    r.follow = grow(r.follow, n);
    r.actionLogp = grow(r.actionLogp, n);
    r.policy = grow(r.policy, n);
    r.itemId = grow(r.itemId, n);
    r.taskScores = grow(r.taskScores, r.session.length * K);
    r.fusedScore = grow(r.fusedScore, n);
    r.itemSignal = grow(r.itemSignal, r.session.length * ITEM_SIGNAL_DIM);
  }
}

/** Row indices ordered by (session, step): rows of a session together, in time order. */
export function sessionOrder(rows: LogRows, select?: (i: number) => boolean): Int32Array {
  const nS = rows.sessionIds.length;
  const count = new Int32Array(nS + 1);
  let n = 0;
  for (let i = 0; i < rows.n; i++) {
    if (select && !select(i)) continue;
    count[rows.session[i] + 1]++;
    n++;
  }
  for (let s = 0; s < nS; s++) count[s + 1] += count[s];
  const order = new Int32Array(n);
  // Rows of a session were recorded in step order, so a stable counting sort keeps them in time order.
  for (let i = 0; i < rows.n; i++) {
    if (select && !select(i)) continue;
    order[count[rows.session[i]]++] = i;
  }
  return order;
}
