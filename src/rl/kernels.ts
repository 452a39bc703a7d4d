/**
 * The three fused ops the networks are made of, one tfjs kernel each so that every backend runs them its
 * fastest way while the update code stays plain tfjs:
 *
 *   dense(x, W, b, act)    y = act(x·W + b), act ∈ {relu, linear}; gradient registered here
 *   adamStep(p, g, m, v)   PyTorch's Adam for one variable
 *   lerpInto(θ′, θ, η)     θ′ ← η·θ + (1−η)·θ′ (soft target update)
 *
 * Why a kernel per op and not plain tf.* compositions — the traps measured in this repo:
 * - tfjs-backend-wasm runs matMul with transposeA/transposeB through a slow generic loop (1–2 GFLOP/s
 *   against ~19 for the plain XNNPACK path), and the gradients of tf.matMul and tf.fused.matMul use
 *   exactly those transposed products. Our gradient transposes explicitly where transposed products
 *   are slow, then multiplies without flags.
 * - On the JS CPU backend every elementwise op over a 2560×256 activation costs milliseconds and a
 *   fresh allocation; with the native addon the bias, ReLU, ReLU mask, bias gradient, Adam and the
 *   soft update are fused into the C pass that is next to them anyway.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from './native.ts';
import type { AdamHyper, DenseActivation, KernelArgs } from './kernelTypes.ts';
import { installNativeKernels } from './nativeKernels.ts';

export { ACTIVATION_CODE, type AdamHyper, type DenseActivation, type KernelArgs } from './kernelTypes.ts';

export interface KernelStrategy {
  /** the addon, when this backend is the native one */
  native: NativeBlas | null;
  /** matMul(a, b, transposeA, transposeB) is as fast as without flags (native, tfjs-node) */
  fastTransposedMatMul: boolean;
}

const strategies = new Map<string, KernelStrategy>();

function strategy(): KernelStrategy {
  const s = strategies.get(tf.getBackend());
  if (!s) throw new Error(`kernels are not installed for backend '${tf.getBackend()}' (call initBackend first)`);
  return s;
}

// ---------------------------------------------------------------------------------------------------
// ops

/**
 * y = act([x_0 … x_{p−1}]·W + b): a dense layer whose input is given as column blocks (e.g. [s, a]),
 * so that no concatenation is built forward and none is split backward. W [Σ in_i, out], b [out].
 */
export function dense(x: tf.Tensor2D | tf.Tensor2D[], W: tf.Tensor2D, b: tf.Tensor1D, activation: DenseActivation): tf.Tensor2D {
  const parts = Array.isArray(x) ? x : [x];
  const inputs = [...parts, W, b] as unknown as tf.NamedTensorMap;
  return tf.engine().runKernel('MtfDense', inputs, { activation, parts: parts.length }) as tf.Tensor2D;
}

/** One Adam step on p with gradient g and moments m, v (all replaced by their new values). */
export function adamStep(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamHyper): void {
  tf.tidy(() => {
    if (strategy().native) {
      const [p2, m2, v2] = tf.engine().runKernel('MtfAdam', { p, g, m, v }, { ...h }) as tf.Tensor[];
      m.assign(m2);
      v.assign(v2);
      p.assign(p2);
      return;
    }
    const m2 = tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1));
    const v2 = tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
    const stepSize = h.lr / (1 - h.beta1 ** h.t);
    const denom = tf.add(tf.div(tf.sqrt(v2), Math.sqrt(1 - h.beta2 ** h.t)), h.eps);
    m.assign(m2);
    v.assign(v2);
    p.assign(tf.sub(p, tf.mul(tf.div(m2, denom), stepSize)));
  });
}

/** θ′ ← η·θ + (1−η)·θ′. */
export function lerpInto(target: tf.Variable, online: tf.Tensor, eta: number): void {
  tf.tidy(() => {
    if (strategy().native) target.assign(tf.engine().runKernel('MtfLerp', { target, online }, { eta }) as tf.Tensor);
    else target.assign(tf.add(tf.mul(online, eta), tf.mul(target, 1 - eta)));
  });
}

