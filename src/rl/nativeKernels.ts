/**
 * Kernels of the 'mtf-native' backend: tfjs's JS CPU backend (all its kernels copied) with
 *   - BatchMatMul and _FusedMatMul served by OpenBLAS sgemm (plain shapes; others fall back),
 *   - the Mtf* kernels (dense forward, ReLU/bias gradient, column sums, Adam, lerp) in C,
 *   - monomorphic JS loops for the elementwise ops (elementwise.ts),
 *   - SplitV and Slice of rank-2 tensors as row copies (the JS kernels walk element by element
 *     through index arithmetic; concat's gradient is a split, so every first layer pays it),
 *   - a pool of the large output buffers, so that a training step does not hand V8 ~100 MB of
 *     fresh ArrayBuffers to collect (measured: 15 ms/iter of GC at hidden 256 without it).
 *
 * The pool only recycles arrays that these kernels allocated, when tfjs disposes their tensor.
 * Contract that makes this safe: views of pooled arrays are never handed out (Slice copies here), and
 * callers read tensors through copies (`read` in algorithm.ts), not by keeping `dataSync()`'s array past
 * a dispose.
 */
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_CODE, type AdamHyper, type DenseActivation, type KernelArgs } from './kernelTypes.ts';
import type { NativeBlas } from './native.ts';
import { installElementwise } from './elementwise.ts';

interface CpuLikeBackend {
  data: { get(id: tf.DataId): { values: unknown } | undefined; has(id: tf.DataId): boolean };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  disposeData(id: tf.DataId, force?: boolean): boolean;
}

/** Arrays below this many elements are left to V8 (cheap to allocate, not worth tracking). */
const POOL_MIN = 256;
/** At most this many free arrays kept per length, and this many bytes in all. */
const POOL_PER_SIZE = 32;
const POOL_MAX_BYTES = 512 << 20;

class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<Float32Array>();
  private bytes = 0;

  take(n: number): Float32Array {
    if (n < POOL_MIN) return new Float32Array(n);
    let a = this.free.get(n)?.pop();
    if (a) this.bytes -= a.byteLength;
    else a = new Float32Array(n);
    this.owned.add(a);
    return a;
  }

  give(a: unknown): void {
    if (!(a instanceof Float32Array) || !this.owned.has(a)) return;
    let list = this.free.get(a.length);
    if (!list) this.free.set(a.length, (list = []));
    this.owned.delete(a);
    if (list.length < POOL_PER_SIZE && this.bytes + a.byteLength <= POOL_MAX_BYTES) {
      list.push(a);
      this.bytes += a.byteLength;
    }
  }

  clear(): void {
    this.free.clear();
    this.bytes = 0;
  }
}

export const pool = new BufferPool();

/** A CPU backend whose disposed tensors give their pooled buffers back. */
export function pooledCpuBackendFactory(): () => tf.KernelBackend {
  const cpu = tf.findBackendFactory('cpu');
  return () => {
    const backend = cpu() as unknown as CpuLikeBackend;
    const dispose = backend.disposeData.bind(backend);
    backend.disposeData = (dataId, force) => {
      const values = backend.data.get(dataId)?.values;
      const done = dispose(dataId, force);
      if (values && !backend.data.has(dataId)) pool.give(values);
      return done;
    };
    return backend as unknown as tf.KernelBackend;
  };
}

