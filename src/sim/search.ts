/**
 * A simple search for the best constant α in true value: coordinate ascent on log α_i with shrinking
 * multiplicative steps, every candidate evaluated on the same sessions (common random numbers), so
 * that a step is kept only when it helps on those sessions. Used to calibrate the simulator (README §4).
 */
import { NUM_TASKS } from './config.ts';
import { rollout } from './engine.ts';
import { constantPolicy } from './policies.ts';
import type { World } from './world.ts';

export type SearchObjective = 'return' | 'discountedReturn';

export interface SearchOptions {
  world: World;
  /** where the search starts (e.g. the production α) */
  start: ArrayLike<number>;
  sessions: number;
  seed: number;
  objective?: SearchObjective;
  /** only users of this latent type (for the per-type oracle) */
  userType?: number;
  /** multiplicative step sizes, one pass over the k coordinates each */
  steps?: number[];
  /** called after each pass with the current best */
  onPass?: (info: { pass: number; alpha: number[]; value: number; evaluations: number }) => void;
}

export interface SearchResult {
  alpha: number[];
  value: number;
  startValue: number;
  evaluations: number;
}

export async function searchConstantAlpha(o: SearchOptions): Promise<SearchResult> {
  const objective = o.objective ?? 'return';
  const steps = o.steps ?? [3, 2, 1.5, 1.25];
  let evaluations = 0;
  const evaluate = async (alpha: number[]): Promise<number> => {
    evaluations++;
    const r = await rollout({ world: o.world, policy: constantPolicy(alpha), sessions: o.sessions, seed: o.seed, userType: o.userType });
    const x = objective === 'return' ? r.return : r.discountedReturn;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return s / x.length;
  };
  let alpha = Array.from(o.start);
  if (alpha.length !== NUM_TASKS) throw new RangeError(`searchConstantAlpha: start has ${alpha.length} weights, expected ${NUM_TASKS}`);
  let value = await evaluate(alpha);
  const startValue = value;
  let pass = 0;
  for (const f of steps) {
    for (let i = 0; i < NUM_TASKS; i++) {
      for (const m of [f, 1 / f]) {
        const trial = alpha.slice();
        trial[i] = alpha[i] * m;
        const v = await evaluate(trial);
        if (v > value) {
          value = v;
          alpha = trial;
          break;
        }
      }
    }
    o.onPass?.({ pass: pass++, alpha: alpha.slice(), value, evaluations });
  }
  return { alpha, value, startValue, evaluations };
}
