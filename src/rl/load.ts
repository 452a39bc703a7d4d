/** A trained policy back from disk: the algorithm rebuilt from a checkpoint (weights, normalisation). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { createAlgorithm } from './algorithms.ts';
import { initBackend } from './backend.ts';
import { readCheckpoint, readLatestCheckpoint, restoreVariables } from './checkpoint.ts';
import { splitRunConfig, type BackendName } from './config.ts';
import { Policy } from './policy.ts';
import { Rng } from './rng.ts';

/** `path` is a training output dir (its latest checkpoint) or one checkpoint dir. */
export async function loadPolicy(path: string, opts: { backend?: BackendName } = {}): Promise<Policy> {
  const ckpt = existsSync(join(path, 'manifest.json')) ? readCheckpoint(path) : readLatestCheckpoint(path);
  if (!ckpt) throw new InputError(`${path}: no checkpoint found (expected ${join(path, 'checkpoints', 'LATEST')})`, { file: path });
  const m = ckpt.manifest;
  const { trainer, algo: cfg } = splitRunConfig(m.config);
  await initBackend(opts.backend ?? trainer.backend, { threads: trainer.threads });
  const algo = createAlgorithm(trainer.algo, m.stateDim, m.actionDim, cfg, new Rng(trainer.seed));
  restoreVariables(ckpt, algo.variables());
  algo.setCounters(m.counters);
  return new Policy(algo, m.normalization, m.stateDim, m.actionDim, trainer.seed);
}
