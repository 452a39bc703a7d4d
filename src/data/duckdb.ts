/**
 * The parquet reader: DuckDB through @duckdb/node-api, chosen by measurement (docs/ingest.md, "Choosing the
 * parquet reader"): it read every fixture from every writer, and decodes a 1M-row zstd log 3–4× faster
 * than parquet-wasm on one core.
 *
 * This module is the only one that knows DuckDB's vector classes. Numbers are taken from the vectors'
 * typed arrays directly (a per-item `getItem` costs ~10× more on 64-float states); those arrays are
 * private fields of @duckdb/node-api's vector classes, so the package version is pinned exactly and
 * `rawItems` fails loudly if the internals ever change.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBVector } from '@duckdb/node-api';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { sqlIdent, sqlString } from './sql.ts';

export { sqlIdent, sqlString };

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

const MAGIC = 'PAR1';

/**
 * What is wrong with a parquet file DuckDB could not read, in words about the file (never DuckDB's SQL,
 * which its messages quote): empty, not parquet at all, cut short, or damaged inside.
 */
export function describeParquetError(file: string, err: unknown): string {
  let size: number;
  let head = '';
  let tail = '';
  try {
    size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(4);
      if (size >= 4) {
        head = buf.subarray(0, readSync(fd, buf, 0, 4, 0)).toString('latin1');
        tail = buf.subarray(0, readSync(fd, buf, 0, 4, size - 4)).toString('latin1');
      }
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `cannot read the file (${code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'it disappeared while reading' : (code ?? String(e))})`;
  }
  if (size === 0) return 'empty file (0 bytes), not parquet';
  if (head !== MAGIC) return `not a parquet file (it does not start with the PAR1 magic bytes${looksLikeText(file) ? '; it looks like text, e.g. CSV or JSON' : ''})`;
  if (size < 12 || tail !== MAGIC) return `truncated: ${size} bytes and no parquet footer (the PAR1 magic bytes at the end are missing; was it copied or written only in part?)`;
  return `damaged parquet: ${duckdbReason(file, err)}`;
}

function looksLikeText(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128);
  } finally {
    closeSync(fd);
  }
}

/** DuckDB's message without its error class, the query it quotes (LINE 1: …) and the file name. */
export function duckdbReason(file: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const quoted = (q: string) => `${q}${file}${q}`;
  return msg
    .split(/\n\s*LINE \d+:/)[0]
    .replace(/^[A-Za-z ]*Error:\s*/, '')
    .replaceAll(`file ${quoted('"')}`, 'the file')
    .replaceAll(`file ${quoted("'")}`, 'the file')
    .replaceAll(quoted('"'), 'the file')
    .replaceAll(quoted("'"), 'the file')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
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

/**
 * A LIST vector as it is, without copying: its child values, its entries as uint32 words (row i's
 * offset at words[4i], its length at words[4i+2]: DuckDB stores (offset, length) as uint64 pairs, and
 * a vector holds < 2^32 items, so the high words are 0 on little-endian hosts) and the validity of
 * the child values (uint32 words, bit j of word w = element 32w + j; null when every element is valid).
 * `values` is the Node API's JavaScript copy of DuckDB's vector (vector_get_data copies), so it may be
 * kept after the chunk is gone: the row store does (test/data/duckdbVectors.test.ts guards it).
 */
export interface ListView {
  values: Float32Array | Float64Array;
  words: Uint32Array;
  childValid: Uint32Array | null;
}

export function listView(vector: DuckDBVector): ListView {
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
  return { values: items, words: new Uint32Array(entryData.buffer, entryData.byteOffset, entryData.length * 2), childValid: validityWords(child) };
}

/** A vector's validity bits as uint32 words, or null when every item is valid. */
export function validityWords(vector: DuckDBVector): Uint32Array | null {
  const validity = (vector as unknown as { validity?: { data?: unknown; offset?: number } }).validity;
  if (!validity || validity.offset !== 0) throw new Error(`internal: @duckdb/node-api vector ${vector.constructor.name} has no validity as expected`);
  const data = validity.data;
  if (data === null) return null;
  if (!(data instanceof BigUint64Array)) throw new Error(`internal: unexpected validity data in ${vector.constructor.name}`);
  return new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
}

/** Are elements [off, off + len) all valid? */
export function allValid(valid: Uint32Array | null, off: number, len: number): boolean {
  if (valid === null) return true;
  for (let j = off, end = off + len; j < end; j++) if (((valid[j >>> 5] >>> (j & 31)) & 1) === 0) return false;
  return true;
}

/** A BIGINT vector's values (undefined where the validity says null). */
export function i64Items(vector: DuckDBVector): BigInt64Array {
  const items = (vector as unknown as { items?: unknown }).items;
  if (!(items instanceof BigInt64Array)) throw new Error(`internal: expected a BIGINT vector, got ${vector.constructor.name}`);
  return items;
}

/** A UBIGINT (e.g. DuckDB's hash()) or BIGINT vector as Uint32 word pairs (lo, hi). */
export function u64Words(vector: DuckDBVector): Uint32Array {
  const items = (vector as unknown as { items?: unknown }).items;
  if (!(items instanceof BigUint64Array || items instanceof BigInt64Array)) {
    throw new Error(`internal: expected a UBIGINT or BIGINT vector, got ${vector.constructor.name}`);
  }
  return new Uint32Array(items.buffer, items.byteOffset, items.length * 2);
}
