/**
 * The trajectory files as written by the Arrow IPC writer of src/data/arrowIpc.ts and read back by
 * apache-arrow: every column type, many batches, pieces, dictionaries with nulls; format 2 (no
 * next_state column) read with s' materialised, format 1 still read, newer formats refused; and the
 * reader's two paths (clean chunks kept as they are, others row by row) giving exactly the rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, FixedSizeList, Float32, Float64, Int32, makeData, RecordBatch, RecordBatchFileWriter, Schema, Struct, tableFromIPC, Uint8, Utf8, vectorFromArray, type Data, type DataType } from 'apache-arrow';
import { ArrowFileWriter, utf8Column } from '../../src/data/arrowIpc.ts';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { sessionSampled } from '../../src/data/trajectoryStore.ts';
import { vectorStats } from '../../src/data/trajectories.ts';
import { InputError } from '../../src/errors/index.ts';
import { duckdbRun } from '../helpers/duckdbWriter.ts';
import { tempDir } from '../helpers/tmp.ts';

test('ArrowFileWriter: every column type, pieces and many batches read back with apache-arrow', async () => {
  const path = join(tempDir(), 't.arrow');
  const dict = ['explore', 'prod', 'ünïcode'];
  const w = new ArrowFileWriter(path, [
    { name: 'i', type: { kind: 'int32' }, nullable: false },
    { name: 'u', type: { kind: 'uint8' }, nullable: false },
    { name: 'f', type: { kind: 'float32' }, nullable: false },
    { name: 'd', type: { kind: 'float64' }, nullable: false },
    { name: 'v', type: { kind: 'fixedList', width: 3 }, nullable: false },
    { name: 's', type: { kind: 'utf8' }, nullable: false },
    { name: 'p', type: { kind: 'dictUtf8', dictionary: dict }, nullable: true },
  ]);
  const expected: Record<string, unknown>[] = [];
  for (let b = 0; b < 4; b++) {
    const n = [5, 1, 17, 64][b];
    const v = Float32Array.from({ length: n * 3 }, (_, i) => b * 1000 + i + 0.25);
    const keys = Int32Array.from({ length: n }, (_, i) => (i + b) % 3);
    const valid = new Uint8Array(Math.ceil(n / 8));
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      if ((i + b) % 4 === 1) nulls++;
      else valid[i >> 3] |= 1 << (i & 7);
    }
    const strings = Array.from({ length: n }, (_, i) => `row ${b}/${i} ${'x'.repeat(i % 5)}`);
    // the vector column in three pieces of 1, 0 and n−1 rows
    w.writeBatch(n, [
      { pieces: [Int32Array.from({ length: n }, (_, i) => i - b)] },
      { pieces: [Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256)] },
      { pieces: [Float32Array.from({ length: n }, (_, i) => i / 4)] },
      { pieces: [Float64Array.from({ length: n }, (_, i) => 1.7e12 + i * 0.001)] },
      { pieces: [v.subarray(0, 3), v.subarray(3, 3), v.subarray(3)] },
      utf8Column(strings),
      { keys, validity: nulls ? valid : null, nullCount: nulls },
    ]);
    for (let i = 0; i < n; i++) {
      expected.push({
        i: i - b,
        u: (i * 7) % 256,
        f: i / 4,
        d: 1.7e12 + i * 0.001,
        v: Array.from(v.subarray(i * 3, i * 3 + 3)),
        s: strings[i],
        p: (i + b) % 4 === 1 ? null : dict[keys[i]],
      });
    }
  }
  await w.finish();
  const t = tableFromIPC(readFileSync(path));
  assert.equal(t.batches.length, 4);
  assert.deepEqual(
    t.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
    ['i:Int32:false', 'u:Uint8:false', 'f:Float32:false', 'd:Float64:false', 'v:FixedSizeList[3]<Float32>:false', 's:Utf8:false', 'p:Dictionary<Int32, Utf8>:true'],
  );
  const rows = t.toArray().map((r) => {
    const o = r.toJSON() as Record<string, unknown>;
    return { ...o, v: Array.from(o.v as Iterable<number>) };
  });
  assert.deepEqual(rows, expected);
});

test('ArrowFileWriter: a file without batches is a valid empty table', async () => {
  const path = join(tempDir(), 'empty.arrow');
  const w = new ArrowFileWriter(path, [{ name: 'x', type: { kind: 'float32' }, nullable: false }]);
  await w.finish();
  const t = tableFromIPC(readFileSync(path));
  assert.equal(t.numRows, 0);
  assert.deepEqual(t.schema.fields.map((f) => f.name), ['x']);
});

/**
 * 5,000 rows (3 DuckDB chunks), sessions of 7 requests written in order with integer ids; state_j =
 * session + step/8 + j/1000. Row 3001 has a NaN (its chunk is read row by row, its session dropped),
 * session 100 has a null action; policy_id is an integer, null on every 5th row.
 */
