/**
 * SQL quoting, apart from duckdb.ts so that the log contract (logContract.ts, itemColumns.ts: public,
 * `batchrl-mtf/log-contract`) can quote a column name without loading DuckDB's native binding.
 */

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
