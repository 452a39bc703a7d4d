/**
 * The run record: the claim is complete when it appears (no empty run.json after a crash), a planted
 * empty or garbage claim (left by an older mtf) is a clear error naming the file and the way out, and
 * `mtf status` (collectStatus) shows it as one unreadable row while the other runs show as usual.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { collectStatus, formatStatus } from '../../jobs/status.ts';
import { InputError } from '../../src/errors/index.ts';
import { claimRun, listRuns, RunRecord, scanRuns } from '../../src/stages/index.ts';
import { publishRandom } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { tinyPipeline } from './fixtures.ts';

const pipeline = () => tinyPipeline(tempDir(), '/nonexistent/logs');
const runJson = (p: ReturnType<typeof pipeline>, date: string) => join(p.paths.artifacts, 'runs', p.name, date, 'run.json');

describe('run claim', () => {
  test('the claim appears complete, once; a second claim finds it; no temporaries', () => {
    const p = pipeline();
    const a = claimRun(p, '2026-11-20', 'manual');
    assert.equal(a.claimed, true);
    RunRecord.parse(JSON.parse(readFileSync(runJson(p, '2026-11-20'), 'utf8')));
    const b = claimRun(p, '2026-11-20', 'manual');
    assert.equal(b.claimed, false);
    assert.equal(b.record.run_id, 'nightly-2026-11-20');
    assert.deepEqual(readdirSync(join(p.paths.artifacts, 'runs', p.name, '2026-11-20')).sort(), ['a1', 'run.json']);
  });

  for (const [what, content, why] of [
    ['an empty', '', /cannot read: .*JSON.* \(an empty claim: an older mtf crashed while creating it\)/],
    ['a garbage', '{"format": "batchrl-mtf/run@1"', /cannot read: /],
    ['a wrong-schema', '{"format": "nope"}', /field 'format'/],
  ] as const) {
    test(`${what} run.json: the claim names the file and how to fix it`, () => {
      const p = pipeline();
      const path = runJson(p, '2026-11-20');
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content);
      assert.throws(
        () => claimRun(p, '2026-11-20', 'manual'),
        (e: Error) => e instanceof InputError && e.message.startsWith(path) && why.test(e.message) && e.message.includes(`remove the record (rm ${path}) and trigger the date again`),
      );
      assert.equal(readFileSync(path, 'utf8'), content, 'left for the operator');
    });
  }
});

describe('status with an unreadable run record', () => {
  test('one bad row, the other runs as usual; a garbage CURRENT is reported, not thrown', async () => {
    const p = pipeline();
    claimRun(p, '2026-11-19', 'manual');
    claimRun(p, '2026-11-21', 'manual');
    const bad = runJson(p, '2026-11-20');
    mkdirSync(join(bad, '..'), { recursive: true });
    writeFileSync(bad, '');
    assert.deepEqual(listRuns(p).map((r) => r.date), ['2026-11-21', '2026-11-19']);
    assert.deepEqual(scanRuns(p).map((e) => [e.date, e.record === null]), [['2026-11-21', false], ['2026-11-20', true], ['2026-11-19', false]]);

    publishRandom(p.paths.store, p.publish.model);
    writeFileSync(join(p.paths.store, p.publish.model, 'CURRENT'), '###\n');
    const s = await collectStatus(p, null);
    assert.deepEqual(s.runs.map((r) => [r.run_id, r.outcome.status]), [['nightly-2026-11-21', 'running'], ['nightly-2026-11-20', 'unreadable'], ['nightly-2026-11-19', 'running']]);
    assert.match(s.runs[1].outcome.detail, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read: .*remove .*run\\.json to trigger the date again`));
    assert.equal(s.current.version, null);
    assert.match(s.current.problem ?? '', /"###\\n" is not a version name \(repair: mtf models rollback <version> --name fusion\)/);
    const text = formatStatus(s);
    assert.match(text, /^nightly-2026-11-20 {2}UNREADABLE {2}.*run\.json: cannot read/m);
    assert.match(text, /^CURRENT fusion: UNUSABLE — /m);
    assert.match(text, /^nightly-2026-11-21 {2}RUNNING {2}\(manual, /m);
  });
});
