/**
 * The reward spec: r = Σ_i w_i · v_i over feedback columns (paper Eq. 2). Given on the command line as
 * `play_time_s=1,like=2,share=4`, or in a config as an object.
 */
import { InputError } from '../errors/index.ts';

export interface RewardSpec {
  /** feedback column → weight w_i, in the order given */
  weights: Record<string, number>;
}

export function parseRewardWeights(text: string, field = '--reward-weights'): RewardSpec {
  const weights: Record<string, number> = {};
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new InputError(`${field}: expected column=weight pairs, e.g. play_time_s=1,like=2`, { field });
  for (const part of parts) {
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(\S+)$/.exec(part);
    if (!m) throw new InputError(`${field}: '${part}' is not column=weight (e.g. like=2)`, { field });
    const [, name, w] = m;
    const weight = Number(w);
    if (!Number.isFinite(weight)) throw new InputError(`${field}: weight of '${name}' is '${w}', not a finite number`, { field });
    if (name in weights) throw new InputError(`${field}: column '${name}' is named twice`, { field });
    weights[name] = weight;
  }
  return { weights };
}

export function formatRewardWeights(spec: RewardSpec): string {
  return Object.entries(spec.weights)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
