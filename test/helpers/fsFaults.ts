/**
 * Injected file-system failures for the tests of src/io and the store, without a seam in the code:
 * node:fs's own functions are replaced and syncBuiltinESMExports() makes every `import { fsyncSync }
 * from 'node:fs'` see the replacement. Always call the returned restore function (in finally).
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** fsync of a descriptor opened on a path that `match`es fails with `code`; returns restore(). */
export function failFsync(match: (path: string) => boolean, code = 'EIO'): () => void {
  const { openSync, fsyncSync, closeSync } = fs;
  const paths = new Map<number, string>();
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(path, ...rest);
    paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  fs.closeSync = ((fd: number) => {
    paths.delete(fd);
    closeSync(fd);
  }) as typeof fs.closeSync;
  fs.fsyncSync = ((fd: number) => {
    const path = paths.get(fd);
    if (path !== undefined && match(path)) throw Object.assign(new Error(`${code}: i/o error (injected), fsync '${path}'`), { code, syscall: 'fsync', path });
    fsyncSync(fd);
  }) as typeof fs.fsyncSync;
  syncBuiltinESMExports();
  return () => {
    fs.openSync = openSync;
    fs.fsyncSync = fsyncSync;
    fs.closeSync = closeSync;
    syncBuiltinESMExports();
  };
}
