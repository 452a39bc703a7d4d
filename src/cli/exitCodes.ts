/**
 * Which exit code an error means, and the one line a user reads (the rule is in main.ts's header).
 * Node's filesystem and network errors are classified here, in one place: the path or address they
 * name, the real cause in words, and what to do.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError, oneLine, TransientError } from '../errors/index.ts';
import { GateRejectedError } from '../export/gate.ts';
import { UsageError } from './flags.ts';

export const EXIT = { ok: 0, input: 1, usage: 2, internal: 3, transient: 4, rejected: 5 } as const;

/** errno codes that mean: the path (or address) the user gave is unusable as it is. */
const INPUT_ERRNO: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the folder is not empty',
  ENOENT: 'no such file or directory',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
};

/** errno codes that mean: the machine or the network hiccupped; the same command may work later. */
const TRANSIENT_ERRNO: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'resource busy',
  EAGAIN: 'resource temporarily unavailable',
  ETIMEDOUT: 'timed out',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'broken pipe',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EAI_AGAIN: 'name lookup failed for now',
};

const VERB: Record<string, string> = {
  mkdir: 'cannot create the folder',
  open: 'cannot open',
  write: 'cannot write',
  fsync: 'cannot write',
  rename: 'cannot rename',
  unlink: 'cannot remove',
  rmdir: 'cannot remove',
  rm: 'cannot remove',
  scandir: 'cannot list',
  opendir: 'cannot list',
  copyfile: 'cannot copy',
  stat: 'cannot access',
  lstat: 'cannot access',
  access: 'cannot access',
  listen: 'cannot listen',
  connect: 'cannot connect',
};

export interface Classified {
  code: number;
  /** one line, without the leading "mtf: " */
  message: string;
}

type Errno = Error & { code?: unknown; syscall?: string; path?: string; dest?: string; address?: string; port?: number };

function errnoOf(err: unknown): (Errno & { code: string }) | null {
  if (!(err instanceof Error)) return null;
  const e = err as Errno;
  return typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code) && (e.syscall !== undefined || e.code in INPUT_ERRNO || e.code in TRANSIENT_ERRNO) ? (e as Errno & { code: string }) : null;
}

/**
 * Node's recursive mkdir reports ENOENT when the folder it should create lies on a read-only file
 * system (or under a folder it may not write): the nearest existing ancestor says what is really wrong
 * (as it does for ENOTDIR and EEXIST: which part of the path is a file).
 */
export function diagnoseMkdir(path: string): { code: string; cause: string } | null {
  if (existsSync(path) && !statSync(path).isDirectory()) return { code: 'EEXIST', cause: 'it is a file, not a folder' };
  let p = dirname(path);
  while (!existsSync(p)) {
    const parent = dirname(p);
    if (parent === p) return null;
    p = parent;
  }
  if (!statSync(p).isDirectory()) return { code: 'ENOTDIR', cause: `${p} is a file, not a folder` };
  try {
    accessSync(p, constants.W_OK);
  } catch (err) {
    const code = String((err as Errno).code);
    if (code === 'EROFS') return { code, cause: `${p} is on a read-only file system` };
    return { code, cause: `${p}: ${INPUT_ERRNO[code] ?? TRANSIENT_ERRNO[code] ?? code}` };
  }
  return null;
}

function hint(code: string): string {
  switch (code) {
    case 'EROFS':
      return 'choose a writable location';
    case 'EACCES':
    case 'EPERM':
      return 'check its permissions or choose another location';
    case 'EADDRINUSE':
      return 'another process listens there: choose another --port (0 = any free one) or stop that process';
    case 'EADDRNOTAVAIL':
      return 'choose another --host';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'free some space, then try again';
    default:
      return code in TRANSIENT_ERRNO ? 'try again' : 'check the path';
  }
}

function describeErrno(e: Errno & { code: string }): Classified {
  let code = e.code;
  let cause = INPUT_ERRNO[code] ?? TRANSIENT_ERRNO[code] ?? code;
  if (['ENOENT', 'ENOTDIR', 'EEXIST'].includes(code) && e.syscall === 'mkdir' && e.path) {
    const real = diagnoseMkdir(e.path);
    if (real) ({ code, cause } = real);
  }
  const exit = code in TRANSIENT_ERRNO ? EXIT.transient : EXIT.input;
  const where = e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : e.path !== undefined ? `${e.path}${e.dest ? ` → ${e.dest}` : ''}` : null;
  const verb = e.syscall ? VERB[e.syscall] : undefined;
  const what = [where, verb].filter(Boolean).join(': ');
  return { code: exit, message: `${what ? `${what}: ` : ''}${cause} (${code}); ${hint(code)}` };
}

/** The exit code and one-line message for an error that reached the top of a command. */
export function classifyError(err: unknown): Classified {
  const message = oneLine(err);
  if (err instanceof UsageError) return { code: EXIT.usage, message };
  if (err instanceof GateRejectedError) return { code: EXIT.rejected, message };
  if (err instanceof InputError) return { code: EXIT.input, message };
  if (err instanceof TransientError) return { code: EXIT.transient, message };
  const errno = errnoOf(err);
  if (errno && (errno.code in INPUT_ERRNO || errno.code in TRANSIENT_ERRNO)) return describeErrno(errno);
  return { code: EXIT.internal, message };
}
