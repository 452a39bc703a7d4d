import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listLogFiles, windowBounds } from '../../src/data/index.ts';
import { tempDir } from '../helpers/tmp.ts';

test('window (end − days, end] in UTC days', () => {
  const w = windowBounds({ endDate: '2026-03-01', days: 3 });
  assert.deepEqual(w.dates, ['2026-02-27', '2026-02-28', '2026-03-01']);
  assert.equal(w.startMs, Date.UTC(2026, 1, 27));
  assert.equal(w.endMs, Date.UTC(2026, 2, 2));
  assert.throws(() => windowBounds({ endDate: '2026-02-30', days: 3 }), /--end-date: '2026-02-30' is not a date/);
  assert.throws(() => windowBounds({ endDate: '2026-02-10', days: 0 }), /--days/);
});

test('lists parquet files, skipping Spark/Hadoop side files, and selects partitions', () => {
  const dir = tempDir();
  for (const dt of ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04']) {
    mkdirSync(join(dir, `dt=${dt}`));
    writeFileSync(join(dir, `dt=${dt}`, 'part-00000.parquet'), 'x');
    writeFileSync(join(dir, `dt=${dt}`, '.part-00000.parquet.crc'), 'x');
  }
  writeFileSync(join(dir, '_SUCCESS'), '');
  writeFileSync(join(dir, 'README.txt'), '');
  assert.equal(listLogFiles(dir, null).length, 4);
  const files = listLogFiles(dir, { endDate: '2026-01-03', days: 2 });
  assert.deepEqual(files.map((f) => f.dt), ['2026-01-02', '2026-01-03']);
  assert.ok(files.every((f) => f.size === 1 && f.mtime.length > 0));
  assert.throws(() => listLogFiles(dir, { endDate: '2026-02-01', days: 3 }), /holds no data/);
  assert.throws(() => listLogFiles(join(dir, 'nope'), null), /no such file or directory/);
});