async function writeSortedLog(file: string): Promise<void> {
  await duckdbRun(`COPY (
    SELECT (i // 7)::BIGINT AS session_id, (i // 21)::INTEGER AS user_id,
           make_timestamptz(1763510400000000 + (i // 7) * 1000000 + (i % 7) * 30000000) AS request_ts,
           list_transform(range(5), j -> CASE WHEN i = 3001 AND j = 2 THEN 'NaN'::FLOAT
                                              ELSE ((i // 7) + (i % 7) / 8 + j / 1000)::FLOAT END) AS state,
           CASE WHEN i // 7 = 100 THEN NULL ELSE [(i % 7)::FLOAT, 0.5::FLOAT] END AS action,
           (i % 3)::DOUBLE AS play_time_s, CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 2)::INTEGER END AS policy_id
    FROM range(5000) t(i) ORDER BY i
  ) TO '${file}' (FORMAT parquet)`);
}

test('clean chunks are kept as read, others row by row: the same rows, values and statistics', async () => {
  const dir = tempDir();
  const file = join(dir, 'log.parquet');
  await writeSortedLog(file);
  const reward = parseRewardWeights('play_time_s=1');
  // small batches: record batches cut through sessions and through the reader's segments
  for (const chunkRows of [undefined, 1000, 3]) {
    const out = join(dir, `out-${chunkRows}`);
    const { report, metadata } = await ingest({ logs: file, window: null, reward, out, chunkRows });
    assert.equal(report.rows_read, 5000);
    assert.deepEqual(report.rows_rejected, { action_null: 7, state_nonfinite: 1 });
    // 715 sessions (the last has 2 rows), 2 dropped
    assert.equal(report.sessions, 713);
    assert.equal(report.transitions, 5000 - 14);
    assert.equal(metadata.format_version, 2);
    const train = (await readTrajectories(out, 'train')).batch;
    const testSplit = (await readTrajectories(out, 'test')).batch;
    assert.equal(train.n + testSplit.n, report.transitions);
    // a sample of whole sessions is the full split's rows of those sessions, renumbered, whatever the batching
    const half = (await readTrajectories(out, 'train', { sessionShare: 0.5, sampleSeed: 7 })).batch;
    const keptIds = train.sessionIds.filter((_, j) => sessionSampled(j, 0.5, 7));
    assert.deepEqual(half.sessionIds, keptIds);
    assert.ok(keptIds.length > 0.4 * train.sessionIds.length && keptIds.length < 0.6 * train.sessionIds.length, `${keptIds.length} of ${train.sessionIds.length}`);
    const rows = Array.from({ length: train.n }, (_, i) => i).filter((i) => sessionSampled(train.sessionIndex[i], 0.5, 7));
    assert.equal(half.n, rows.length);
    const S = train.stateDim;
    assert.deepEqual(half.state, Float32Array.from(rows.flatMap((i) => Array.from(train.state.subarray(i * S, (i + 1) * S)))));
    assert.deepEqual(half.nextState, Float32Array.from(rows.flatMap((i) => Array.from(train.nextState.subarray(i * S, (i + 1) * S)))));
    assert.deepEqual(half.reward, Float32Array.from(rows.map((i) => train.reward[i])));
    assert.deepEqual(half.done, Uint8Array.from(rows.map((i) => train.done[i])));
    assert.deepEqual(Array.from(half.sessionIndex).map((j) => half.sessionIds[j]), rows.map((i) => train.sessionIds[train.sessionIndex[i]]));
    assert.deepEqual(half.policyId?.codes.length ?? 0, train.policyId ? rows.length : 0);
    assert.equal((await readTrajectories(out, 'train', { sessionShare: 1 })).batch.n, train.n);
    for (const b of [train, testSplit]) {
      for (let i = 0; i < b.n; i++) {
        const sess = Number(b.sessionIds[b.sessionIndex[i]]);
        const step = b.step[i];
        assert.ok(sess !== 428 && sess !== 100, 'dropped sessions are gone');
        for (let j = 0; j < 5; j++) {
          assert.equal(b.state[i * 5 + j], Math.fround(sess + step / 8 + j / 1000), `state ${sess}/${step}/${j}`);
          const last = i + 1 === b.n || b.sessionIndex[i + 1] !== b.sessionIndex[i];
          assert.equal(b.nextState[i * 5 + j], Math.fround(sess + (last ? step : step + 1) / 8 + j / 1000), `next state ${sess}/${step}/${j}`);
        }
        assert.equal(b.action[i * 2], step);
        assert.equal(b.reward[i], (sess * 7 + step) % 3);
        const row = sess * 7 + step;
        const code = b.policyId!.codes[i];
        assert.equal(code < 0 ? null : b.policyId!.values[code], row % 5 === 0 ? null : String(row % 2), `policy of row ${row}`);
      }
    }
    // The statistics are those of the train states, whatever the batching.
    const s = vectorStats(train.state, train.n, 5);
    for (const key of ['mean', 'std', 'min', 'max'] as const) {
      metadata.state_stats[key].forEach((v, j) => assert.ok(Math.abs(v - s[key][j]) <= 1e-9 * Math.max(1, Math.abs(v)), `${key}[${j}]`));
    }
  }
});

