/**
 * The files a fanned-out evaluation passes between its jobs (fitBundle.ts): a JSON header and typed
 * arrays in one binary file, written atomically (temporary sibling, fsync, rename), so that a reader
 * finds a complete file or none — a fit job whose result file exists is done. Written and read array
 * by array in 64 MiB pieces: at 10× the paper the split's file is gigabytes (readFileSync stops at 2 GiB).
 *
 *   'MTFB' | u32 header bytes | header JSON { meta, arrays: [{ name, type, length, offset }] } | arrays (8-aligned)
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { fsyncPath } from '../io/index.ts';
import type { FqeFit } from './fqe.ts';

type Typed = Float32Array | Float64Array | Int32Array | Uint8Array;
const TYPES = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array } as const;
type TypeName = keyof typeof TYPES;
const MAGIC = 'MTFB';

function typeOf(x: Typed): TypeName {
  if (x instanceof Float32Array) return 'f32';
  if (x instanceof Float64Array) return 'f64';
  if (x instanceof Int32Array) return 'i32';
  return 'u8';
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

interface Entry {
  name: string;
  type: TypeName;
  length: number;
  offset: number;
}

/** Big arrays go to and come from the file in pieces of this size (no 2 GiB whole-file buffer). */
const CHUNK = 64 * 2 ** 20;

/**
 * Writes the file piece by piece under a temporary name (fsynced), then renames it into place: at the
 * 10× scale the split's arrays are gigabytes, more than one Buffer or readFileSync takes.
 */
export function writeArraysFile(path: string, meta: Record<string, unknown>, arrays: Record<string, Typed | null | undefined>): void {
  const entries = Object.entries(arrays).filter((e): e is [string, Typed] => e[1] != null);
  const index: Entry[] = [];
  let offset = 0;
  for (const [name, x] of entries) {
    index.push({ name, type: typeOf(x), length: x.length, offset });
    offset = align8(offset + x.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ meta, arrays: index }), 'utf8');
  const start = align8(8 + header.length);
  const head = new Uint8Array(start);
  head.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(head.buffer).setUint32(4, header.length, true);
  head.set(header, 8);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeAll(fd, head, 0);
      entries.forEach(([, x], i) => {
        const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
        for (let at = 0; at < bytes.length; at += CHUNK) writeAll(fd, bytes.subarray(at, Math.min(at + CHUNK, bytes.length)), start + index[i].offset + at);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dirname(path));
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function readAll(fd: number, into: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(CHUNK, into.length - done), position + done);
    if (n === 0) throw new InputError(`${file}: not a fit file of this evaluation (${what} runs past the end); remove it and run the evaluation again`, { file });
    done += n;
  }
}

export function readArraysFile(path: string): { meta: Record<string, unknown>; arrays: Record<string, Typed> } {
  const bad = (why: string) => new InputError(`${path}: not a fit file of this evaluation (${why}); remove it and run the evaluation again`, { file: path });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { file: path });
  }
  try {
    const size = fstatSync(fd).size;
    const first = new Uint8Array(8);
    if (size < 8) throw bad('no MTFB header');
    readAll(fd, first, 0, path, 'the header');
    if (Buffer.from(first.subarray(0, 4)).toString('latin1') !== MAGIC) throw bad('no MTFB header');
    const len = new DataView(first.buffer).getUint32(4, true);
    if (8 + len > size) throw bad('header longer than the file');
    const text = new Uint8Array(len);
    readAll(fd, text, 8, path, 'the header');
    let header: { meta: Record<string, unknown>; arrays: Entry[] };
    try {
      header = JSON.parse(Buffer.from(text).toString('utf8'));
    } catch (err) {
      throw bad(`header: ${(err as Error).message}`);
    }
    const start = align8(8 + len);
    const arrays: Record<string, Typed> = {};
    for (const a of header.arrays) {
      const Ctor = TYPES[a.type];
      if (!Ctor) throw bad(`array '${a.name}' of unknown type '${a.type}'`);
      const bytes = a.length * Ctor.BYTES_PER_ELEMENT;
      if (start + a.offset + bytes > size) throw bad(`array '${a.name}' runs past the end`);
      const out = new Ctor(a.length);
      readAll(fd, new Uint8Array(out.buffer), start + a.offset, path, `array '${a.name}'`);
      arrays[a.name] = out;
    }
    return { meta: header.meta, arrays };
  } finally {
    closeSync(fd);
  }
}

export const FIT_RESULT_FORMAT = 'batchrl-mtf/fqe-fit@1';

/** Who computed a fit and with which seed and step count (checked against what the evaluation asks). */
export interface FitResultMeta {
  format: typeof FIT_RESULT_FORMAT;
  policy: string;
  refit: number;
  seed: number;
  iterations: number;
  /** the worker process (host/pid#child) that ran the fit job */
  worker: string;
  finished_at: string;
}

export function writeFitResult(path: string, fit: FqeFit, meta: Omit<FitResultMeta, 'format'>): void {
  const weights = Object.fromEntries((fit.weights ?? []).map((w, i) => [`w${i}`, w]));
  writeArraysFile(
    path,
    { ...meta, format: FIT_RESULT_FORMAT, value: fit.value, curves: fit.curves, seconds: fit.seconds, fit_iterations: fit.iterations, weights: fit.weights?.length ?? null },
    { qData: fit.qData, qPi: fit.qPi, ...weights },
  );
}

export function readFitResult(path: string): { fit: FqeFit; meta: FitResultMeta } {
  const { meta, arrays } = readArraysFile(path);
  if (meta.format !== FIT_RESULT_FORMAT) throw new InputError(`${path}: format '${String(meta.format)}', expected ${FIT_RESULT_FORMAT}`, { file: path });
  const nw = meta.weights as number | null;
  const fit: FqeFit = {
    value: meta.value as number[],
    curves: meta.curves as FqeFit['curves'],
    qData: (arrays.qData as Float64Array | undefined) ?? null,
    qPi: (arrays.qPi as Float64Array | undefined) ?? null,
    weights: nw === null ? null : Array.from({ length: nw }, (_, i) => arrays[`w${i}`] as Float32Array),
    iterations: meta.fit_iterations as number,
    seconds: meta.seconds as number,
  };
  return { fit, meta: meta as unknown as FitResultMeta };
}
