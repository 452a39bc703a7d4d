/**
 * The one seeded random source of a training run (STYLE habit 3). Everything random in training —
 * weight initialisation, minibatch indices, the VAE's ε, the latent samples z — is drawn from here on
 * the JS side and handed to tfjs as data, so that the whole state of the randomness is four 32-bit
 * words that a checkpoint stores and `--resume` restores.
 *
 * Generator: xoshiro128** 1.1 (Blackman & Vigna), seeded through splitmix32. Normals: Marsaglia & Tsang's
 * ziggurat (128 layers; one 32-bit draw, one compare and one multiply for ~99% of samples — Box–Muller
 * cost ~100 ns a sample here, 7 ms of a 90 ms BCQ step), no cached state beyond the four words.
 */
export type RngState = [number, number, number, number];

const INV_2_32 = 1 / 4294967296;

export class Rng {
  /** xoshiro128** state as int32 words (typed storage: no boxed numbers on the hot path) */
  private readonly st = new Int32Array(4);

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`Expected seed to be an integer, but got ${seed}.`);
    let x = seed >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return z ^ (z >>> 16);
    };
    for (let i = 0; i < 4; i++) this.st[i] = next();
    if ((this.st[0] | this.st[1] | this.st[2] | this.st[3]) === 0) this.st[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return [this.st[0] >>> 0, this.st[1] >>> 0, this.st[2] >>> 0, this.st[3] >>> 0];
  }

  setState(state: RngState): void {
    if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new RangeError(`Expected an RNG state of four unsigned 32-bit words, but got ${JSON.stringify(state)}.`);
    }
    for (let i = 0; i < 4; i++) this.st[i] = state[i] | 0;
  }

  /**
   * The live state words, for native code that draws from this generator in place (native/blas
   * mtf_fused.c fillNormal: the same sequence as `fillNormal`). Not a copy: writes advance this Rng.
   */
  stateWords(): Int32Array {
    return this.st;
  }

  /** Next 32 random bits as a signed int32. */
  nextI32(): number {
    const st = this.st;
    const s0 = st[0], s1 = st[1], s2 = st[2] ^ s0, s3 = st[3] ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    st[0] = s0 ^ s3;
    st[1] = s1 ^ s2;
    st[2] = s2 ^ (s1 << 9);
    st[3] = rotl(s3, 11);
    return result;
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    return this.nextI32() >>> 0;
  }

  /** Uniform in the open interval (0, 1). */
  uniform(): number {
    return (this.nextU32() + 0.5) * INV_2_32;
  }

  /** Uniform integer in [0, n), n ≤ 2^32 (bias below 2^-32·n, irrelevant for minibatch sampling). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** One N(0, 1) sample (ziggurat). */
  normal(): number {
    const hz = this.nextI32();
    const iz = hz & 127;
    if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    return this.normalTail(hz, iz);
  }

  private normalTail(hz: number, iz: number): number {
    for (;;) {
      if (iz === 0) {
        // the base strip: sample the tail beyond R
        let x: number, y: number;
        do {
          x = -Math.log(this.uniform()) / ZIG_R;
          y = -Math.log(this.uniform());
        } while (y + y < x * x);
        return hz > 0 ? ZIG_R + x : -ZIG_R - x;
      }
      const x = hz * WN[iz];
      if (FN[iz] + this.uniform() * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      hz = this.nextI32();
      iz = hz & 127;
      if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    }
  }

  /** Fills `out` with N(0, 1) samples, each clipped to [−clip, clip] when clip is given. */
  fillNormal(out: Float32Array, clip = Infinity): Float32Array {
    // normal() with the generator inlined and its state in locals: ~3× faster on the 60k samples a
    // BCQ step draws.
    const st = this.st;
    let s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
    const lo = -clip;
    for (let i = 0; i < out.length; i++) {
      const hz = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      const iz = hz & 127;
      let x: number;
      if (Math.abs(hz) < KN[iz]) x = hz * WN[iz];
      else {
        st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
        x = this.normalTail(hz, iz);
        s0 = st[0]; s1 = st[1]; s2 = st[2]; s3 = st[3];
      }
      out[i] = Math.min(Math.max(x, lo), clip); // branch-free: |x| > 0.5 is a coin flip
    }
    st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
    return out;
  }

  /** Fills `out` with uniform samples in [lo, hi). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const w = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + w * this.uniform();
    return out;
  }

  /** Fills `out` with uniform indices in [0, n) (sampling with replacement). */
  fillIndices(out: Int32Array, n: number): Int32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.int(n);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The ziggurat's tables, for native code that must draw the same normals (native/blas mtf_fused.c). */
export const ZIGGURAT_TABLES = (): { KN: Float64Array; WN: Float64Array; FN: Float64Array } => ({ KN, WN, FN });

// Ziggurat tables (Marsaglia & Tsang 2000, "The Ziggurat Method for Generating Random Variables", RNOR).
const ZIG_R = 3.442619855899;
const KN = new Float64Array(128);
const WN = new Float64Array(128);
const FN = new Float64Array(128);
{
  const m1 = 2147483648.0;
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  KN[0] = (dn / q) * m1;
  KN[1] = 0;
  WN[0] = q / m1;
  WN[127] = dn / m1;
  FN[0] = 1;
  FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = (dn / tn) * m1;
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / m1;
  }
}
