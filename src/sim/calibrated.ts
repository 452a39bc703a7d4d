/**
 * Reference policies of the default world, found by `node --import tsx test/sim/calibrate.ts`
 * (README §4 has the command's output). They are only meaningful for the default world config.
 */
import { DEFAULT_PRODUCTION_ALPHA } from './config.ts';
import { constantPolicy, lookaheadPolicy, myopicPolicy, oraclePolicy } from './policies.ts';
import type { FusionPolicy } from './policy.ts';

/** The best constant α in true return (coordinate search from the production α). */
export const BEST_CONSTANT_ALPHA: readonly number[] = [0.167, 0.333, 0.6, 1.2, 0.6, 1.2, 0.0444, 1.2];

/** The best constant α per latent user type (watcher, interactor, skimmer, binger). */
export const ORACLE_ALPHA_BY_TYPE: readonly (readonly number[])[] = [
  [0.125, 0.111, 1.2, 1.5, 0.75, 2.4, 0.0833, 1.2],
  [0.0835, 0.133, 1.8, 1.5, 1.2, 1.8, 0.0474, 1.2],
  [0.0445, 0.666, 1.2, 2.4, 1.2, 1.2, 0.0185, 0.6],
  [0.501, 0.666, 0.375, 0.6, 0.3, 1.2, 0.111, 2.4],
];

/** V of the look-ahead policy: about the mean discounted return from mid-session. */
export const LOOKAHEAD_CONTINUATION = 400;

/** The α vectors the myopic and look-ahead policies choose from at every request. */
export function oneStepCandidates(): number[][] {
  const out: number[][] = [[...DEFAULT_PRODUCTION_ALPHA], [...BEST_CONSTANT_ALPHA], ...ORACLE_ALPHA_BY_TYPE.map((a) => [...a])];
  for (let i = 0; i < BEST_CONSTANT_ALPHA.length; i++) {
    const a = [...BEST_CONSTANT_ALPHA];
    a[i] *= 3;
    out.push(a);
  }
  return out;
}

/** Constructors of the reference policies, by the name `--policy` takes. */
export function referencePolicies(): Record<'production' | 'best' | 'oracle' | 'myopic' | 'lookahead', () => FusionPolicy> {
  return {
    production: () => constantPolicy(DEFAULT_PRODUCTION_ALPHA, 'production'),
    best: () => constantPolicy(BEST_CONSTANT_ALPHA, 'best'),
    oracle: () => oraclePolicy(ORACLE_ALPHA_BY_TYPE, 'oracle'),
    myopic: () => myopicPolicy(oneStepCandidates(), 'myopic'),
    lookahead: () => lookaheadPolicy(oneStepCandidates(), LOOKAHEAD_CONTINUATION, 'lookahead'),
  };
}
