/**
 * `mtf models list | verify | rollback` through the real CLI, on a store written by the store's own
 * writer: a listing with statuses and CURRENT, a garbage CURRENT shown and repaired, refusals of
 * rejected and corrupt versions, the publish lock respected (exit 4), and the exit codes.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readCurrent } from '../../src/export/index.ts';
import { publishRandom } from '../export/helpers.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

/** feed: v000001 published, v000002 rejected, v000003 published (CURRENT); other: v000001 */
function store(): string {
  const dir = tempDir();
  publishRandom(dir, 'feed');
  publishRandom(dir, 'feed', { seed: 2, publish: false });
  publishRandom(dir, 'feed', { seed: 3 });
  publishRandom(dir, 'other');
  return dir;
}

describe('mtf models', () => {
  test('list: every version with status, date and reason, * on CURRENT; --name, --json', () => {
    const dir = store();
    const r = runMtf(['models', 'list', '--store', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^feed \\(${join(dir, 'feed')}\\): CURRENT v000003$`, 'm'));
    assert.match(r.stdout, /^ {2}v000001 +published +\d{4}-\d\d-\d\dT[\d:.]+Z +test$/m);
    assert.match(r.stdout, /^ {2}v000002 +rejected +\S+ +test rejection$/m);
    assert.match(r.stdout, /^\* v000003 +published /m);
    assert.match(r.stdout, /^other \(.*\): CURRENT v000001$/m);
    const j = runMtf(['models', 'list', '--store', dir, '--name', 'feed', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.models.length, 1);
    assert.deepEqual(parsed.models[0].current, { state: 'version', version: 'v000003', text: null, problem: null });
    assert.deepEqual(parsed.models[0].versions.map((v: { version: string; status: string; current: boolean }) => [v.version, v.status, v.current]), [['v000001', 'published', false], ['v000002', 'rejected', false], ['v000003', 'published', true]]);
    const none = runMtf(['models', 'list', '--store', dir, '--name', 'nope']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no model 'nope' in the store/);
  });

  test('a garbage CURRENT: list shows it, verify fails naming it, rollback refuses rejected and corrupt versions and repairs it with a published one', () => {
    const dir = store();
    const cur = join(dir, 'feed', 'CURRENT');
    writeFileSync(cur, 'v0000\u00003 oops\n');

    const list = runMtf(['models', 'list', '--store', dir, '--name', 'feed']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /CURRENT UNUSABLE: .*CURRENT: ".*" is not a version name; repair: mtf models rollback <version> --name feed/);

    const verify = runMtf(['models', 'verify', '--store', dir]);
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(verify.stderr, /1 problem in .*CURRENT: .* is not a version name/);

    const rejected = runMtf(['models', 'rollback', 'v000002', '--name', 'feed', '--store', dir]);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /v000002: status 'rejected' \(the gate said: test rejection\); only a published version can be made CURRENT/);

    const p1 = join(dir, 'feed', 'v000001', 'scorer.onnx');
    const bytes = readFileSync(p1);
    bytes[20] ^= 0xff;
    writeFileSync(p1, bytes);
    const corrupt = runMtf(['models', 'rollback', 'v000001', '--name', 'feed', '--store', dir]);
    assert.equal(corrupt.code, 1);
    assert.match(corrupt.stderr, /scorer\.onnx: sha256 [0-9a-f]+ does not match/);
    assert.equal(readFileSync(cur, 'utf8'), 'v0000\u00003 oops\n', 'refusals leave CURRENT alone');

    const ok = runMtf(['models', 'rollback', 'v000003', '--name', 'feed', '--store', dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^feed: CURRENT ".*" \(not a version\) → v000003 \(published /);
    assert.equal(readCurrent(dir, 'feed'), 'v000003');

    const verify2 = runMtf(['models', 'verify', '--store', dir, '--name', 'feed']);
    assert.equal(verify2.code, 1, 'v000001 is still corrupt');
    assert.match(verify2.stderr, /v000001\/scorer\.onnx: sha256/);
    const list2 = runMtf(['models', 'list', '--store', dir, '--name', 'feed']);
    assert.match(list2.stdout, /^ {2}v000001 +corrupt +\S+ +.*scorer\.onnx: sha256/m);
  });

  test('rollback to an older version; again is a no-op; a held publish lock is exit 4; usage errors exit 2', () => {
    const dir = store();
    const back = runMtf(['models', 'rollback', 'v000001', '--name', 'feed', '--store', dir]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /^feed: CURRENT v000003 → v000001 \(published /);
    const again = runMtf(['models', 'rollback', 'v000001', '--name', 'feed', '--store', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /CURRENT is v000001 already/);
    assert.equal(runMtf(['models', 'verify', '--store', dir]).code, 0);

    const lock = join(dir, 'feed', '.lock');
    const now = Date.now();
    writeFileSync(
      lock,
      JSON.stringify({ format: 'batchrl-mtf/lease@1', host: 'worker-7', pidns: null, pid: 4242, token: 'x', purpose: 'publish feed', acquired_at: new Date(now).toISOString(), renewed_at: new Date(now).toISOString(), expires_at: new Date(now + 600_000).toISOString() }),
    );
    const held = runMtf(['models', 'rollback', 'v000003', '--name', 'feed', '--store', dir]);
    assert.equal(held.code, 4, held.stderr);
    assert.match(held.stderr, /held by pid 4242 on worker-7 \(publish feed\)/);
    assert.equal(readCurrent(dir, 'feed'), 'v000001');

    assert.equal(runMtf(['models', 'rollback', '--name', 'feed', '--store', dir]).code, 2, 'missing <version>');
    assert.equal(runMtf(['models', 'rollback', 'v000003', '--store', dir]).code, 2, 'missing --name');
    const missing = runMtf(['models', 'rollback', 'v000009', '--name', 'feed', '--store', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /v000009: no such version/);
  });
});
