/**
 * The model store on real files: layout, SHA-256 verification, retention, the publish lock (its own
 * tests: lock.test.ts), a failing fsync, CURRENT's repair, and atomicity — a reader polling while another process publishes never sees a partial or mismatched
 * version.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { applyRetention, listVersions, ManifestSchema, ModelStoreError, readCurrent, readCurrentState, readVersion, renderManifestSchema, setCurrent, sha256 } from '../../src/export/index.ts';
import { readLease } from '../../src/io/index.ts';
import { ROOT } from '../helpers/cli.ts';
import { failFsync } from '../helpers/fsFaults.ts';
import { tempDir } from '../helpers/tmp.ts';
import { publishRandom } from './helpers.ts';

const dotEntries = (store: string, name: string) => readdirSync(join(store, name)).filter((f) => f.startsWith('.'));

describe('model store', () => {
  test('layout: <name>/<version>/{policy.onnx, scorer.onnx, manifest.json} and CURRENT', () => {
    const store = tempDir();
    const a = publishRandom(store, 'feed');
    assert.equal(a.version, 'v000001');
    assert.deepEqual(readdirSync(join(store, 'feed')).sort(), ['CURRENT', 'v000001']);
    assert.deepEqual(readdirSync(a.dir).sort(), ['manifest.json', 'policy.onnx', 'scorer.onnx']);
    assert.equal(readFileSync(join(store, 'feed', 'CURRENT'), 'utf8'), 'v000001\n');
    const v = readVersion(store, 'feed', 'v000001');
    assert.equal(v.manifest.files['scorer.onnx'].sha256, sha256(readFileSync(join(a.dir, 'scorer.onnx'))));
    ManifestSchema.parse(JSON.parse(readFileSync(join(a.dir, 'manifest.json'), 'utf8')));

    const b = publishRandom(store, 'feed', { seed: 2 });
    assert.equal(b.version, 'v000002');
    assert.equal(b.manifest.replaces, 'v000001');
    assert.equal(readCurrent(store, 'feed'), 'v000002');
    const r = publishRandom(store, 'feed', { seed: 3, publish: false });
    assert.equal(r.published, false);
    assert.equal(r.manifest.status, 'rejected');
    assert.equal(readCurrent(store, 'feed'), 'v000002', 'a rejected version leaves CURRENT alone');
    assert.ok(!readdirSync(join(store, 'feed')).some((f) => f.startsWith('.')), 'no temporaries or lock left behind');
  });

  test('a changed byte is a SHA-256 mismatch naming the file', () => {
    const store = tempDir();
    const a = publishRandom(store, 'm');
    const path = join(a.dir, 'policy.onnx');
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(path, bytes);
    assert.throws(() => readVersion(store, 'm', a.version), (e: Error) => e instanceof ModelStoreError && /policy\.onnx: sha256 [0-9a-f]+ does not match/.test(e.message));
    writeFileSync(join(a.dir, 'manifest.json'), '{"format": "nope"}');
    assert.throws(() => readVersion(store, 'm', a.version), /manifest\.json: format/);
  });

  test('retention keeps CURRENT and the newest N others', () => {
    const store = tempDir();
    for (let i = 0; i < 5; i++) publishRandom(store, 'm', { seed: i, keep: 10 });
    publishRandom(store, 'm', { seed: 9, publish: false, keep: 10 }); // v000006, rejected
    assert.deepEqual(applyRetention(store, 'm', 2), ['v000001', 'v000002', 'v000003']);
    assert.deepEqual(listVersions(store, 'm'), ['v000004', 'v000005', 'v000006']);
    assert.equal(readCurrent(store, 'm'), 'v000005');
    assert.deepEqual(applyRetention(store, 'm', 0), ['v000004', 'v000006']);
    assert.deepEqual(listVersions(store, 'm'), ['v000005']);
  });

  test('names are checked; the publish lock is held while writing and gone after (the lock itself: lock.test.ts)', () => {
    const store = tempDir();
    assert.throws(() => publishRandom(store, '../evil'), /--name: '..\/evil' must be/);
    publishRandom(store, 'm');
    let inside: ReturnType<typeof readLease> | null = null;
    publishRandom(store, 'm', { seed: 2, onPublish: () => (inside = readLease(join(store, 'm', '.lock'))) });
    const seen = inside as ReturnType<typeof readLease> | null;
    assert.ok(seen?.kind === 'lease' && seen.holder.pid === process.pid && seen.holder.purpose === 'publish m', JSON.stringify(seen));
    assert.ok(!existsSync(join(store, 'm', '.lock')));
  });

  test('a failing fsync of CURRENT\'s temporary fails the publish and leaves CURRENT untouched', () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const restore = failFsync((p) => basename(p).startsWith('.CURRENT.'), 'EIO');
    try {
      assert.throws(() => publishRandom(store, 'm', { seed: 2 }), { code: 'EIO' });
    } finally {
      restore();
    }
    assert.equal(readFileSync(join(store, 'm', 'CURRENT'), 'utf8'), 'v000001\n');
    assert.deepEqual(dotEntries(store, 'm'), [], 'no temporary and no lock left');
    // the next publish goes through (v000002 was written whole, CURRENT never pointed at it)
    assert.equal(publishRandom(store, 'm', { seed: 3 }).version, 'v000003');
    assert.equal(readCurrent(store, 'm'), 'v000003');
  });

  test('CURRENT holding garbage: readCurrent names the file and the repair; setCurrent repairs it with a verified, published version only', () => {
    const store = tempDir();
    publishRandom(store, 'm');
    publishRandom(store, 'm', { seed: 2, publish: false }); // v000002 rejected
    publishRandom(store, 'm', { seed: 3 }); // v000003
    const cur = join(store, 'm', 'CURRENT');
    writeFileSync(cur, '\u0000\u0000garbage');
    assert.throws(() => readCurrent(store, 'm'), (e: Error) => e instanceof ModelStoreError && e.message.includes(cur) && /mtf models rollback <version> --name m/.test(e.message));
    assert.throws(() => publishRandom(store, 'm', { seed: 4 }), ModelStoreError, 'no publish over a CURRENT that cannot be read');
    assert.equal(readCurrentState(store, 'm').kind, 'garbage');
    assert.throws(() => setCurrent({ storeDir: store, name: 'm', version: 'v000002' }), /status 'rejected' \(the gate said: test rejection\); only a published version/);
    assert.throws(() => setCurrent({ storeDir: store, name: 'm', version: 'v000009' }), /v000009: no such version/);
    const p1 = join(store, 'm', 'v000001', 'policy.onnx');
    const bytes = readFileSync(p1);
    bytes[10] ^= 0xff;
    writeFileSync(p1, bytes);
    assert.throws(() => setCurrent({ storeDir: store, name: 'm', version: 'v000001' }), /policy\.onnx: sha256 .* does not match/);
    assert.equal(readFileSync(cur, 'utf8'), '\u0000\u0000garbage', 'refusals leave CURRENT as it was');
    const r = setCurrent({ storeDir: store, name: 'm', version: 'v000003' });
    assert.equal(r.changed, true);
    assert.equal(r.previous.kind, 'garbage');
    assert.equal(readCurrent(store, 'm'), 'v000003');
    assert.equal(setCurrent({ storeDir: store, name: 'm', version: 'v000003' }).changed, false);
    assert.throws(() => setCurrent({ storeDir: store, name: 'm', version: 'v000003', expect: 'v000001' }), /expected v000001, found v000003/);
    assert.deepEqual(dotEntries(store, 'm'), []);
  });

  test('atomicity: a reader polling during publication never sees a partial or mismatched version', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'publishLoop.ts'), store, 'm', '25', '2'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    let running = true;
    void done.then(() => (running = false));
    const seen = new Set<string>();
    let reads = 0;
    let races = 0;
    while (running) {
      const v = readCurrent(store, 'm')!;
      try {
        const r = readVersion(store, 'm', v); // sizes and SHA-256s of both files against the manifest
        assert.equal(r.manifest.version, v);
        seen.add(v);
        reads++;
      } catch (e) {
        // only legitimate when retention removed v after CURRENT moved on
        assert.notEqual(readCurrent(store, 'm'), v, `CURRENT still names ${v} but it cannot be read: ${(e as Error).message}`);
        races++;
      }
      // any version directory that is listed at all is complete (it appeared by one rename)
      const newest = listVersions(store, 'm').at(-1)!;
      try {
        readVersion(store, 'm', newest);
      } catch (e) {
        assert.ok(!listVersions(store, 'm').includes(newest), `${newest} is listed but incomplete: ${(e as Error).message}`);
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await done, 0, err);
    const published = JSON.parse(out) as string[];
    assert.equal(published.length, 25);
    assert.equal(readCurrent(store, 'm'), published.at(-1));
    assert.ok(seen.size >= 2, `the reader saw ${seen.size} versions in ${reads} reads`);
    assert.deepEqual(listVersions(store, 'm').length, 3, 'CURRENT + 2 kept');
    assert.ok(!readdirSync(join(store, 'm')).some((f) => f.startsWith('.')), 'no temporaries left');
    console.log(`# atomicity: ${reads} verified reads of ${seen.size} versions, ${races} reads raced retention`);
  });

  test('schemas/manifest.schema.json matches the zod source', () => {
    assert.equal(readFileSync(join(ROOT, 'schemas', 'manifest.schema.json'), 'utf8'), renderManifestSchema(), 'stale: regenerate with renderManifestSchema() (see schemas/manifest.md)');
  });
});
