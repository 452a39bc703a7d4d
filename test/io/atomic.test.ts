/**
 * src/io/atomic.ts: which fsync failures may be ignored (only the "directories cannot be synced" ones),
 * that any other one fails the write with the target untouched, and createFileExclusive (complete when
 * it appears, exactly one creator wins).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { createFileExclusive, fsyncErrorTolerated, fsyncPath, writeFileAtomic } from '../../src/io/index.ts';
import { failFsync } from '../helpers/fsFaults.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('fsync', () => {
  test('tolerated: EINVAL/ENOTSUP/EOPNOTSUPP/EISDIR on a directory, EPERM/EACCES/EBADF on a Windows directory; nothing else', () => {
    for (const code of ['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR']) {
      assert.equal(fsyncErrorTolerated(code, true, 'linux'), true, code);
      assert.equal(fsyncErrorTolerated(code, false, 'linux'), false, `${code} on a file`);
    }
    for (const code of ['EPERM', 'EACCES', 'EBADF']) {
      assert.equal(fsyncErrorTolerated(code, true, 'win32'), true, `${code} on a Windows directory`);
      assert.equal(fsyncErrorTolerated(code, true, 'linux'), false, `${code} on a Linux directory`);
      assert.equal(fsyncErrorTolerated(code, false, 'win32'), false, `${code} on a Windows file`);
    }
    for (const code of ['EIO', 'ENOSPC', 'EDQUOT', 'EROFS', 'ENOENT', undefined]) {
      assert.equal(fsyncErrorTolerated(code, true, 'linux'), false, String(code));
      assert.equal(fsyncErrorTolerated(code, true, 'win32'), false, String(code));
    }
  });

  test('fsyncPath throws EIO for a file and a directory, tolerates EINVAL for a directory only, and throws for a missing path', () => {
    const dir = tempDir();
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    fsyncPath(file);
    fsyncPath(dir);
    assert.throws(() => fsyncPath(join(dir, 'missing')), { code: 'ENOENT' });
    let restore = failFsync(() => true, 'EIO');
    try {
      assert.throws(() => fsyncPath(file), { code: 'EIO' });
      assert.throws(() => fsyncPath(dir), { code: 'EIO' });
    } finally {
      restore();
    }
    restore = failFsync(() => true, 'EINVAL');
    try {
      fsyncPath(dir); // a file system that cannot sync directories
      assert.throws(() => fsyncPath(file), { code: 'EINVAL' });
    } finally {
      restore();
    }
  });

  test('writeFileAtomic: a failing fsync of the temporary throws and leaves the target as it was', () => {
    const dir = tempDir();
    const target = join(dir, 'CURRENT');
    writeFileAtomic(target, 'v1\n');
    const restore = failFsync((p) => basename(p).startsWith('.CURRENT.'), 'EIO');
    try {
      assert.throws(() => writeFileAtomic(target, 'v2\n'), { code: 'EIO' });
    } finally {
      restore();
    }
    assert.equal(readFileSync(target, 'utf8'), 'v1\n');
    assert.deepEqual(readdirSync(dir), ['CURRENT'], 'no temporary left');
  });
});

describe('createFileExclusive', () => {
  test('the first creator wins with its complete content; later ones get false and change nothing; no temporaries', () => {
    const dir = tempDir();
    const path = join(dir, 'sub', 'run.json');
    assert.equal(createFileExclusive(path, '{"who":1}\n'), true);
    assert.equal(createFileExclusive(path, '{"who":2}\n'), false);
    assert.equal(readFileSync(path, 'utf8'), '{"who":1}\n');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['run.json']);
  });

  test('a failing fsync of its temporary creates nothing', () => {
    const dir = tempDir();
    const path = join(dir, 'run.json');
    const restore = failFsync((p) => basename(p).startsWith('.run.json.'), 'EIO');
    try {
      assert.throws(() => createFileExclusive(path, 'x'), { code: 'EIO' });
    } finally {
      restore();
    }
    assert.ok(!existsSync(path));
    assert.deepEqual(readdirSync(dir), [], 'no temporary left');
  });
});
