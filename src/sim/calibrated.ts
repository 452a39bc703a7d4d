/**
 * Reference policies of the default world, found by `node --import tsx test/sim/calibrate.ts` on the
 * true discounted return (README §4 has the command's output). Only meaningful for the default world.
 */
import { readFileSync } from 'node:fs';
import { HAND_TUNED_PRODUCTION_ALPHA, TUNED_PRODUCTION_ALPHA } from './config.ts';
import { constantPolicy, lookaheadPolicy, myopicPolicy, oraclePolicy } from './policies.ts';
import type { FusionPolicy } from './policy.ts';
import { linearStatePolicy, segmentPolicy, type LinearStatePolicySpec, type SegmentPolicySpec } from './statePolicies.ts';

/**
 * The best constant α on the evaluation's objective (true discounted return): the tuned production α
 * of the default scenario (config.ts). The name `best` stays for the reference policy of that name.
 */
export const BEST_CONSTANT_ALPHA: readonly number[] = TUNED_PRODUCTION_ALPHA;

/** The best constant α per latent user type (watcher, interactor, skimmer, binger), on true discounted return. */
export const ORACLE_ALPHA_BY_TYPE: readonly (readonly number[])[] = [
  [0.11, 0.00987, 0.492, 0.834, 0.225, 1.13, 0.0319, 1.36],
  [0.0913, 0.0094, 1.14, 0.709, 0.448, 0.726, 0.0726, 1],
  [0.00055, 0.00546, 0.779, 0.994, 0.557, 1.47, 0.224, 0.167],
  [0.061, 0.494, 0.164, 0.302, 0.133, 0.156, 0.0977, 2.79],
];

/** V of the look-ahead policy: about the mean discounted return from mid-session. */
export const LOOKAHEAD_CONTINUATION = 400;

/** The α vectors the myopic and look-ahead policies choose from at every request, from a tuned α and the per-type ones. */
export function oneStepCandidatesFor(tuned: readonly number[], perType: readonly (readonly number[])[]): number[][] {
  const out: number[][] = [[...tuned], [...HAND_TUNED_PRODUCTION_ALPHA], ...perType.map((a) => [...a])];
  for (let i = 0; i < tuned.length; i++) {
    const a = [...tuned];
    a[i] *= 3;
    out.push(a);
  }
  return out;
}

/** The candidates of the stored α. */
export function oneStepCandidates(): number[][] {
  return oneStepCandidatesFor(TUNED_PRODUCTION_ALPHA, ORACLE_ALPHA_BY_TYPE);
}

/** The logged-state policies tuned against the simulator (test/sim/headroom.study.ts writes the file). */
export const REFERENCE_STATE_POLICIES_FILE = new URL('./referenceStatePolicies.json', import.meta.url);

export interface ReferenceStatePolicies {
  provenance: { segments?: string; es?: string };
  segments: SegmentPolicySpec | null;
  es: LinearStatePolicySpec | null;
}

let statePolicies: ReferenceStatePolicies | null = null;
function storedStatePolicy<K extends 'segments' | 'es'>(key: K): NonNullable<ReferenceStatePolicies[K]> {
  statePolicies ??= JSON.parse(readFileSync(REFERENCE_STATE_POLICIES_FILE, 'utf8')) as ReferenceStatePolicies;
  const spec = statePolicies[key];
  if (!spec) throw new RangeError(`no stored '${key}' policy in ${REFERENCE_STATE_POLICIES_FILE.pathname}: run npm run study:headroom -- --only ${key}`);
  return spec as NonNullable<ReferenceStatePolicies[K]>;
}

export type ReferencePolicyName = 'production' | 'hand-tuned' | 'best' | 'segments' | 'es' | 'oracle' | 'myopic' | 'lookahead';

/** Constructors of the reference policies, by the name `--policy` takes. */
export function referencePolicies(): Record<ReferencePolicyName, () => FusionPolicy> {
  return {
    production: () => constantPolicy(TUNED_PRODUCTION_ALPHA, 'production'),
    'hand-tuned': () => constantPolicy(HAND_TUNED_PRODUCTION_ALPHA, 'hand-tuned'),
    best: () => constantPolicy(TUNED_PRODUCTION_ALPHA, 'best'),
    segments: () => segmentPolicy(storedStatePolicy('segments'), 'segments'),
    es: () => linearStatePolicy(storedStatePolicy('es'), 'es'),
    oracle: () => oraclePolicy(ORACLE_ALPHA_BY_TYPE, 'oracle'),
    myopic: () => myopicPolicy(oneStepCandidates(), 'myopic'),
    lookahead: () => lookaheadPolicy(oneStepCandidates(), LOOKAHEAD_CONTINUATION, 'lookahead'),
  };
}
