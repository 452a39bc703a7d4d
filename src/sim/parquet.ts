/**
 * Logged rows → an Arrow table → zstd parquet (arrow-rs through parquet-wasm), with the layout of
 * schemas/interaction-log.md and the names of the vector elements as schema metadata.
 */
import { openAsBlob } from 'node:fs';
import { open } from 'node:fs/promises';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { NUM_TASKS } from './config.ts';
import { STATE_DIM } from './features.ts';
import { ITEM_SIGNAL_DIM, ITEM_SIGNAL_NAMES } from './itemSignals.ts';
import type { LogRows } from './logRows.ts';

const K = NUM_TASKS;
const utf8 = new TextEncoder();

/** Metadata keys every simulated file carries (also in the parquet footer's key-value metadata). */
export const META_STATE_NAMES = 'mtf.state_names';
export const META_ACTION_NAMES = 'mtf.action_names';
export const META_SIM = 'mtf.sim';
/** β of Eq. (1) the simulated ranking stack fused with (JSON array, action order): the log contract's key (src/data/fusionBeta.ts) */
export const META_BETA = 'mtf.beta';

function strings(values: readonly string[], codes: Int32Array, order: Int32Array): arrow.Data<arrow.Utf8> {
  const encoded = values.map((v) => utf8.encode(v));
  const offsets = new Int32Array(order.length + 1);
  let total = 0;
  for (let r = 0; r < order.length; r++) {
    total += encoded[codes[order[r]]].length;
    offsets[r + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let r = 0; r < order.length; r++) bytes.set(encoded[codes[order[r]]], offsets[r]);
  return arrow.makeData({ type: new arrow.Utf8(), length: order.length, nullCount: 0, valueOffsets: offsets, data: bytes });
}

function floatList(src: Float32Array, dim: number, order: Int32Array): arrow.Data<arrow.List<arrow.Float32>> {
  const n = order.length;
  const values = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) values.set(src.subarray(order[r] * dim, (order[r] + 1) * dim), r * dim);
  const offsets = new Int32Array(n + 1);
  for (let r = 0; r <= n; r++) offsets[r] = r * dim;
  const child = arrow.makeData({ type: new arrow.Float32(), length: n * dim, nullCount: 0, data: values });
  const type = new arrow.List(new arrow.Field('element', new arrow.Float32(), false));
  return arrow.makeData({ type, length: n, nullCount: 0, valueOffsets: offsets, child });
}

function gather<T extends Float32Array | Float64Array | Int32Array>(src: T, order: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(order.length);
  for (let r = 0; r < order.length; r++) out[r] = src[order[r]];
  return out;
}

/** Column m of a row-major [rows × width] array, in `order`. */
function strided(src: Float32Array, width: number, m: number, order: Int32Array): Float32Array {
  const out = new Float32Array(order.length);
  for (let r = 0; r < order.length; r++) out[r] = src[order[r] * width + m];
  return out;
}

function bools(src: Uint8Array, order: Int32Array): arrow.Data<arrow.Bool> {
  const bits = new Uint8Array((order.length + 7) >> 3);
  for (let r = 0; r < order.length; r++) if (src[order[r]]) bits[r >> 3] |= 1 << (r & 7);
  return arrow.makeData({ type: new arrow.Bool(), length: order.length, nullCount: 0, data: bits });
}

/** Float64 values with NaN written as null (action_logp: no density, e.g. a deterministic policy or the control arm). */
function nanAsNull(src: Float64Array, order: Int32Array): arrow.Data<arrow.Float64> {
  const data = gather(src, order);
  let nulls = 0;
  const valid = new Uint8Array((order.length + 7) >> 3);
  for (let r = 0; r < order.length; r++) {
    if (Number.isNaN(data[r])) nulls++;
    else valid[r >> 3] |= 1 << (r & 7);
  }
  return arrow.makeData({ type: new arrow.Float64(), length: order.length, nullCount: nulls, data, nullBitmap: nulls > 0 ? valid : undefined });
}

