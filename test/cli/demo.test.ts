import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

test('mtf demo --quick runs the embedded default and writes its outputs', () => {
  const out = tempDir();
  const r = runMtf(['demo', '--quick', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sessions\s+\d+ kept/);
  const report = JSON.parse(readFileSync(join(out, 'trajectories', 'ingest-report.json'), 'utf8'));
  assert.ok(report.transitions > 0);
  assert.ok(report.truncated_transitions > 0, 'the demo window cuts some sessions');
});
