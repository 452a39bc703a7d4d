/**
 * The parquet reader: DuckDB through @duckdb/node-api, chosen by measurement (README, "Choosing the
 * parquet reader"): it read every fixture from every writer, and decodes a 1M-row zstd log 3–4× faster
 * than parquet-wasm on one core.
 *
 * This module is the only one that knows DuckDB's vector classes. Numbers are taken from the vectors'
 * typed arrays directly (a per-item `getItem` costs ~10× more on 64-float states); those arrays are
 * private fields of @duckdb/node-api's vector classes, so the package version is pinned exactly and
 * `rawItems` fails loudly if the internals ever change.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBVector } from '@duckdb/node-api';

export type { DuckDBConnection, DuckDBDataChunk, DuckDBVector };

export async function openDuckDB(threads = 1): Promise<{ conn: DuckDBConnection; close: () => void }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const conn = await instance.connect();
  return {
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

export interface ColumnInfo {
  name: string;
  /** DuckDB's type name, e.g. VARCHAR, BIGINT, FLOAT[], DOUBLE[6], TIMESTAMP WITH TIME ZONE */
  type: string;
}

export async function describeParquet(conn: DuckDBConnection, file: string): Promise<ColumnInfo[]> {
  const reader = await conn.runAndReadAll(
    `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
  );
  return reader.getRowObjectsJS().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

export async function parquetRowCount(conn: DuckDBConnection, file: string): Promise<number> {
  const reader = await conn.runAndReadAll(
    `SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata(${sqlString(file)})`,
  );
  return Number(reader.getRowObjectsJS()[0]?.n ?? 0);
}

/**
 * Streams the result of `sql` chunk by chunk (DuckDB's vector size, 2048 rows). The next chunk is
 * requested before the current one is handed out, so DuckDB decodes (on libuv's thread pool) while
 * JavaScript checks and copies the current chunk. Each chunk owns its memory until it is collected.
 */
export async function* streamChunks(conn: DuckDBConnection, sql: string): AsyncGenerator<DuckDBDataChunk> {
  const result = await conn.stream(sql);
  let pending = result.fetchChunk();
  try {
    for (;;) {
      const chunk = await pending;
      if (!chunk || chunk.rowCount === 0) return;
      pending = result.fetchChunk();
      yield chunk;
    }
  } finally {
    // A consumer that stops early leaves one request in flight: never let it reject unhandled.
    pending.catch(() => undefined);
  }
}

/** The typed array behind a FLOAT/DOUBLE/INTEGER vector (no nulls expected: coalesce in SQL). */
export function rawItems<T extends Float32Array | Float64Array | Int32Array>(
  vector: DuckDBVector,
  expected: new (...args: never[]) => T,
): T {
  const items = (vector as unknown as { items?: unknown }).items;
  if (!(items instanceof expected)) {
    throw new Error(
      `internal: @duckdb/node-api vector ${vector.constructor.name} has no ${expected.name} items ` +
        '(the package version must match package.json exactly)',
    );
  }
  return items;
}

/** A LIST vector's flat child values and per-row offset/length (as Uint32 views: no BigInt per row). */
export interface ListParts {
  values: Float32Array | Float64Array;
  /** entries[2·i] = offset of row i into values; entries[2·i+1] = its length (vectors hold < 2^32 items) */
  entries: Uint32Array;
}

export function listParts(vector: DuckDBVector): ListParts {
  const list = vector as unknown as { childVector: DuckDBVector; entryData?: BigUint64Array };
  const entryData = list.entryData;
  if (!(entryData instanceof BigUint64Array)) {
    throw new Error(`internal: expected a DuckDB LIST vector with entryData, got ${vector.constructor.name}`);
  }
  const child = list.childVector;
  const items = (child as unknown as { items?: unknown }).items;
  if (!(items instanceof Float32Array || items instanceof Float64Array)) {
    throw new Error(`internal: LIST child vector ${child.constructor.name} is not FLOAT or DOUBLE`);
  }
  // entryData holds (offset, length) as uint64 pairs; on little-endian hosts the low words are at 4i and 4i+2.
  const words = new Uint32Array(entryData.buffer, entryData.byteOffset, entryData.length * 2);
  const n = entryData.length / 2;
  const entries = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    entries[2 * i] = words[4 * i];
    entries[2 * i + 1] = words[4 * i + 2];
  }
  return { values: items, entries };
}

/** A UBIGINT vector (e.g. DuckDB's hash()) as Uint32 word pairs (lo, hi). */
export function u64Words(vector: DuckDBVector): Uint32Array {
  const items = (vector as unknown as { items?: unknown }).items;
  if (!(items instanceof BigUint64Array)) {
    throw new Error(`internal: expected a UBIGINT vector, got ${vector.constructor.name}`);
  }
  return new Uint32Array(items.buffer, items.byteOffset, items.length * 2);
}
