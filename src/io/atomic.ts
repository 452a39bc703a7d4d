/**
 * Atomic file-system writes (STYLE.md, habit 4): write into a temporary sibling, fsync, rename. A
 * reader sees the old content or the new, never half of either; a failure leaves the old intact.
 */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync, writeSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError } from '../errors/index.ts';

function tmpSibling(target: string, tag: string): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Whether a failed fsync (or the open before it) may be ignored: only for a directory, and only with
 * the errors of platforms and file systems that cannot sync directories — EINVAL (fsync(2): the file
 * system does not support it), ENOTSUP/EOPNOTSUPP (some network and FUSE file systems), EISDIR (a
 * directory cannot be opened as a file: Windows), and on Windows EPERM/EACCES/EBADF (FlushFileBuffers
 * refuses directory handles: nodejs/node#3879). A rename stays atomic there; only its durability
 * across a power cut is what the platform cannot give. Anything else — EIO above all — and any error
 * on a file is a failed write: the caller must not go on as if the data were on disk.
 */
export function fsyncErrorTolerated(code: string | undefined, isDirectory: boolean, platform: NodeJS.Platform = process.platform): boolean {
  if (!isDirectory || code === undefined) return false;
  if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EISDIR') return true;
  return platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBADF');
}

/** fsync a file or directory. Throws on failure, except the directory cases of fsyncErrorTolerated. */
export function fsyncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (err) {
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // cannot tell: not a directory we know of, so the original error stands
    }
    if (!fsyncErrorTolerated((err as NodeJS.ErrnoException).code, isDirectory)) throw err;
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

const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpSibling(path, 'tmp');
  try {
    writeFileSynced(tmp, bytesOf(data)); // an fsync error (EIO) throws here, before the rename: `path` is untouched
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dirname(path));
}

/**
 * Creates `path` with `data` unless it exists; returns false when it does (someone else created it).
 * The file is complete the moment it appears: the data goes into a temporary sibling, fsynced, which
 * is then hard-linked to `path` — link(2) fails with EEXIST instead of replacing, so of several
 * creators exactly one wins, and no reader ever sees an empty or half-written file (an O_EXCL create
 * followed by a write has that window). On NFS a link whose reply was lost can report an error although
 * it happened; as open(2) advises, the temporary's link count then tells (2 = ours).
 */
export function createFileExclusive(path: string, data: string | Uint8Array): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpSibling(path, 'new');
  try {
    writeFileSynced(tmp, bytesOf(data));
    try {
      linkSync(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      let linked = false;
      try {
        linked = statSync(tmp).nlink === 2;
      } catch {
        // fall through with the link's own error
      }
      if (!linked) {
        if (code === 'EEXIST') return false;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          throw new InputError(`${dirname(path)}: the file system refused a hard link (${code}); run records and the model store's publish lock need link(2) (local disks and NFS have it)`, { file: path });
        }
        throw err;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncPath(dirname(path));
  return true;
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
