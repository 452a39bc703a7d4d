/**
 * The optional native BLAS addon (native/blas/mtf_blas.c): built lazily on first use with the system C
 * compiler into node_modules/.cache, loaded, and bound to OpenBLAS with dlopen. Nothing here can make
 * `npm ci` fail: when any step is impossible (no compiler, no Node headers, no libopenblas) the caller
 * gets `{ ok: false, reason }` and training falls back to the pure tfjs backends.
 *
 * Environment: MTF_NATIVE=0 disables it; MTF_BLAS_LIB=path[:path…] picks the library;
 * MTF_BLAS_CORETYPE=inherit keeps an inherited OPENBLAS_CORETYPE (by default it is dropped, because
 * OPENBLAS_CORETYPE=Haswell on an AVX-512 machine halves the matmul speed; see shared/peers/README).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeBlas {
  init(libs: string, threads: number, dropCoretype: boolean, mmapThreshold: number): { lib: string; corename: string; config: string };
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, batch: number, strideA: number, strideB: number): void;
  /** act: 0 linear, 1 relu, 2 tanh */
  denseForward(parts: Float32Array[], W: Float32Array, b: Float32Array, y: Float32Array, M: number, N: number, act: number): void;
  actGrad(dy: Float32Array, y: Float32Array, dz: Float32Array, db: Float32Array, M: number, N: number, act: number): void;
  colSum(x: Float32Array, out: Float32Array, M: number, N: number): void;
  adam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array, lr: number, beta1: number, beta2: number, eps: number, t: number): void;
  lerp(target: Float32Array, online: Float32Array, out: Float32Array, eta: number): void;
  /** the selection step of the evaluation's nearest-neighbour search (src/ope/neighbours.ts SelectFn) */
  knnSelect(G: Float32Array, m: number, nr: number, qn: Float64Array, rn: Float64Array, skip: Int32Array, L: number, outD: Float64Array, outJ: Int32Array): void;
  /** one whole BCQ step (native/blas/mtf_fused.c; argument layout there, packed by src/rl/fusedBcq.ts) */
  bcqStep(params: Float32Array[], dims: Int32Array, hyper: Float64Array, batch: Float32Array[], stats: Float64Array, rng: Int32Array): void;
  /** hands over rng.ts's ziggurat tables (once) */
  setZiggurat(KN: Float64Array, WN: Float64Array, FN: Float64Array): void;
  /** Rng.fillNormal(out, clip) on the state words of an Rng (advanced in place) */
  fillNormal(state: Int32Array, out: Float32Array, clip: number): void;
  /** glibc's malloc_trim(0): the free memory of every malloc arena back to the system */
  trimHeap(): boolean;
}

export type NativeLoad =
  | { ok: true; blas: NativeBlas; lib: string; corename: string; config: string; droppedCoretype: string | null }
  | { ok: false; reason: string };

const DEFAULT_LIBS = [
  'libopenblas.so.0',
  '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0',
  '/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0',
  'libopenblas.so',
  'libblas.so.3',
];
/** 32 MiB, as the PyTorch anchor's `--malloc tuned`: large activations come from the heap, not fresh mmaps. */
const MMAP_THRESHOLD = 32 << 20;

let cached: NativeLoad | null = null;

/**
 * malloc_trim(0) through the addon, when this process has loaded it (a process that never trained or
 * evaluated does not build it for this). Returns whether it ran.
 */
export function trimNativeHeap(): boolean {
  if (!cached?.ok) return false;
  cached.blas.trimHeap();
  return true;
}

/** Builds (once per source/Node/CPU) and loads the addon. Never throws. */
export function loadNativeBlas(threads = 1): NativeLoad {
  if (cached) {
    if (cached.ok) cached.blas.init('', threads, false, 0); // only re-sets the thread count
    return cached;
  }
  cached = tryLoad(threads);
  return cached;
}

function tryLoad(threads: number): NativeLoad {
  if (process.env.MTF_NATIVE === '0') return { ok: false, reason: 'disabled by MTF_NATIVE=0' };
  if (process.platform !== 'linux') return { ok: false, reason: `native BLAS addon is built for Linux only (this is ${process.platform})` };
  let file: string;
  try {
    file = ensureBuilt();
  } catch (err) {
    return { ok: false, reason: `could not build native/blas: ${(err as Error).message.split('\n')[0]}` };
  }
  let blas: NativeBlas;
  try {
    blas = createRequire(import.meta.url)(file) as NativeBlas;
  } catch (err) {
    return { ok: false, reason: `could not load ${file}: ${(err as Error).message}` };
  }
  const inherited = process.env.OPENBLAS_CORETYPE ?? null;
  const drop = inherited !== null && process.env.MTF_BLAS_CORETYPE !== 'inherit';
  const libs = (process.env.MTF_BLAS_LIB ?? DEFAULT_LIBS.join(':'));
  try {
    const info = blas.init(libs, threads, drop, MMAP_THRESHOLD);
    if (drop) delete process.env.OPENBLAS_CORETYPE;
    return { ok: true, blas, ...info, droppedCoretype: drop ? inherited : null };
  } catch (err) {
    return {
      ok: false,
      reason: `no usable BLAS library (install Debian's libopenblas0-pthread): ${(err as Error).message}`,
    };
  }
}

/** The addon's sources (the header too: it is part of the cache key). */
const SOURCES = ['mtf_blas.c', 'mtf_fused.c', 'mtf_mlp.c', 'mtf_rng.c', 'mtf_blas.h', 'mtf_mlp.h'];

/** Path of the compiled addon, compiling it first when the cache has none for this source/Node/CPU. */
function ensureBuilt(): string {
  const root = packageRoot();
  const sources = SOURCES.map((f) => join(root, 'native', 'blas', f));
  for (const src of sources) if (!existsSync(src)) throw new Error(`source ${src} not found`);
  const include = nodeIncludeDir();
  const cpuFlags = cpuFlagsLine();
  const hash = createHash('sha256');
  for (const src of sources) hash.update(readFileSync(src));
  const key = hash.update(process.versions.modules + process.arch + cpuFlags).digest('hex').slice(0, 16);
  const dir = join(root, 'node_modules', '.cache', 'batchrl-mtf', `blas-${key}`);
  const file = join(dir, 'mtf_blas.node');
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  // Compile to a private name, then rename: concurrent test processes never load half a file.
  const tmp = join(dir, `mtf_blas.${process.pid}.tmp.node`);
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(
      cc,
      ['-O3', '-march=native', '-fno-math-errno', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=mtf_blas',
        `-I${include}`, ...sources.filter((f) => f.endsWith('.c')), '-o', tmp, '-ldl', '-lm'],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 },
    );
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cc} failed: ${stderr || (err as Error).message}`);
  }
  return file;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native', 'blas'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package root with native/blas not found');
    dir = up;
  }
}

function nodeIncludeDir(): string {
  const candidates = [
    process.env.MTF_NODE_INCLUDE,
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) throw new Error(`Node headers (node_api.h) not found in ${candidates.join(', ')}`);
  return found;
}

function cpuFlagsLine(): string {
  try {
    return /^flags\s*:.*$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[0] ?? '';
  } catch {
    return '';
  }
}
