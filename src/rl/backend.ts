/**
 * Compute backend selection (issue 4 §2). `auto` tries, in order:
 *   tensorflow  @tensorflow/tfjs-node (native TensorFlow), when it is installed and loads;
 *   native      tfjs's CPU backend with its matmul kernels served by OpenBLAS (native/blas, built
 *               lazily) plus fused dense/Adam/soft-update kernels — registered as backend 'mtf-native',
 *               so that plain 'cpu' stays pure JS;
 *   wasm        @tensorflow/tfjs-backend-wasm (XNNPACK);
 *   cpu         the plain JS backend.
 * Each skipped candidate leaves its reason in `skipped`, and the CLI prints which one runs and why.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from './config.ts';
import { installKernels } from './kernels.ts';
import { loadNativeBlas } from './native.ts';
import { pooledCpuBackendFactory } from './nativeKernels.ts';

export interface BackendInfo {
  /** what runs: tensorflow | native | wasm | cpu */
  name: Exclude<BackendName, 'auto'>;
  /** the tfjs backend name underneath */
  tfBackend: string;
  /** one line for logs, e.g. "native (OpenBLAS 0.3.21, core Cooperlake, 1 thread)" */
  detail: string;
  /** candidates tried before and why each was skipped */
  skipped: string[];
}

export interface BackendOptions {
  /** BLAS threads of the native backend (default 1) */
  threads?: number;
}

const NATIVE_TF_BACKEND = 'mtf-native';

export async function initBackend(requested: BackendName = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  const order: Exclude<BackendName, 'auto'>[] = requested === 'auto' ? ['tensorflow', 'native', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    const r = await tryBackend(name, opts);
    if (r.ok) return { name, tfBackend: tf.getBackend(), detail: r.detail, skipped };
    skipped.push(`${name}: ${r.reason}`);
  }
  throw new Error(`no compute backend could start: ${skipped.join('; ')}`);
}

type Try = { ok: true; detail: string } | { ok: false; reason: string };

async function tryBackend(name: Exclude<BackendName, 'auto'>, opts: BackendOptions): Promise<Try> {
  switch (name) {
    case 'tensorflow': {
      const spec = '@tensorflow/tfjs-node';
      try {
        await import(spec);
      } catch (err) {
        return { ok: false, reason: `${spec} is not installed or does not load (${firstLine(err)})` };
      }
      if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: 'tf.setBackend("tensorflow") failed' };
      installKernels('tensorflow', { native: null, fastTransposedMatMul: true });
      return { ok: true, detail: 'tensorflow (@tensorflow/tfjs-node)' };
    }
    case 'native': {
      const threads = opts.threads ?? 1;
      const load = loadNativeBlas(threads);
      if (!load.ok) return { ok: false, reason: load.reason };
      if (!tf.findBackend(NATIVE_TF_BACKEND)) {
        tf.registerBackend(NATIVE_TF_BACKEND, pooledCpuBackendFactory(), 0);
        tf.copyRegisteredKernels('cpu', NATIVE_TF_BACKEND);
      }
      installKernels(NATIVE_TF_BACKEND, { native: load.blas, fastTransposedMatMul: true });
      if (!(await tf.setBackend(NATIVE_TF_BACKEND))) return { ok: false, reason: 'could not start the CPU backend' };
      quietCpuBanner();
      const core = load.corename ? `, core ${load.corename}` : '';
      const dropped = load.droppedCoretype ? `, ignored OPENBLAS_CORETYPE=${load.droppedCoretype}` : '';
      return { ok: true, detail: `native (${load.lib}${core}, ${threads} thread${threads > 1 ? 's' : ''}${dropped})` };
    }
    case 'wasm': {
      try {
        await import('@tensorflow/tfjs-backend-wasm');
        if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'tf.setBackend("wasm") failed' };
      } catch (err) {
        return { ok: false, reason: firstLine(err) };
      }
      installKernels('wasm', { native: null, fastTransposedMatMul: false });
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
      return { ok: true, detail: `wasm (XNNPACK, ${simd})` };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'tf.setBackend("cpu") failed' };
      quietCpuBanner();
      installKernels('cpu', { native: null, fastTransposedMatMul: true });
      return { ok: true, detail: 'cpu (pure JS, slow)' };
    }
  }
}

/** The CPU backend prints an advert for tfjs-node on first use; we print our own backend line instead. */
function quietCpuBanner(): void {
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