export function installNativeKernels(backendName: string, blas: NativeBlas): void {
  const vals = (b: unknown, t: tf.TensorInfo) => (b as CpuLikeBackend).data.get(t.dataId)!.values as Float32Array;
  const out = (b: unknown, shape: number[], values: Float32Array) => (b as CpuLikeBackend).makeTensorInfo(shape, 'float32', values);
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const orig = (name: string) => tf.getKernel(name, backendName)!.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
  const reg = (kernelName: string, kernelFunc: (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) => {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };

  reg('MtfDense', ({ inputs, backend, attrs }) => {
    const all = Object.values(inputs);
    const p = attrs!.parts as number;
    const [W, b] = [all[p], all[p + 1]];
    const M = all[0].shape[0];
    const N = W.shape[1];
    const y = pool.take(M * N);
    const parts = all.slice(0, p).map((x) => vals(backend, x));
    blas.denseForward(parts, vals(backend, W), vals(backend, b), y, M, N, ACTIVATION_CODE[attrs!.activation as DenseActivation]);
    return out(backend, [M, N], y);
  });
  reg('MtfActGrad', ({ inputs: { dy, y }, backend, attrs }) => {
    const [M, N] = y.shape;
    const dz = pool.take(M * N);
    const db = pool.take(N);
    blas.actGrad(vals(backend, dy), vals(backend, y), dz, db, M, N, ACTIVATION_CODE[attrs!.activation as DenseActivation]);
    return [out(backend, [M, N], dz), out(backend, [N], db)];
  });
  reg('MtfColSum', ({ inputs: { x }, backend }) => {
    const [M, N] = x.shape;
    const o = pool.take(N);
    blas.colSum(vals(backend, x), o, M, N);
    return out(backend, [N], o);
  });
  reg('MtfAdam', ({ inputs: { p, g, m, v }, backend, attrs }) => {
    const n = size(p.shape);
    const [po, mo, vo] = [pool.take(n), pool.take(n), pool.take(n)];
    const h = attrs as unknown as AdamHyper;
    blas.adam(vals(backend, p), vals(backend, g), vals(backend, m), vals(backend, v), po, mo, vo, h.lr, h.beta1, h.beta2, h.eps, h.t);
    return [out(backend, p.shape, po), out(backend, p.shape, mo), out(backend, p.shape, vo)];
  });
  reg('MtfLerp', ({ inputs: { target, online }, backend, attrs }) => {
    const o = pool.take(size(target.shape));
    blas.lerp(vals(backend, target), vals(backend, online), o, attrs!.eta as number);
    return out(backend, target.shape, o);
  });

  const batchMatMul = orig('BatchMatMul');
  reg('BatchMatMul', (args) => nativeMatMul(blas, args, vals, out) ?? batchMatMul(args));

  const fusedMatMul = orig('_FusedMatMul');
  reg('_FusedMatMul', (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation: string };
    // tf.fused.matMul hands over rank-3 operands; a batch of one is a plain 2-D product.
    const lead = (t: tf.TensorInfo) => t.shape.slice(0, -2).every((d) => d === 1);
    const N = b.shape[b.shape.length - 1];
    const plain =
      a.shape.length >= 2 && b.shape.length >= 2 && lead(a) && lead(b) && !transposeA && !transposeB && !preluActivationWeights &&
      (activation === 'relu' || activation === 'linear') && (!bias || (bias.shape.length === 1 && bias.shape[0] === N));
    if (!plain) return fusedMatMul(args);
    const M = a.shape[a.shape.length - 2];
    const y = pool.take(M * N);
    const bv = bias ? vals(args.backend, bias) : new Float32Array(0);
    blas.denseForward([vals(args.backend, a)], vals(args.backend, b), bv, y, M, N, activation === 'relu' ? 1 : 0);
    const rank = Math.max(a.shape.length, b.shape.length);
    return out(args.backend, [...new Array(rank - 2).fill(1), M, N], y);
  });

  installElementwise(backendName, reg, vals, out, (n) => pool.take(n));

  // Column blocks of a rank-2 tensor, copied row by row.
  const copyCols = (x: Float32Array, rows: number, cols: number, begin: number[], sz: number[]) => {
    const [r0, c0] = begin;
    const [nr, nc] = sz;
    const o = pool.take(nr * nc);
    for (let i = 0; i < nr; i++) o.set(x.subarray((r0 + i) * cols + c0, (r0 + i) * cols + c0 + nc), i * nc);
    return o;
  };
  const splitV = orig('SplitV');
  reg('SplitV', (args) => {
    const { x } = args.inputs;
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    if (x.shape.length !== 2 || x.dtype !== 'float32') return splitV(args);
    const ax = axis < 0 ? axis + 2 : axis;
    const sizes = typeof numOrSizeSplits === 'number'
      ? new Array(numOrSizeSplits).fill(x.shape[ax] / numOrSizeSplits)
      : numOrSizeSplits;
    if (sizes.some((s) => s < 0 || !Number.isInteger(s))) return splitV(args);
    const [rows, cols] = x.shape;
    const xv = vals(args.backend, x);
    let at = 0;
    return sizes.map((s) => {
      const begin = ax === 0 ? [at, 0] : [0, at];
      const sz = ax === 0 ? [s, cols] : [rows, s];
      at += s;
      return out(args.backend, sz, copyCols(xv, rows, cols, begin, sz));
    });
  });
  const slice = orig('Slice');
  reg('Slice', (args) => {
    const { x } = args.inputs;
    const { begin, size: sz } = args.attrs as { begin: number[]; size: number[] };
    if (x.shape.length !== 2 || x.dtype !== 'float32' || !Array.isArray(begin) || !Array.isArray(sz)) {
      // The JS kernel may return a view of x's buffer: copy it so that pooled buffers are never aliased.
      const r = slice(args);
      const v = vals(args.backend, r);
      if (v.buffer === vals(args.backend, x).buffer) {
        const copy = out(args.backend, r.shape, Float32Array.from(v));
        (args.backend as CpuLikeBackend).disposeData(r.dataId);
        return copy;
      }
      return r;
    }
    const [rows, cols] = x.shape;
    const s = sz.map((n, i) => (n === -1 ? x.shape[i] - begin[i] : n));
    return out(args.backend, s, copyCols(vals(args.backend, x), rows, cols, begin, s));
  });
}

function nativeMatMul(
  blas: NativeBlas,
  { inputs: { a, b }, backend, attrs }: KernelArgs,
  vals: (b: unknown, t: tf.TensorInfo) => Float32Array,
  out: (b: unknown, shape: number[], values: Float32Array) => tf.TensorInfo,
): tf.TensorInfo | null {
  const ta = !!attrs!.transposeA;
  const tb = !!attrs!.transposeB;
  if (a.shape.length < 2 || b.shape.length < 2 || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const nA = batchA.reduce((x, y) => x * y, 1);
  const nB = batchB.reduce((x, y) => x * y, 1);
  let batchShape: number[];
  if (nB === 1) batchShape = batchA.length >= batchB.length ? batchA : batchB;
  else if (nA === 1) batchShape = batchB.length >= batchA.length ? batchB : batchA;
  else if (batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i])) batchShape = batchA;
  else return null;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = ta ? ac : ar;
  const K = ta ? ar : ac;
  const N = tb ? br : bc;
  if ((tb ? bc : br) !== K) return null;
  const batch = Math.max(nA, nB);
  const C = pool.take(batch * M * N);
  blas.sgemm(ta, tb, M, N, K, vals(backend, a), vals(backend, b), C, batch, nA === 1 ? 0 : ar * ac, nB === 1 ? 0 : br * bc);
  return out(backend, [...batchShape, M, N], C);
}
