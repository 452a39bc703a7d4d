/**
 * A policy named on the command line, for the commands that roll policies out or evaluate them: a
 * training output or checkpoint directory (`mtf train --out`), or any simulator spec (model.onnx,
 * const:α…, behavior, best, oracle, …). Lives in the CLI so that src/sim never depends on src/rl.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FusionPolicy } from '../sim/index.ts';

export function isTrainingDir(spec: string): boolean {
  return existsSync(spec) && statSync(spec).isDirectory() && (existsSync(join(spec, 'checkpoints')) || existsSync(join(spec, 'manifest.json')));
}

export async function resolvePolicy(spec: string, field = '--policy'): Promise<FusionPolicy> {
  const { batchPolicy, policyFromSpec } = await import('../sim/index.ts');
  if (isTrainingDir(spec)) {
    const { loadPolicy } = await import('../rl/index.ts');
    const policy = await loadPolicy(spec);
    return batchPolicy(spec, policy.act);
  }
  return policyFromSpec(spec, { field });
}
