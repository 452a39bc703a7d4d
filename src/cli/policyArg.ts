/**
 * A policy named on the command line, for the commands that roll policies out or evaluate them: a
 * model store version (`<store>/<name>/<version>/`, or `<store>/<name>/` for the version CURRENT names),
 * a training output or checkpoint directory (`mtf train --out`), or any simulator spec (model.onnx,
 * const:α…, behavior, best, oracle, …). Lives in the CLI so that src/sim never depends on src/rl or
 * src/export.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { FusionPolicy } from '../sim/index.ts';

export const STORE_POLICY_HELP = 'a model store version dir or model dir with CURRENT (its scorer.onnx, ranking as the stack calls it)';

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

export function isTrainingDir(spec: string): boolean {
  return isDir(spec) && (existsSync(join(spec, 'checkpoints')) || existsSync(join(spec, 'manifest.json')));
}

/**
 * The model store version directory `spec` names: itself when it holds manifest.json and scorer.onnx,
 * the version CURRENT names when it is a model directory; null when it is neither.
 */
export async function storeVersionDir(spec: string): Promise<string | null> {
  if (!isDir(spec)) return null;
  const abs = resolve(spec);
  if (existsSync(join(abs, 'CURRENT'))) {
    const { readCurrent } = await import('../export/store.ts');
    const version = readCurrent(dirname(abs), basename(abs)); // garbage in CURRENT: an InputError naming it
    return version === null ? null : join(abs, version);
  }
  return existsSync(join(abs, 'manifest.json')) && existsSync(join(abs, 'scorer.onnx')) ? abs : null;
}

/**
 * A store version's scorer.onnx as a policy that ranks the candidates itself, exactly as the ranking
 * stack calls it (its β, its graph, batched over the candidates); the files are checked against the
 * manifest (sizes, SHA-256s) and the checked bytes are loaded.
 */
export async function storeScorerPolicy(versionDir: string): Promise<FusionPolicy> {
  const [{ readVersion }, { scorerPolicy }] = await Promise.all([import('../export/store.ts'), import('../sim/index.ts')]);
  const v = readVersion(dirname(dirname(versionDir)), basename(dirname(versionDir)), basename(versionDir));
  return scorerPolicy(v.files['scorer.onnx'], { id: `${v.name}@${v.version}`, file: join(v.dir, 'scorer.onnx') });
}

export async function resolvePolicy(spec: string, field = '--policy'): Promise<FusionPolicy> {
  const version = await storeVersionDir(spec);
  if (version !== null) return storeScorerPolicy(version);
  const { batchPolicy, policyFromSpec } = await import('../sim/index.ts');
  if (isTrainingDir(spec)) {
    const { loadPolicy } = await import('../rl/index.ts');
    const policy = await loadPolicy(spec);
    return batchPolicy(spec, policy.act);
  }
  return policyFromSpec(spec, { field });
}

/**
 * `store:<store>/<model>`: the ranking stack as the traffic server — FusionScorer on the model store
 * (following CURRENT) with its manifest's exploration, as src/serving/rankingStack.ts wraps it.
 */
export async function openStackPolicy(path: string): Promise<{ policy: FusionPolicy; close: () => Promise<void> }> {
  const { FusionScorer } = await import('../serving/scorer.ts');
  const { rankingStackPolicy } = await import('../serving/rankingStack.ts');
  const abs = resolve(path);
  const scorer = await FusionScorer.open(dirname(abs), basename(abs), { pollMs: 1000, watch: false });
  return { policy: rankingStackPolicy(scorer), close: () => scorer.close() };
}
