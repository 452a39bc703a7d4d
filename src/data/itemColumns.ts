/**
 * The optional item-level columns of the log contract (schemas/interaction-log.md, "Item columns"):
 * what the ranking stack logs about the shown item — its id, predicted task scores o, fused score and
 * the item's own statistics and classifier scores. Ingest checks their types per file and their values
 * per row (a bad value rejects the row with a counted reason, like the required columns' checks) and
 * counts the rows that carry each; they are not carried into the trajectories (schemas/trajectories.md).
 * Logs without them read exactly as before: no extra SQL, no extra work per row.
 */
import { InputError } from '../errors/index.ts';
import type { ColumnInfo } from './duckdb.ts';
import { sqlIdent } from './sql.ts';
import type { RejectReason } from './rowChecks.ts';

/** The item's statistics and classifier scores: numbers in [0, 1]. */
export const ITEM_STAT_COLUMNS = ['item_completion_rate', 'item_interaction_rate', 'item_quality_score', 'item_clickbait_score'] as const;

/** Every optional item column, in the order of their presence bits and of the report. */
export const ITEM_COLUMNS = ['item_id', 'task_scores', 'fused_score', ...ITEM_STAT_COLUMNS] as const;
export type ItemColumn = (typeof ITEM_COLUMNS)[number];

/** Which item columns one file has (a null field: absent). */
export interface ItemLayout {
  itemId: string | null;
  /** a list<float> / fixed_size_list<float> column */
  taskScores: string | null;
  fusedScore: string | null;
  stats: string[];
}

const INTEGER = /^(U?(TINY|SMALL|BIG|HUGE)?INT|INTEGER|UINTEGER)$/;
const NUMERIC = /^(FLOAT|DOUBLE|DECIMAL.*|U?(TINY|SMALL|BIG|HUGE)?INT|INTEGER|UINTEGER)$/;

/** The item columns of a file, their types checked; null when it has none. Throws InputError naming the file and column. */
export function detectItemColumns(file: string, byName: Map<string, ColumnInfo>): ItemLayout | null {
  const wrong = (c: ColumnInfo, expected: string): never => {
    throw new InputError(`${file}: column '${c.name}' has type ${c.type}; expected ${expected}`, { file, column: c.name });
  };
  const id = byName.get('item_id');
  if (id && !(id.type === 'VARCHAR' || INTEGER.test(id.type))) wrong(id, 'a string or an integer');
  const ts = byName.get('task_scores');
  if (ts && !/^(FLOAT|DOUBLE)\[\d*\]$/.test(ts.type)) wrong(ts, 'list<float> of the action length k (the predicted task scores o, in action order)');
  const fused = byName.get('fused_score');
  if (fused && !NUMERIC.test(fused.type)) wrong(fused, 'a float');
  const stats: string[] = [];
  for (const name of ITEM_STAT_COLUMNS) {
    const c = byName.get(name);
    if (!c) continue;
    if (!NUMERIC.test(c.type)) wrong(c, 'a float in [0, 1]');
    stats.push(name);
  }
  if (!id && !ts && !fused && stats.length === 0) return null;
  return { itemId: id ? id.name : null, taskScores: ts ? ts.name : null, fusedScore: fused ? fused.name : null, stats };
}

/** Bits of the per-row item flags computed in SQL: presence of each column (bit i = ITEM_COLUMNS[i]), then errors. */
export const ITEM_FLAG = {
  taskScoresNull: 1 << 8,
  taskScoresNonfinite: 1 << 9,
  taskScoresNegative: 1 << 10,
  fusedNonfinite: 1 << 11,
  statNonfinite: 1 << 12,
  statRange: 1 << 13,
} as const;
/** Any error bit. */
export const ITEM_ERRORS = 0xff00;

/**
 * The two SQL expressions of a file's item checks: `flags` (INTEGER, ITEM_FLAG bits plus one presence
 * bit per column) and `len` (INTEGER, the task_scores list's length, −1 when null or absent: its check
 * against the action dim k is made in JS, where k is known). A null value is a value not logged: allowed.
 */
export function itemSql(item: ItemLayout): { flags: string; len: string } {
  const when = (cond: string, bit: number) => `CASE WHEN ${cond} THEN ${bit} ELSE 0 END`;
  const parts: string[] = [];
  const present = (name: string | null, i: number) => {
    if (name) parts.push(when(`${sqlIdent(name)} IS NOT NULL`, 1 << i));
  };
  present(item.itemId, 0);
  present(item.taskScores, 1);
  present(item.fusedScore, 2);
  for (const s of item.stats) present(s, ITEM_COLUMNS.indexOf(s as ItemColumn));
  let len = '-1';
  if (item.taskScores) {
    // a fixed_size_list (DOUBLE[8]) becomes a list; list_sum is NaN/±Inf iff an element is (nulls skipped)
    const l = `CAST(${sqlIdent(item.taskScores)} AS DOUBLE[])`;
    parts.push(when(`${l} IS NOT NULL AND list_count(${l}) < len(${l})`, ITEM_FLAG.taskScoresNull));
    parts.push(when(`${l} IS NOT NULL AND NOT isfinite(coalesce(list_sum(${l}), 0))`, ITEM_FLAG.taskScoresNonfinite));
    parts.push(when(`${l} IS NOT NULL AND coalesce(list_min(${l}), 0) < 0`, ITEM_FLAG.taskScoresNegative));
    len = `CAST(coalesce(len(${l}), -1) AS INTEGER)`;
  }
  if (item.fusedScore) parts.push(when(`NOT isfinite(CAST(${sqlIdent(item.fusedScore)} AS DOUBLE))`, ITEM_FLAG.fusedNonfinite));
  if (item.stats.length > 0) {
    const v = item.stats.map((s) => `CAST(${sqlIdent(s)} AS DOUBLE)`);
    parts.push(when(v.map((x) => `NOT isfinite(${x})`).join(' OR '), ITEM_FLAG.statNonfinite));
    parts.push(when(v.map((x) => `${x} < 0 OR ${x} > 1`).join(' OR '), ITEM_FLAG.statRange));
  }
  return { flags: `CAST(${parts.join(' + ')} AS INTEGER)`, len };
}

/** The first failing item reason of a row (schemas/interaction-log.md, "Row checks"), or null. */
export function itemReason(flags: number, len: number, k: number): RejectReason | null {
  if ((flags & ITEM_ERRORS) === 0 && (len < 0 || len === k)) return null;
  if (flags & ITEM_FLAG.taskScoresNull) return 'task_scores_null';
  if (flags & ITEM_FLAG.taskScoresNonfinite) return 'task_scores_nonfinite';
  if (flags & ITEM_FLAG.taskScoresNegative) return 'task_scores_negative';
  if (len >= 0 && len !== k) return 'task_scores_length';
  if (flags & ITEM_FLAG.fusedNonfinite) return 'fused_score_nonfinite';
  if (flags & ITEM_FLAG.statNonfinite) return 'item_stat_nonfinite';
  return 'item_stat_range';
}

/** Adds each row's presence bits to `counts` (one per ITEM_COLUMNS entry). */
export function countItemColumns(flags: Int32Array, n: number, counts: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const f = flags[i] & 0x7f;
    if (f === 0) continue;
    for (let b = 0; b < ITEM_COLUMNS.length; b++) if (f & (1 << b)) counts[b]++;
  }
}
