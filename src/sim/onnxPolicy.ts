/**
 * An exported ONNX fusion model as a FusionPolicy: input `state` float32 [N, d] → output
 * `fusion_weights` float32 [N, k], run once per step for all parallel sessions (onnxruntime-node, CPU).
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors/index.ts';
import { NUM_TASKS } from './config.ts';
import { STATE_DIM } from './features.ts';
import type { FusionPolicy } from './policy.ts';

export const ONNX_INPUT = 'state';
export const ONNX_OUTPUT = 'fusion_weights';

export interface OnnxPolicyOptions {
  /** policy_id (default: the file name without .onnx) */
  id?: string;
  /** onnxruntime intra-op threads (default 1: the simulator's batch is small) */
  threads?: number;
}

function checkDim(file: string, name: string, meta: readonly ort.InferenceSession.ValueMetadata[], want: number): void {
  const m = meta.find((v) => v.name === name);
  if (!m || !m.isTensor) return;
  if (m.type !== 'float32') throw new InputError(`${file}: ${name} is ${m.type}, expected float32`, { file });
  const last = m.shape[m.shape.length - 1];
  if (m.shape.length !== 2 || (typeof last === 'number' && last !== want)) {
    throw new InputError(`${file}: ${name} has shape [${m.shape.join(', ')}], expected [N, ${want}]`, { file });
  }
}

/** An onnxruntime session for the simulator (CPU, sequential); InputError naming `file` when it cannot load. */
export async function createOnnxSession(model: string | Uint8Array, file: string, threads = 1): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new InputError(`${file}: not a loadable ONNX model (${err instanceof Error ? err.message : String(err)})`, { file });
  }
}

/** Loads `file`; throws InputError (naming the file) when it is missing or not a fusion model. */
export async function onnxPolicy(file: string, opts: OnnxPolicyOptions = {}): Promise<FusionPolicy> {
  if (!existsSync(file)) throw new InputError(`${file}: no such ONNX model`, { file });
  const session = await createOnnxSession(file, file, opts.threads ?? 1);
  if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
    await session.release();
    throw new InputError(
      `${file}: a fusion model needs input '${ONNX_INPUT}' and output '${ONNX_OUTPUT}', found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
      { file },
    );
  }
  try {
    checkDim(file, ONNX_INPUT, session.inputMetadata, STATE_DIM);
    checkDim(file, ONNX_OUTPUT, session.outputMetadata, NUM_TASKS);
  } catch (err) {
    await session.release();
    throw err;
  }
  const id = opts.id ?? basename(file).replace(/\.onnx$/i, '');
  return {
    id,
    async act(states, n) {
      const input = new ort.Tensor('float32', states.subarray(0, n * STATE_DIM), [n, STATE_DIM]);
      const out = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT];
      const data = out.data;
      if (!(data instanceof Float32Array) || data.length !== n * NUM_TASKS) {
        throw new InputError(`${file}: ${ONNX_OUTPUT} came back as ${out.type} [${out.dims.join(', ')}], expected float32 [${n}, ${NUM_TASKS}]`, { file });
      }
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) throw new InputError(`${file}: ${ONNX_OUTPUT} holds a non-finite weight (${data[i]}) at row ${Math.floor(i / NUM_TASKS)}`, { file });
      }
      return data;
    },
    dispose: () => session.release(),
  };
}
