/**
 * The files a fanned-out evaluation passes between its jobs (fitBundle.ts): a JSON header and typed
 * arrays in one binary file, written atomically (temporary sibling, fsync, rename), so that a reader
 * finds a complete file or none — a fit job whose result file exists is done.
 *
 *   'MTFB' | u32 header bytes | header JSON { meta, arrays: [{ name, type, length, offset }] } | arrays (8-aligned)
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors/index.ts';
import { writeFileAtomic } from '../io/index.ts';
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

export function encodeArrays(meta: Record<string, unknown>, arrays: Record<string, Typed | null | undefined>): Uint8Array {
  const entries = Object.entries(arrays).filter((e): e is [string, Typed] => e[1] != null);
  const index: { name: string; type: TypeName; length: number; offset: number }[] = [];
  let offset = 0;
  for (const [name, x] of entries) {
    index.push({ name, type: typeOf(x), length: x.length, offset });
    offset = align8(offset + x.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ meta, arrays: index }), 'utf8');
  const start = align8(8 + header.length);
  const out = new Uint8Array(start + offset);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  entries.forEach(([, x], i) => out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), start + index[i].offset));
  return out;
}

export function decodeArrays(buf: Uint8Array, file: string): { meta: Record<string, unknown>; arrays: Record<string, Typed> } {
  const bad = (why: string) => new InputError(`${file}: not a fit file of this evaluation (${why}); remove it and run the evaluation again`, { file });
  if (buf.length < 8 || Buffer.from(buf.subarray(0, 4)).toString('latin1') !== MAGIC) throw bad('no MTFB header');
  const len = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(4, true);
  if (8 + len > buf.length) throw bad('header longer than the file');
  let header: { meta: Record<string, unknown>; arrays: { name: string; type: TypeName; length: number; offset: number }[] };
  try {
    header = JSON.parse(Buffer.from(buf.subarray(8, 8 + len)).toString('utf8'));
  } catch (err) {
    throw bad(`header: ${(err as Error).message}`);
  }
  const start = align8(8 + len);
  const arrays: Record<string, Typed> = {};
  for (const a of header.arrays) {
    const Ctor = TYPES[a.type];
    if (!Ctor) throw bad(`array '${a.name}' of unknown type '${a.type}'`);
    const bytes = a.length * Ctor.BYTES_PER_ELEMENT;
    if (start + a.offset + bytes > buf.length) throw bad(`array '${a.name}' runs past the end`);
    // a copy: aligned for the typed array, and independent of the file's buffer
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(start + a.offset, start + a.offset + bytes));
    arrays[a.name] = new Ctor(copy.buffer);
  }
  return { meta: header.meta, arrays };
}

export function writeArraysFile(path: string, meta: Record<string, unknown>, arrays: Record<string, Typed | null | undefined>): void {
  writeFileAtomic(path, encodeArrays(meta, arrays));
}

export function readArraysFile(path: string): { meta: Record<string, unknown>; arrays: Record<string, Typed> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { file: path });
  }
  return decodeArrays(buf, path);
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
