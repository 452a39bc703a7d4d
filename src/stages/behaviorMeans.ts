/**
 * μ(s) of every logged row for box-aware training (src/rl/behaviorBox.ts; issue 21 §2): the mean α the
 * served model gave at the row's state, which exploration then moved inside the box. Not a simulator
 * latent: each row's policy_id `<arm>:<version>` names the version that scored it, and the version's
 * policy.onnx is in the model store (`<store>/<model>/<version>/policy.onnx`); versions that were never a
 * store version — the constant the ranking stack ran before the first publish — are named in the
 * pipeline's `train.behavior_policies` (version → a policy spec such as `const:1.2,0.8,…`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';

/** The version a policy_id names: what follows the arm (`random_explore:loop-2026-11-20` → `loop-2026-11-20`). */
export function versionOfPolicyId(policyId: string): string {
  const i = policyId.indexOf(':');
  if (i <= 0 || i === policyId.length - 1) throw new InputError(`policy_id '${policyId}': expected <arm>:<version> (schemas/exploration.md)`, { field: 'policy_id' });
  return policyId.slice(i + 1);
}

export interface BehaviorSources {
  /** the model store and the model's name: published versions are found there */
  store: string;
  model: string;
  /** versions outside the store: version → policy spec (`const:…`, a .onnx file, …) */
  policies: Record<string, string>;
}

/** The policy spec of a version: train.behavior_policies first, then the store's policy.onnx. */
export function behaviorSpec(version: string, src: BehaviorSources): string {
  const named = src.policies[version];
  if (named !== undefined) return named;
  const onnx = join(src.store, src.model, version, 'policy.onnx');
  if (existsSync(onnx)) return onnx;
  throw new InputError(
    `behaviorBox: the logs name version '${version}' in policy_id, which is neither in train.behavior_policies nor a version of ${join(src.store, src.model)} (no ${onnx}); name it in train.behavior_policies (e.g. '${version}: const:…')`,
    { field: 'train.behavior_policies' },
  );
}

/**
 * [n × actionDim] μ(s) in logged units, one policy evaluation per distinct version over its rows'
 * states (states read as logged: call before training normalises them in place).
 */
export async function behaviorMeans(batch: TransitionBatch, src: BehaviorSources): Promise<Float32Array> {
  if (!batch.policyId) throw new InputError('behaviorBox: the trajectories carry no policy_id column: the live policy of each row is unknown', { field: 'policy_id' });
  const { codes, values } = batch.policyId;
  const S = batch.stateDim;
  const A = batch.actionDim;
  // rows per version (several arms of one version share its μ)
  const versions = new Map<string, number[]>();
  for (let i = 0; i < batch.n; i++) {
    const c = codes[i];
    if (c < 0 || c >= values.length || values[c] === null || values[c] === undefined) {
      throw new InputError(`behaviorBox: row ${i} has no policy_id: its live policy is unknown`, { field: 'policy_id' });
    }
    const v = versionOfPolicyId(values[c]);
    let rows = versions.get(v);
    if (!rows) versions.set(v, (rows = []));
    rows.push(i);
  }
  const { loadEvalPolicy } = await import('../ope/policies.ts');
  const mu = new Float32Array(batch.n * A);
  for (const [version, rows] of versions) {
    const policy = await loadEvalPolicy(behaviorSpec(version, src), { stateDim: S, actionDim: A, field: 'train.behavior_policies' });
    try {
      if (policy.kind !== 'fn') throw new InputError(`behaviorBox: version '${version}' names the logged actions (behavior), not a policy with a mean`, { field: 'train.behavior_policies' });
      const states = new Float32Array(rows.length * S);
      rows.forEach((r, k) => states.set(batch.state.subarray(r * S, (r + 1) * S), k * S));
      const alpha = await policy.act(states, rows.length);
      rows.forEach((r, k) => mu.set(alpha.subarray(k * A, (k + 1) * A), r * A));
    } finally {
      if (policy.kind === 'fn') await policy.dispose?.();
    }
  }
  return mu;
}