/** A format 1 directory as mtf wrote it before format 2: with a next_state column. */
function writeFormat1(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const n = 3;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const col = (type: DataType, data: ArrayLike<number>, length = n) => makeData({ type, length, data, nullCount: 0 } as any) as Data;
  const list = (values: number[]) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    makeData({ type: new FixedSizeList(2, new Field('item', new Float32(), false)), length: n, nullCount: 0, child: col(new Float32(), Float32Array.from(values), 2 * n) } as any) as Data;
  const cols: [string, Data][] = [
    ['session_index', col(new Int32(), Int32Array.of(0, 0, 1))],
    ['step', col(new Int32(), Int32Array.of(0, 1, 0))],
    ['request_ts', col(new Float64(), Float64Array.of(1, 2, 3))],
    ['state', list([1, 1, 2, 2, 3, 3])],
    ['action', list([0, 0, 0, 0, 0, 0])],
    ['reward', col(new Float32(), Float32Array.of(1, 2, 3))],
    ['next_state', list([9, 9, 2, 2, 3, 3])], // deliberately not derivable: read as stored
    ['done', col(new Uint8(), Uint8Array.of(0, 1, 1))],
    ['truncated', col(new Uint8(), Uint8Array.of(0, 0, 0))],
    ['action_logp', col(new Float32(), Float32Array.of(NaN, NaN, NaN))],
  ];
  const fields = cols.map(([name, d]) => new Field(name, d.type, false));
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children: cols.map(([, d]) => d) }));
  writeFileSync(join(dir, 'train.arrow'), RecordBatchFileWriter.writeAll([batch]).toUint8Array(true));
  const sFields = [new Field('session_id', new Utf8(), false)];
  const sBatch = new RecordBatch(new Schema(sFields), makeData({ type: new Struct(sFields), length: 2, nullCount: 0, children: [vectorFromArray(['a', 'b'], new Utf8()).data[0]] }));
  writeFileSync(join(dir, 'train-sessions.arrow'), RecordBatchFileWriter.writeAll([sBatch]).toUint8Array(true));
  const stats = { mean: [0, 0], std: [0, 0], min: [0, 0], max: [0, 0] };
  const counts = { sessions: 2, transitions: 3, terminal_transitions: 2, truncated_transitions: 0, reward_sum: 6 };
  writeFileSync(
    join(dir, 'metadata.json'),
    JSON.stringify({
      format_version: 1,
      created_at: '2026-11-01T00:00:00Z',
      state_dim: 2,
      action_dim: 2,
      state_names: ['state_0', 'state_1'],
      action_names: ['action_0', 'action_1'],
      state_stats: stats,
      action_stats: stats,
      reward_weights: {},
      feedback_columns: [],
      window: null,
      inactivity_gap_ms: 1_800_000,
      test_fraction: 0.1,
      counts: { train: counts, test: { ...counts, sessions: 0, transitions: 0, terminal_transitions: 0, reward_sum: 0 } },
      has_action_logp: false,
      has_policy_id: false,
      source_files: [],
    }),
  );
}

test('format 1 directories (with next_state) are still read; newer formats are refused clearly', async () => {
  const dir = join(tempDir(), 'v1');
  writeFormat1(dir);
  const { batch, metadata } = await readTrajectories(dir, 'train');
  assert.equal(metadata.format_version, 1);
  assert.deepEqual(Array.from(batch.nextState), [9, 9, 2, 2, 3, 3]);
  assert.deepEqual(batch.sessionIds, ['a', 'b']);

  const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...meta, format_version: 4 }));
  await assert.rejects(readTrajectories(dir, 'train'), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /metadata\.json: trajectory format_version 4 was written by a newer mtf; this one reads versions 1 … 3/);
    return true;
  });
});

test('a split whose rows disagree with metadata.json, or that is not Arrow, is refused naming the file', async () => {
  const dir = join(tempDir(), 'counts');
  writeFormat1(dir);
  const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
  const rows = meta.counts.train.transitions;
  for (const wrong of [rows - 1, rows + 1]) {
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...meta, counts: { ...meta.counts, train: { ...meta.counts.train, transitions: wrong } } }));
    await assert.rejects(readTrajectories(dir, 'train'), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, new RegExp(`train\\.arrow: .*${wrong > rows ? `${rows} rows, but metadata\\.json's counts\\.train\\.transitions says ${wrong}` : `more rows than metadata\\.json's counts\\.train\\.transitions \\(${wrong}\\)`}`));
      return true;
    });
  }
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(meta));
  writeFileSync(join(dir, 'train.arrow'), 'not arrow at all');
  await assert.rejects(readTrajectories(dir, 'train'), /train\.arrow: not an Arrow IPC file/);
});
