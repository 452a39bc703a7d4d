import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, toCsv } from '../../src/io/index.ts';

test('csvField quotes a field with a comma, a double quote, CR or LF (RFC 4180), and only those', () => {
  assert.equal(csvField('bcq'), 'bcq');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('"'), '""""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rlf'), '"cr\rlf"');
  assert.equal(csvField(' spaced '), ' spaced ');
  assert.equal(csvField(''), '');
  assert.equal(csvField('V̂ ± 2%'), 'V̂ ± 2%');
});

test('csvField writes numbers plain and round-trippable; null, undefined and non-finite numbers are empty', () => {
  assert.equal(csvField(425.4123456789), '425.4123456789');
  assert.equal(csvField(-0.0146), '-0.0146');
  assert.equal(csvField(0), '0');
  assert.equal(csvField(1e-7), '1e-7');
  assert.equal(Number(csvField(0.1 + 0.2)), 0.1 + 0.2);
  assert.equal(csvField(-1234567.5), '-1234567.5'); // no thousands separator, no quotes
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(Number.NaN), '');
  assert.equal(csvField(Number.POSITIVE_INFINITY), '');
  assert.equal(csvField(true), 'true');
});

test('toCsv: header then one CRLF-ended record per row; a quoted field keeps its line break inside the record', () => {
  const csv = toCsv(['name', 'note', 'x'], [
    ['a', 'plain', 1.5],
    ['b', 'has, comma', null],
    ['c', 'line1\nline2 "q"', -2],
  ]);
  assert.equal(csv, 'name,note,x\r\na,plain,1.5\r\nb,"has, comma",\r\nc,"line1\nline2 ""q""",-2\r\n');
  assert.equal(toCsv(['only'], []), 'only\r\n');
});

test('toCsv rejects a row whose length differs from the header', () => {
  assert.throws(() => toCsv(['a', 'b'], [['x']]), /row 0 has 1 fields, the header 2/);
});
