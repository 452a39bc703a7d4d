/**
 * Policy specs as the CLI takes them (`--policy`): `model.onnx`, `const:α1,…,αk`, `behavior` or
 * `behavior:<spec>`, and the reference policies `production` (the tuned constant), `hand-tuned` (the
 * legacy scenario's production), `best` (= production), `oracle`, `myopic`, `lookahead`.
 */
import { InputError } from '../errors/index.ts';
import { referencePolicies } from './calibrated.ts';
import { BehaviorConfigSchema, NUM_TASKS, type BehaviorConfig } from './config.ts';
import { onnxPolicy } from './onnxPolicy.ts';
import { behaviorPolicy, constantPolicy } from './policies.ts';
import type { FusionPolicy } from './policy.ts';

import { POLICY_SPEC_HELP } from './specHelp.ts';

export { POLICY_SPEC_HELP };

/** Parses `const:a1,…,ak` into k finite weights, or throws InputError naming the flag. */
export function parseAlpha(text: string, field = '--policy'): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const alpha = parts.map(Number);
  if (parts.length !== NUM_TASKS || parts.some((p) => p === '') || alpha.some((a) => !Number.isFinite(a))) {
    throw new InputError(`${field}: 'const:${text}' must give ${NUM_TASKS} finite comma-separated weights, e.g. const:1,0.5,0.4,0.2,0.2,0.2,0.5,1.2`, { field });
  }
  return alpha;
}

/** The policy a spec names. ONNX models are loaded (the caller disposes the policy). */
export async function policyFromSpec(spec: string, opts: { behavior?: Partial<BehaviorConfig>; field?: string } = {}): Promise<FusionPolicy> {
  const field = opts.field ?? '--policy';
  const s = spec.trim();
  if (s === 'behavior' || s.startsWith('behavior:')) {
    const rest = s.slice('behavior'.length + 1);
    if (rest.startsWith('behavior')) throw new InputError(`${field}: '${spec}': behavior cannot explore around another behavior policy`, { field });
    const production = rest ? await policyFromSpec(rest, { field }) : undefined;
    return behaviorPolicy({ production, config: BehaviorConfigSchema.parse(opts.behavior ?? {}) });
  }
  if (s.startsWith('const:')) return constantPolicy(parseAlpha(s.slice(6), field), s);
  if (/\.onnx$/i.test(s)) return onnxPolicy(s);
  const refs = referencePolicies();
  if (s in refs) return refs[s as keyof typeof refs]();
  throw new InputError(`${field}: '${spec}' is not a policy; expected ${POLICY_SPEC_HELP}`, { field });
}
