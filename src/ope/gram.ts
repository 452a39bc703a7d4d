/**
 * The native kernels of the nearest-neighbour search (neighbours.ts knnGram): Q·Rᵀ as one OpenBLAS
 * sgemm and the per-row selection in C, through the addon of src/rl/native.ts. The direct sgemm call
 * matters: for 1024 × 5000 × 28, tf.matMul(…, transposeB) on the native tfjs backend took 15 s on this
 * VM (its transposed-B kernel is not the native one), the sgemm 8 ms. Without the addon (MTF_NATIVE=0,
 * no OpenBLAS or compiler) the search takes the exact scalar scan: the same neighbours, slower.
 */
import { loadNativeBlas } from '../rl/native.ts';
import type { KnnKernels } from './neighbours.ts';

/** The native kernels, or null with the reason when the addon cannot load. */
export function nativeKnn(threads = 1): { kernels: KnnKernels; reason: null } | { kernels: null; reason: string } {
  const load = loadNativeBlas(threads);
  if (!load.ok) return { kernels: null, reason: load.reason };
  const { blas } = load;
  return {
    kernels: {
      gram: (q, m, r, nr, dim, out) => blas.sgemm(false, true, m, nr, dim, q, r, out, 1, 0, 0),
      select: (G, m, nr, qn, rn, skip, L, outD, outJ) => blas.knnSelect(G, m, nr, qn, rn, skip, L, outD, outJ),
    },
    reason: null,
  };
}
