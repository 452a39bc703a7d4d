/**
 * Atomic file-system writes (STYLE.md, habit 4): write into a temporary sibling, fsync, rename. A
 * reader sees the old content or the new, never half of either; a failure leaves the old intact.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync, writeSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tmpSibling(target: string, tag: string): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsync a file or directory; file systems that refuse it on directories are tolerated (renames stay atomic). */
export function fsyncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes the whole buffer and fsyncs it before closing (the first half of temp + fsync + rename). */
export function writeFileSynced(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpSibling(path, 'tmp');
  try {
    writeFileSync(tmp, data);
    fsyncPath(tmp);
    renameSync(tmp, path);
    fsyncPath(dirname(path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Builds a directory atomically: `build` fills a temporary sibling; on success it replaces `target`
 * (an old `target` is moved aside first and removed after); on failure the temporary is removed and
 * `target` is untouched.
 */
export async function writeDirAtomic<T>(target: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tmpSibling(target, 'building');
  mkdirSync(tmp);
  let result: T;
  try {
    result = await build(tmp);
    fsyncPath(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  if (existsSync(target)) {
    const old = tmpSibling(target, 'old');
    renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
  fsyncPath(dirname(target));
  return result;
}
