import { DuckDBInstance } from '@duckdb/node-api';

/** Runs SQL in a throw-away in-memory DuckDB: tests use it as a real parquet writer (COPY … TO). */
export async function duckdbRun(...statements: string[]): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    for (const s of statements) await conn.run(s);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}
