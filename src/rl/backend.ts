/**
 * Compute backend selection (issue 4 §2). `auto` tries, in order:
 *   tensorflow  @tensorflow/tfjs-node (native TensorFlow), when it is installed and loads. It is an
 *               optionalDependency: where its install script cannot download libtensorflow, npm drops
 *               the package and `npm ci` still succeeds; a half-installed copy (no native addon) or one
 *               whose native library kills the process (e.g. SIGILL without AVX) is caught by loading
 *               it first in a child process (`probeLoad`), so the fallback below is always reached;
 *   native      tfjs's CPU backend with its matmul kernels served by OpenBLAS (native/blas, built
 *               lazily) plus fused dense/Adam/soft-update kernels — registered as backend 'mtf-native',
 *               so that plain 'cpu' stays pure JS;
 *   wasm        @tensorflow/tfjs-backend-wasm (XNNPACK);
 *   cpu         the plain JS backend.
 * Each skipped candidate leaves its reason in `skipped`, and the CLI prints which one runs and why.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
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
  /**
   * How the tensorflow candidate loads @tensorflow/tfjs-node: resolve, probe in a child process, import
   * (default). Tests replace it to exercise the fallback; a rejection's message becomes the skip reason.
   */
  loadTensorflow?: () => Promise<void>;
}

export const TFJS_NODE = '@tensorflow/tfjs-node';

/** The outcome of loading tfjs-node in this process (it is loaded at most once). */
let tensorflowLoad: Promise<void> | null = null;

/**
 * The default loader: not installed → a reason naming the optional dependency; installed but failing
 * in a child process (an exception, or a crash by signal) → that reason, without touching this process;
 * else the in-process import.
 */
export async function loadTfjsNode(): Promise<void> {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(TFJS_NODE);
  } catch {
    throw new Error(`${TFJS_NODE} is not installed (an optionalDependency: npm drops it where its libtensorflow download fails)`);
  }
  const probe = probeLoad(path);
  if (!probe.ok) throw new Error(`${TFJS_NODE} is installed but does not load: ${probe.reason}`);
  try {
    await import(TFJS_NODE);
  } catch (err) {
    throw new Error(`${TFJS_NODE} does not load (${firstLine(err)})`);
  }
}

/**
 * Loads a CommonJS module (by path or name) in a child Node process: ok, or why not — the first line of
 * the error it threw, or the signal or exit code it died with (a native library can kill a process
 * where no try/catch can catch it).
 */
export function probeLoad(module: string, timeoutMs = 60_000): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(module)}); } catch (e) { console.error(String(e && e.message || e).split('\\n')[0]); process.exit(3); }`], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
  if (r.error) return { ok: false, reason: `the probe process failed (${r.error.message})` };
  if (r.signal) return { ok: false, reason: `loading it killed the probe process with ${r.signal}` };
  if (r.status === 3) return { ok: false, reason: r.stderr.trim().split('\n')[0] || 'it threw' };
  if (r.status !== 0) return { ok: false, reason: `loading it ended the probe process with exit code ${r.status}: ${r.stderr.trim().split('\n')[0]}` };
  return { ok: true };
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
      try {
        if (opts.loadTensorflow) await opts.loadTensorflow();
        else await (tensorflowLoad ??= loadTfjsNode());
      } catch (err) {
        return { ok: false, reason: firstLine(err) };
      }
      if (!tf.findBackend('tensorflow')) {
        return { ok: false, reason: `${TFJS_NODE} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (a second copy of tfjs under it?)` };
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
