/**
 * A parquet file the reader cannot read is described by what is wrong with the file — empty, not
 * parquet, cut short, damaged inside — with its name, never with DuckDB's SQL (issue 15 §6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights } from '../../src/data/index.ts';
import { describeParquetError, duckdbReason } from '../../src/data/duckdb.ts';
import { InputError } from '../../src/errors/index.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const GOOD = join(ROOT, 'test', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
const NO_SQL = /LINE \d|read_parquet|SELECT|DESCRIBE|Error:/;

test('describeParquetError says what is wrong with the file', () => {
  const dir = tempDir();
  const good = readFileSync(GOOD);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty.parquet', new Uint8Array(0), /^empty file \(0 bytes\), not parquet$/],
    ['text.parquet', Buffer.from('session_id,user_id\n1,2\n'), /^not a parquet file \(it does not start with the PAR1 magic bytes; it looks like text/],
    ['half.parquet', good.subarray(0, good.length >> 1), new RegExp(`^truncated: ${good.length >> 1} bytes and no parquet footer`)],
  ];
  for (const [name, bytes, want] of cases) {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    assert.match(describeParquetError(file, new Error(`Invalid Input Error: whatever '${file}'\nLINE 1: DESCRIBE SELECT * FROM read_parquet('${file}')`)), want, name);
  }
  assert.match(describeParquetError(join(dir, 'gone.parquet'), new Error('x')), /^cannot read the file \(it disappeared while reading\)$/);
});

test("duckdbReason drops DuckDB's error class, the query it quotes and the file name", () => {
  const f = '/data/logs/part-0.parquet';
  assert.equal(duckdbReason(f, new Error(`Invalid Input Error: Failed to read file "${f}": ZSTD Decompression failure`)), 'Failed to read the file: ZSTD Decompression failure');
  assert.equal(duckdbReason(f, new Error(`Conversion Error: Could not convert string 'x' to INT32\nLINE 1: SELECT CAST(a AS INTEGER) FROM read_parquet('${f}')\n ^`)), "Could not convert string 'x' to INT32");
});

test('a file damaged inside fails the ingest with its name and the damage, no SQL', async () => {
  const dir = tempDir();
  const bytes = Buffer.from(readFileSync(GOOD));
  for (let i = 200; i < 2000; i++) bytes[i] = (bytes[i] * 7 + 13) & 255; // the first pages, not the footer
  const file = join(dir, 'damaged.parquet');
  writeFileSync(file, bytes);
  await assert.rejects(ingest({ logs: file, window: null, reward: parseRewardWeights('play_time_s=1'), out: join(dir, 'out') }), (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.ok(err.message.startsWith(`${file}: damaged parquet: `), err.message);
    assert.doesNotMatch(err.message, NO_SQL);
    return true;
  });
});
