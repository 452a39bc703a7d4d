/**
 * Checkpoints: everything a run needs to continue exactly — every tensor of the training state
 * (weights, targets, Adam moments), the algorithm's counters, the RNG state, the normalisation, the
 * config and the curves so far.
 *
 * Layout: <out>/checkpoints/step-000001000/{manifest.json, tensors.bin} and <out>/checkpoints/LATEST
 * naming the newest. Written atomically (STYLE habit 4): a checkpoint is assembled in a temporary
 * folder, fsynced, then renamed into place, and only then does LATEST move to it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors/index.ts';
import { fsyncPath, writeFileSynced } from '../io/index.ts';
import type { Normalization } from './normalization.ts';
import type { RngState } from './rng.ts';

export const CHECKPOINT_FORMAT = 'batchrl-mtf/checkpoint@1';

export interface TensorEntry {
  name: string;
  shape: number[];
  /** offset in float32 elements into tensors.bin */
  offset: number;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  step: number;
  algo: string;
  stateDim: number;
  actionDim: number;
  /** the flat run config (trainer + algorithm fields) */
  config: Record<string, unknown>;
  normalization: Normalization;
  rng: RngState;
  counters: Record<string, number>;
  backend: string;
  tensors: TensorEntry[];
  /** opaque to this module: the trainer's curves and timing so far */
  progress: unknown;
}

export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

/** Writes one checkpoint of `vars` (values read now) and points LATEST at it; keeps the newest `keep`. */
export function writeCheckpoint(
  outDir: string,
  manifest: Omit<CheckpointManifest, 'tensors' | 'format'>,
  vars: [string, tf.Variable][],
  keep: number,
): string {
  const dir = checkpointsDir(outDir);
  mkdirSync(dir, { recursive: true });
  const name = `step-${String(manifest.step).padStart(9, '0')}`;
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);

  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const [n, v] of vars) {
    tensors.push({ name: n, shape: v.shape, offset });
    offset += v.size;
  }
  const data = new Float32Array(offset);
  vars.forEach(([, v], i) => data.set(v.dataSync() as Float32Array, tensors[i].offset));

  writeFileSynced(join(tmp, 'tensors.bin'), new Uint8Array(data.buffer));
  const full: CheckpointManifest = { format: CHECKPOINT_FORMAT, ...manifest, tensors };
  writeFileSynced(join(tmp, 'manifest.json'), Buffer.from(JSON.stringify(full, null, 1)));
  fsyncPath(tmp);
  const final = join(dir, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeFileSynced(join(dir, '.LATEST.tmp'), Buffer.from(name + '\n'));
  renameSync(join(dir, '.LATEST.tmp'), join(dir, 'LATEST'));
  fsyncPath(dir);

  const all = readdirSync(dir).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old), { recursive: true, force: true });
  return final;
}

export interface LoadedCheckpoint {
  dir: string;
  manifest: CheckpointManifest;
  /** tensor values by name */
  values: Map<string, Float32Array>;
}

/** The checkpoint LATEST names under <out>/checkpoints, or null when there is none. */
export function readLatestCheckpoint(outDir: string): LoadedCheckpoint | null {
  const dir = checkpointsDir(outDir);
  const latest = join(dir, 'LATEST');
  if (!existsSync(latest)) return null;
  return readCheckpoint(join(dir, readFileSync(latest, 'utf8').trim()));
}

export function readCheckpoint(dir: string): LoadedCheckpoint {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(mPath)) throw new InputError(`checkpoint ${dir} has no manifest.json`, { file: mPath });
  const manifest = JSON.parse(readFileSync(mPath, 'utf8')) as CheckpointManifest;
  if (manifest.format !== CHECKPOINT_FORMAT) {
    throw new InputError(`${mPath}: format is ${JSON.stringify(manifest.format)}, expected ${CHECKPOINT_FORMAT}`, { file: mPath, field: 'format' });
  }
  const bin = readFileSync(join(dir, 'tensors.bin'));
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const values = new Map<string, Float32Array>();
  for (const t of manifest.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + n > all.length) throw new InputError(`${dir}/tensors.bin is shorter than its manifest says (tensor ${t.name})`, { file: dir });
    values.set(t.name, all.subarray(t.offset, t.offset + n));
  }
  return { dir, manifest, values };
}

/** Assigns checkpointed values to `vars` by name; every variable must be present with its shape. */
export function restoreVariables(ckpt: LoadedCheckpoint, vars: [string, tf.Variable][]): void {
  const shapes = new Map(ckpt.manifest.tensors.map((t) => [t.name, t.shape]));
  for (const [name, v] of vars) {
    const values = ckpt.values.get(name);
    const shape = shapes.get(name);
    if (!values || !shape) throw new InputError(`checkpoint ${ckpt.dir} has no tensor ${name}`, { file: ckpt.dir, field: name });
    if (shape.length !== v.shape.length || shape.some((d, i) => d !== v.shape[i])) {
      throw new InputError(`checkpoint ${ckpt.dir}: tensor ${name} has shape [${shape}], the model expects [${v.shape}]`, { file: ckpt.dir, field: name });
    }
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(values), v.shape)));
  }
}


