/**
 * The simulator's parquet writer streams: the table goes to parquet-wasm one row group's slice at a time,
 * so the wasm32 memory (at most 4 GiB, shared by the whole process and never shrinking) does not have to
 * hold a whole day's table and file (a day at the paper's scale did not fit and trapped with `unreachable`).
 */
import assert from 'node:assert/strict';
import { openAsBlob, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { NUM_TASKS } from '../../src/sim/config.ts';
import { STATE_DIM } from '../../src/sim/features.ts';
import { ITEM_SIGNAL_DIM } from '../../src/sim/itemSignals.ts';
import type { LogRows } from '../../src/sim/logRows.ts';
import { logTable, META_ACTION_NAMES, META_BETA, META_SIM, META_STATE_NAMES, writeParquetFile } from '../../src/sim/parquet.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('mtf-sim-parquet-');

/** n logged rows of seeded pseudo-random values (8 rows a session, some action_logp missing). */
function syntheticRows(n: number, seed: number): LogRows {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const f32 = (m: number) => Float32Array.from({ length: m }, u);
  const bits = (p: number) => Uint8Array.from({ length: n }, () => +(u() < p));
  const ints = (m: number) => Int32Array.from({ length: n }, () => Math.floor(u() * m));
  return {
    n,
    session: Int32Array.from({ length: n }, (_, i) => i >> 3),
    step: Int32Array.from({ length: n }, (_, i) => i & 7),
    user: ints(1000),
    requestTsMs: Float64Array.from({ length: n }, (_, i) => 1_763_596_800_000 + i * 37),
    state: f32(n * STATE_DIM),
    action: f32(n * NUM_TASKS),
    playTimeS: f32(n),
    playRatio: f32(n),
    like: bits(0.3),
    share: bits(0.1),
    comment: bits(0.05),
    follow: bits(0.02),
    actionLogp: Float64Array.from({ length: n }, () => (u() < 0.2 ? NaN : -10 * u())),
    policy: ints(3),
    itemId: ints(1_000_000),
    taskScores: f32(n * NUM_TASKS),
    fusedScore: f32(n),
    itemSignal: f32(n * ITEM_SIGNAL_DIM),
    sessionIds: Array.from({ length: (n + 7) >> 3 }, (_, i) => `s-${seed}-${i}`),
    policyIds: ['production', 'explore-a', 'explore-b'],
  };
}

const userIds = Array.from({ length: 1000 }, (_, i) => `u-${i}`);
const metadata = new Map([
  [META_STATE_NAMES, JSON.stringify(Array.from({ length: STATE_DIM }, (_, i) => `s${i}`))],
  [META_ACTION_NAMES, JSON.stringify(Array.from({ length: NUM_TASKS }, (_, i) => `a${i}`))],
  [META_SIM, JSON.stringify({ world_seed: 1, seed: 2, session_date: '2025-11-20', production: 'production' })],
  [META_BETA, JSON.stringify([0.1, 0.2, 0.3])],
]);

function table(n: number, seed: number): arrow.Table {
  // rows in a shuffled order, as logTable gathers them in session order from a day's recorder
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = (i * 7919 + seed) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return logTable(syntheticRows(n, seed), order, userIds, metadata);
}

/**
 * A column's values as flat arrays: plain JS values (nulls as null), or for a list column each row's
 * length and all the rows' elements (a Vector per row is slow).
 */
function values(t: arrow.Table, name: string): ArrayLike<unknown>[] {
  const v = t.getChild(name);
  assert.ok(v, `column ${name}`);
  if (!arrow.DataType.isList(v.type)) return [Array.from({ length: v.length }, (_, i) => v.get(i) as unknown)];
  const lengths = new Int32Array(v.length);
  const parts: Float32Array[] = [];
  let row = 0;
  for (const d of v.data) {
    const child = d.children[0];
    for (let i = 0; i < d.length; i++) {
      // a chunk's valueOffsets start at its own first row (Data.slice cuts them)
      const [a, b] = [d.valueOffsets[i], d.valueOffsets[i + 1]];
      lengths[row++] = b - a;
      parts.push((child.values as Float32Array).subarray(child.offset + a, child.offset + b));
    }
  }
  const all = new Float32Array(parts.reduce((m, x) => m + x.length, 0));
  parts.reduce((at, x) => (all.set(x, at), at + x.length), 0);
  return [lengths, all];
}

/** Equal element for element; on a difference, names the first one (a diff of 300k elements would take minutes). */
function assertSameValues(actual: ArrayLike<unknown>[], expected: ArrayLike<unknown>[], name: string): void {
  assert.equal(actual.length, expected.length, name);
  for (let p = 0; p < expected.length; p++) {
    const [x, y] = [actual[p], expected[p]];
    assert.equal(x.length, y.length, `${name}: length`);
    for (let i = 0; i < y.length; i++) if (!Object.is(x[i], y[i])) assert.fail(`${name}[${p}][${i}]: ${String(x[i])}, expected ${String(y[i])}`);
  }
}

async function footer(path: string) {
  const f = await pw.ParquetFile.fromFile(await openAsBlob(path));
  const meta = f.metadata();
  const fm = meta.fileMetadata();
  const groups = Array.from({ length: meta.numRowGroups() }, (_, i) => meta.rowGroup(i));
  return {
    rows: fm.numRows(),
    createdBy: fm.createdBy(),
    keyValue: new Map(fm.keyValueMetadata()) as Map<string, string>,
    groupRows: groups.map((g) => g.numRows()),
    compressions: new Set(groups.flatMap((g) => g.columns().map((c) => c.compression()))),
  };
}

// First, while this process's wasm memory is fresh (it only grows): the old writer copied the whole
// table's IPC stream into wasm memory and built the whole file there as well.
test('writing a table streamed keeps the wasm memory far below the size of the table', async () => {
  const t = table(300_000, 3);
  const ipcBytes = arrow.tableToIPC(t, 'stream').byteLength;
  const path = join(dir, 'memory.parquet');
  await writeParquetFile(path, t, 8192);
  const wasmBytes = pw.wasmMemory().buffer.byteLength;
  // streamed: about 25 MB here (grows with the row group, not the table); the old writer reached 333 MB,
  // and always more than the IPC stream it copied in
  assert.ok(wasmBytes < ipcBytes, `wasm memory ${wasmBytes} B after writing a table of ${ipcBytes} B (IPC)`);
  assert.equal((await footer(path)).rows, 300_000);
});

test('a table written streamed reads back value for value, in several row groups, with the footer metadata', async () => {
  const n = 300_000;
  const rowGroupSize = 70_001; // odd: slices start inside a byte of the boolean columns' bitmaps
  const t = table(n, 5);
  const path = join(dir, 'log.parquet');
  await writeParquetFile(path, t, rowGroupSize);

  const f = await footer(path);
  assert.equal(f.rows, n);
  assert.deepEqual(f.groupRows, [70_001, 70_001, 70_001, 70_001, 19_996]);
  assert.equal(f.createdBy, 'batchrl-mtf simulator (parquet-wasm)');
  assert.deepEqual(f.compressions, new Set([pw.Compression.ZSTD]));
  for (const [k, v] of metadata) assert.equal(f.keyValue.get(k), v, k);

  const back = arrow.tableFromIPC(pw.readParquet(readFileSync(path)).intoIPCStream());
  assert.equal(back.numRows, n);
  assert.deepEqual(
    back.schema.fields.map((x) => [x.name, String(x.type), x.nullable]),
    t.schema.fields.map((x) => [x.name, String(x.type), x.nullable]),
  );
  for (const [k, v] of metadata) assert.equal(back.schema.metadata.get(k), v, k);
  assert.ok(Array.from(values(t, 'action_logp')[0]).some((x) => x === null), 'the input has missing action_logp');
  for (const { name } of t.schema.fields) assertSameValues(values(back, name), values(t, name), name);
});

test('an empty table is written as a parquet file with no rows and the footer metadata', async () => {
  const path = join(dir, 'empty.parquet');
  await writeParquetFile(path, table(0, 7));
  const f = await footer(path);
  assert.equal(f.rows, 0);
  assert.equal(f.keyValue.get(META_BETA), metadata.get(META_BETA));
});
