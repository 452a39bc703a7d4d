/**
 * The row store keeps the state/action arrays of clean chunks by reference (src/data/logReader.ts).
 * That is sound because @duckdb/node-api copies a vector's data into a JavaScript buffer
 * (vector_get_data), so the arrays outlive the chunk and the database. This test guards that
 * assumption for the pinned version: the values stay put after the database is closed and its
 * memory reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listView, openDuckDB, streamChunks } from '../../src/data/duckdb.ts';

test('list vectors read through the Node API are JavaScript-owned copies that outlive the database', async () => {
  const db = await openDuckDB(1);
  const kept: { view: Float32Array; copy: Float32Array }[] = [];
  for await (const chunk of streamChunks(db.conn, `SELECT list_transform(range(8), j -> (i * 8 + j)::FLOAT) AS s FROM range(5000) t(i)`)) {
    const { values } = listView(chunk.getColumnVector(0));
    assert.ok(values instanceof Float32Array);
    kept.push({ view: values, copy: values.slice() });
  }
  db.close();
  // churn DuckDB's allocator after the close: a view into freed native memory would now differ
  const other = await openDuckDB(1);
  await other.conn.run(`CREATE TABLE t AS SELECT list_transform(range(8), j -> -1::FLOAT) AS s FROM range(20000)`);
  other.close();
  assert.equal(kept.reduce((s, k) => s + k.view.length, 0), 5000 * 8);
  for (const k of kept) assert.deepEqual(k.view, k.copy);
  let i = 0;
  for (const k of kept) for (const v of k.view) assert.equal(v, i++);
});
