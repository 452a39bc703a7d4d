/** A trained policy back from disk: the algorithm rebuilt from a checkpoint (weights, normalisation). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { createAlgorithm } from './algorithms.ts';
import { initBackend } from './backend.ts';
import { readCheckpoint, readLatestCheckpoint, restoreVariables } from './checkpoint.ts';
import { splitRunConfig, type BackendName } from './config.ts';
import { Policy } from './policy.ts';
import { latentSamples } from './latent.ts';
import { Rng } from './rng.ts';

/**
 * `path` is a training output dir (its latest checkpoint) or one checkpoint dir. With `latentSeed` a
 * BCQ policy acts with the n latent codes the export bakes with that seed (src/rl/latent.ts): the
 * same function as the exported model.onnx, deterministic. Without it, fresh codes per call (Eq. 4).
 */
export async function loadPolicy(path: string, opts: { backend?: BackendName; latentSeed?: number } = {}): Promise<Policy> {
  const ckpt = existsSync(join(path, 'manifest.json')) ? readCheckpoint(path) : readLatestCheckpoint(path);
  if (!ckpt) throw new InputError(`${path}: no checkpoint found (expected ${join(path, 'checkpoints', 'LATEST')})`, { file: path });
  const m = ckpt.manifest;
  const { trainer, algo: cfg } = splitRunConfig(m.config);
  await initBackend(opts.backend ?? trainer.backend, { threads: trainer.threads });
  const algo = createAlgorithm(trainer.algo, m.stateDim, m.actionDim, cfg, new Rng(trainer.seed));
  restoreVariables(ckpt, algo.variables());
  algo.setCounters(m.counters);
  const nets = algo.policyNetworks();
  const latent = opts.latentSeed !== undefined && nets.kind === 'bcq' ? latentSamples(nets.numSamples, nets.latentDim, nets.zClip, opts.latentSeed) : null;
  return new Policy(algo, m.normalization, m.stateDim, m.actionDim, trainer.seed, latent);
}
