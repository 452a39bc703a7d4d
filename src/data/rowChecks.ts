/**
 * Row-level checks of the log contract (schemas/interaction-log.md, "Row checks"). A row fails with the
 * first reason in this order; a session holding any failed row is dropped whole.
 */
export const REJECT_REASONS = [
  'session_id_null',
  'user_id_null',
  'request_ts_null',
  'state_null',
  'state_nonfinite',
  'state_length',
  'action_null',
  'action_nonfinite',
  'action_length',
  'feedback_nonfinite',
  'feedback_negative',
  // the optional item columns, checked where a file has them (src/data/itemColumns.ts)
  'task_scores_null',
  'task_scores_nonfinite',
  'task_scores_negative',
  'task_scores_length',
  'fused_score_nonfinite',
  'item_stat_nonfinite',
  'item_stat_range',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Bits of the per-row `flags` column computed in SQL (nulls are cheapest to see there). */
export const FLAG = {
  sessionNull: 1,
  userNull: 2,
  tsNull: 4,
  stateNull: 8,
  actionNull: 16,
} as const;

/**
 * Checks one vector (state or action) of one row: its elements `values[offset … offset+length)`.
 * Returns the failing reason's suffix, or null when the vector is fine.
 */
export function checkVector(
  values: Float32Array | Float64Array,
  offset: number,
  length: number,
  dim: number,
): 'nonfinite' | 'length' | null {
  for (let j = offset, end = offset + length; j < end; j++) {
    const x = values[j];
    // x − x is 0 for every finite number and NaN for NaN and ±Inf.
    if (x - x !== 0) return 'nonfinite';
    // float64 data beyond float32's range would become ±Inf in our Float32 buffers.
    if (x > 3.4028234663852886e38 || x < -3.4028234663852886e38) return 'nonfinite';
  }
  return length === dim ? null : 'length';
}

/** Feedback values must be finite and ≥ 0 (nulls were already filled with 0). */
export function checkFeedback(v: number): 'feedback_nonfinite' | 'feedback_negative' | null {
  if (v - v !== 0) return 'feedback_nonfinite';
  return v < 0 ? 'feedback_negative' : null;
}

/** The length most rows have: a list column's dim comes from the data. */
export function modeLength(lengths: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  let best = -1;
  let bestCount = 0;
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i];
    if (l < 0) continue;
    const c = (counts.get(l) ?? 0) + 1;
    counts.set(l, c);
    if (c > bestCount || (c === bestCount && l < best)) {
      best = l;
      bestCount = c;
    }
  }
  return best;
}