/** The Arrow table of the rows `order` (in that order). */
export function logTable(rows: LogRows, order: Int32Array, userIds: readonly string[], metadata: Map<string, string>): arrow.Table {
  const n = order.length;
  const ts = new BigInt64Array(n);
  for (let r = 0; r < n; r++) ts[r] = BigInt(rows.requestTsMs[order[r]]);
  const columns: [string, arrow.Data, arrow.DataType, boolean][] = [
    ['session_id', strings(rows.sessionIds, rows.session, order), new arrow.Utf8(), false],
    ['user_id', strings(userIds, rows.user, order), new arrow.Utf8(), false],
    ['request_ts', arrow.makeData({ type: new arrow.TimestampMillisecond('UTC'), length: n, nullCount: 0, data: ts }), new arrow.TimestampMillisecond('UTC'), false],
    ['state', floatList(rows.state, STATE_DIM, order), new arrow.List(new arrow.Field('element', new arrow.Float32(), false)), false],
    ['action', floatList(rows.action, K, order), new arrow.List(new arrow.Field('element', new arrow.Float32(), false)), false],
    ['play_time_s', arrow.makeData({ type: new arrow.Float32(), length: n, nullCount: 0, data: gather(rows.playTimeS, order) }), new arrow.Float32(), false],
    ['play_ratio', arrow.makeData({ type: new arrow.Float32(), length: n, nullCount: 0, data: gather(rows.playRatio, order) }), new arrow.Float32(), false],
    ['like', bools(rows.like, order), new arrow.Bool(), false],
    ['share', bools(rows.share, order), new arrow.Bool(), false],
    ['comment', bools(rows.comment, order), new arrow.Bool(), false],
    ['follow', bools(rows.follow, order), new arrow.Bool(), false],
    ['action_logp', nanAsNull(rows.actionLogp, order), new arrow.Float64(), true],
    ['policy_id', strings(rows.policyIds, rows.policy, order), new arrow.Utf8(), false],
    // What the ranking stack logs about the shown item (optional columns of the contract).
    ['item_id', arrow.makeData({ type: new arrow.Int32(), length: n, nullCount: 0, data: gather(rows.itemId, order) }), new arrow.Int32(), false],
    ['task_scores', floatList(rows.taskScores, K, order), new arrow.List(new arrow.Field('element', new arrow.Float32(), false)), false],
    ['fused_score', arrow.makeData({ type: new arrow.Float32(), length: n, nullCount: 0, data: gather(rows.fusedScore, order) }), new arrow.Float32(), false],
    ...ITEM_SIGNAL_NAMES.map((name, m): [string, arrow.Data, arrow.DataType, boolean] => [
      name,
      arrow.makeData({ type: new arrow.Float32(), length: n, nullCount: 0, data: strided(rows.itemSignal, ITEM_SIGNAL_DIM, m, order) }),
      new arrow.Float32(),
      false,
    ]),
  ];
  const schema = new arrow.Schema(
    columns.map(([name, , type, nullable]) => new arrow.Field(name, type, nullable)),
    metadata,
  );
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns.map(([, d]) => d) }),
  );
  return new arrow.Table(schema, [batch]);
}

function writerProperties(table: arrow.Table, rowGroupSize: number): pw.WriterProperties {
  const kv = new Map<string, string>();
  for (const [k, v] of table.schema.metadata) kv.set(k, v);
  return new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    .setMaxRowGroupSize(rowGroupSize)
    .setKeyValueMetadata(kv)
    .setCreatedBy('batchrl-mtf simulator (parquet-wasm)')
    .build();
}

/**
 * Writes an Arrow table as a zstd parquet file (the schema metadata also goes to the footer's key-value
 * metadata) and fsyncs it. Streamed: the table goes to parquet-wasm one row group's slice at a time and the
 * encoded row groups come back as they are done, so the wasm32 memory (at most 4 GiB) holds about one row
 * group, not the whole table and the whole file (a day at the paper's scale did not fit: `unreachable`).
 * parquet-wasm's stream writer drops errors silently, so the footer is read back and its row count checked.
 */
export async function writeParquetFile(path: string, table: arrow.Table, rowGroupSize = 128 * 1024): Promise<void> {
  if (!(Number.isInteger(rowGroupSize) && rowGroupSize > 0)) throw new RangeError(`row group size ${rowGroupSize} is not a positive integer`);
  const n = table.numRows;
  const file = await open(path, 'w');
  try {
    if (n === 0) {
      // The stream writer needs a first batch to learn the schema from; an empty table is small anyway.
      await file.writeFile(pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), writerProperties(table, rowGroupSize)));
    } else {
      let next = 0;
      let failed: { error: unknown } | undefined;
      const batches = new ReadableStream<pw.RecordBatch>(
        {
          pull(controller) {
            if (next >= n) return controller.close();
            const end = Math.min(n, next + rowGroupSize);
            try {
              const t = pw.Table.fromIPCStream(arrow.tableToIPC(table.slice(next, end), 'stream'));
              try {
                // the stream takes the batches over (the wasm side frees each once written)
                for (const b of t.recordBatches()) controller.enqueue(b);
              } finally {
                t.free();
              }
            } catch (error) {
              failed = { error }; // the writer would only skip the failed batch
              throw error;
            }
            next = end;
          },
        },
        { highWaterMark: 0 },
      );
      const bytes: ReadableStream<Uint8Array> = await pw.transformParquetStream(batches, writerProperties(table, rowGroupSize));
      for await (const chunk of bytes) for (let at = 0; at < chunk.length; ) at += (await file.write(chunk, at)).bytesWritten;
      if (failed) throw failed.error;
      if (next !== n) throw new Error(`${path}: parquet writer stopped after ${next} of ${n} rows`);
    }
    await file.sync();
  } finally {
    await file.close();
  }
  const written = await parquetRows(path);
  if (written !== n) throw new Error(`${path}: parquet file has ${written} rows, expected ${n}`);
}

/** The row count in a parquet file's footer (only the footer is read). */
async function parquetRows(path: string): Promise<number> {
  const f = await pw.ParquetFile.fromFile(await openAsBlob(path));
  try {
    const meta = f.metadata();
    const fm = meta.fileMetadata();
    const rows = fm.numRows();
    fm.free();
    meta.free();
    return rows;
  } finally {
    f.free();
  }
}