// ---------------------------------------------------------------------------------------------------
// gradient of dense (backend-independent; picks transposes per backend)

let gradientRegistered = false;

function registerDenseGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: 'MtfDense',
    saveAllInputs: true,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const p = attrs.parts as number;
      const xs = saved.slice(0, p) as tf.Tensor2D[];
      const W = saved[p] as tf.Tensor2D;
      const y = saved[p + 2] as tf.Tensor2D;
      const g = dy as tf.Tensor2D;
      const act = attrs.activation as DenseActivation;
      const s = strategy();
      // dz = dy ⊙ act′(y) and db = Σ_rows dz, computed once here (outside the per-input thunks) so that
      // all thunks share them; thunks of inputs outside the differentiated path are never called.
      let dz: tf.Tensor2D;
      let db: tf.Tensor1D;
      if (s.native) {
        [dz, db] = tf.engine().runKernel('MtfActGrad', { dy: g, y }, { activation: act }) as [tf.Tensor2D, tf.Tensor1D];
      } else {
        dz = act === 'relu' ? tf.mul(g, tf.step(y)) : act === 'tanh' ? tf.mul(g, tf.sub(1, tf.square(y))) : g;
        db = tf.sum(dz, 0);
      }
      const mm = (a: tf.Tensor2D, b: tf.Tensor2D, ta: boolean, tb: boolean) =>
        s.fastTransposedMatMul ? tf.matMul(a, b, ta, tb) : tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b);
      const grads: Record<string, () => tf.Tensor> = {};
      let row = 0;
      xs.forEach((x, i) => {
        const [at, k] = [row, x.shape[1]];
        grads[i] = () => mm(dz, p === 1 ? W : tf.slice(W, [at, 0], [k, -1]), false, true);
        row += k;
      });
      grads[p] = () => (p === 1 ? mm(xs[0], dz, true, false) : tf.concat(xs.map((x) => mm(x, dz, true, false)), 0));
      grads[p + 1] = () => db;
      return grads;
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// forward kernels per backend

const installed = new Set<string>();

/** Registers the Mtf* kernels (and, for the native backend, the BLAS matmul kernels) on one backend. */
export function installKernels(backendName: string, s: KernelStrategy): void {
  registerDenseGradient();
  strategies.set(backendName, s);
  if (installed.has(backendName)) return;
  installed.add(backendName);
  if (s.native) installNativeKernels(backendName, s.native);
  else {
    // Delegate to the backend's own concat, fused matmul (XNNPACK on wasm, TF on tfjs-node) and tanh.
    const kernel = (name: string) => {
      const k = tf.getKernel(name, backendName);
      if (!k) throw new Error(`backend '${backendName}' has no ${name} kernel`);
      return k.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
    };
    const [concat, fused, tanh] = [kernel('Concat'), kernel('_FusedMatMul'), kernel('Tanh')];
    tf.registerKernel({
      kernelName: 'MtfDense',
      backendName,
      kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
        const p = attrs!.parts as number;
        const all = Object.values(inputs);
        const act = attrs!.activation as DenseActivation;
        const be = backend as tf.KernelBackend;
        const x = p === 1 ? all[0] : concat({ inputs: all.slice(0, p) as unknown as Record<string, tf.TensorInfo>, backend, attrs: { axis: 1 } });
        // The backends' fused matmul kernels expect rank-3 operands, as tf.fused.matMul hands them over.
        const as3d = (t: tf.TensorInfo): tf.TensorInfo => ({ ...t, shape: [1, ...t.shape] });
        const z3 = fused({
          inputs: { a: as3d(x), b: as3d(all[p]), bias: all[p + 1] },
          backend,
          attrs: { transposeA: false, transposeB: false, activation: act === 'tanh' ? 'linear' : act, leakyreluAlpha: 0 },
        });
        const z: tf.TensorInfo = { ...z3, shape: z3.shape.slice(1) };
        if (p > 1) be.disposeData(x.dataId);
        if (act !== 'tanh') return z;
        const y = tanh({ inputs: { x: z }, backend });
        be.disposeData(z.dataId);
        return y;
      }) as unknown as tf.KernelFunc,
    });
  }
}
