/**
 * Seeded randomness for the simulator (STYLE.md, habit 3): xoshiro128** streams seeded through a
 * SplitMix32-style hash of (seed, stream ids). Every random number the simulator uses comes from one
 * of these; nothing reads Math.random.
 *
 * Streams are cheap objects so that each parallel session owns its own: a session's draws then do not
 * depend on which other sessions run beside it, or on the policy (common random numbers).
 */

/** Mixes 32-bit words into one well-spread 32-bit word (murmur3 finaliser over a running hash). */
export function hash32(...words: number[]): number {
  let h = 0x9e3779b9 | 0;
  for (const w of words) {
    let k = Math.imul(w | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_POW_M32 = 2 ** -32;

/** xoshiro128** (Blackman & Vigna): 128-bit state, period 2^128 − 1, passes BigCrush. */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spare = 0;
  private hasSpare = false;

  constructor(...seedWords: number[]) {
    this.reseed(...seedWords);
  }

  /** Restarts the stream at the state given by the seed words (no allocation: slots reuse streams). */
  reseed(...seedWords: number[]): void {
    const h = hash32(...seedWords);
    // SplitMix32 expands the hash into four state words (never all zero).
    let s = h;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
    this.hasSpare = false;
  }

  /** Next raw 32-bit unsigned integer. */
  u32(): number {
    const b = this.b;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.u32() * TWO_POW_M32;
  }

  /** Uniform in (0, 1): safe under log. */
  uniformOpen(): number {
    return (this.u32() + 0.5) * TWO_POW_M32;
  }

  /** Uniform integer in [0, n) (n < 2^32; the modulo bias is below 2^-20 for n < 4096). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller (the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformOpen()));
    const th = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(th);
    this.hasSpare = true;
    return r * Math.cos(th);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Stream ids: distinct purposes draw from distinct streams of the same seed. */
export const STREAM = {
  world: 1,
  session: 2,
  policy: 3,
  schedule: 4,
  /** the items' logged signals (src/sim/itemSignals.ts): their own stream, so the rest of the world is unchanged */
  itemSignals: 5,
  /** a ranking stack's uniforms u of bounded uniform exploration arms (issue 21 §3): their own stream, so the normals z are unchanged */
  explorationUniform: 6,
} as const;
