/**
 * BCQ's baked latent codes. π (Eq. 4) draws n codes z ~ clip(N(0, 1), −zClip, zClip) per state and
 * call; a ranking stack needs the same α for the same state, so the export (src/export/model.ts) draws
 * the n codes once from a seeded generator and scores every state against them. A Policy loaded with
 * the same seed (loadPolicy's latentSeed) acts with the same codes, so that what off-policy evaluation
 * scores is the function that ships.
 */

/** Default seed of the baked latent samples. */
export const DEFAULT_LATENT_SEED = 0;

/**
 * n × dim samples of clip(N(0, 1), −clip, clip) from a seeded generator (mulberry32 + Box–Muller), so
 * that the same seed bakes the same codes on every machine.
 */
export function latentSamples(n: number, dim: number, clip: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) {
    const u1 = Math.max(uniform(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * uniform());
    out[i] = Math.min(clip, Math.max(-clip, z));
  }
  return out;
}
