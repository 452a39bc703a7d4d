/**
 * What bounds an ingest on this machine, for bench:ingest: `node --import tsx test/data/ingestFloors.bench.ts <log> <dir> <outBytes> <rowBytes>`.
 * Prints JSON with the wall and CPU seconds of
 *   - `decode`: DuckDB streaming the log's columns to JavaScript as the ingest's query does (vectors
 *     fetched, nothing checked or kept);
 *   - `touch`: allocating and filling `rowBytes` of fresh memory (what keeping the rows costs the VM);
 *   - `write`: writing `outBytes` from memory into a new file in 16 MB writes, then fsync.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openDuckDB, streamChunks } from '../../src/data/duckdb.ts';
import { buildSql, scanFiles } from '../../src/data/logReader.ts';

const [log, dir, outBytes, rowBytes] = process.argv.slice(2);
const timed = async (fn: () => unknown) => {
  const t = performance.now();
  const c = process.cpuUsage();
  await fn();
  const u = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, cpu: (u.user + u.system) / 1e6 };
};

const db = await openDuckDB(1);
const opts = { feedbackNames: ['play_time_s', 'like', 'share'], rowWindow: null };
const [f] = await scanFiles(db.conn, [{ path: log, dt: null, size: 0, mtime: '' }], opts);
const decode = await timed(async () => {
  for await (const chunk of streamChunks(db.conn, buildSql(log, f.layout, opts).sql)) {
    for (let i = 0; i < chunk.columnCount; i++) chunk.getColumnVector(i);
  }
});
db.close();

let keep: Float32Array | null = null;
const touch = await timed(() => {
  keep = new Float32Array(Number(rowBytes) / 4);
  keep.fill(1);
});

const piece = new Uint8Array(16 << 20).fill(7);
const path = join(dir, 'floor.bin');
const write = await timed(() => {
  const fd = openSync(path, 'w');
  for (let left = Number(outBytes); left > 0; left -= piece.length) writeSync(fd, piece, 0, Math.min(left, piece.length));
  fsyncSync(fd);
  closeSync(fd);
});
rmSync(path);
console.log(JSON.stringify({ decode, touch, write, kept: keep!.length }));
