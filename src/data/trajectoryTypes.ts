/**
 * The in-memory form of a trajectory split (train or test), as later stages (training, FQE) consume
 * it: flat, row-major Float32 buffers ready to become tensors. Row i is one transition (s, a, r, s', done).
 */
export interface TransitionBatch {
  /** number of transitions */
  n: number;
  stateDim: number;
  actionDim: number;
  /** [n × stateDim] row-major */
  state: Float32Array;
  /** [n × actionDim] row-major, in the logged units (not normalised) */
  action: Float32Array;
  /** r = Σ w_i · v_i (paper Eq. 2) */
  reward: Float32Array;
  /** [n × stateDim]; equals state on terminal and truncated rows */
  nextState: Float32Array;
  /**
   * true when s′ is not stored but is the next row's state within the session, and the row's own state on
   * a session's last row (format 2 files, schemas/trajectories.md): a consumer that can index `state`
   * instead (training, see nextRowIndex) then never reads `nextState`, which readTrajectories
   * materialises only when it is first read — at the paper's scale that copy is 1.6 GB.
   */
  nextStateFromRows?: boolean;
  /** 1 = the session ended here (terminal). 0 otherwise, also on truncated rows. */
  done: Uint8Array;
  /** 1 = the data window cut the session here: not an end, and s' is unknown (no bootstrap). */
  truncated: Uint8Array;
  /** index of the session (0-based, ordered by session start within the split) */
  sessionIndex: Int32Array;
  /** position of the row within its session, 0-based */
  step: Int32Array;
  /** request time, epoch milliseconds */
  requestTs: Float64Array;
  /** log-density of the logged action under the behavior policy; NaN where not logged */
  actionLogp: Float32Array;
  /** per feedback column named by the reward spec: the raw values v_i (nulls filled with 0) */
  feedback: Record<string, Float32Array>;
  /** policy_id per row where logged (null otherwise); dictionary-coded */
  policyId: { codes: Int32Array; values: string[] } | null;
  /** the session_id of each session index */
  sessionIds: string[];
}
