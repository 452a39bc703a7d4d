/**
 * An exported scorer.onnx as a FusionPolicy that ranks the candidates exactly as a ranking stack calls
 * it: inputs `state` float32 [N, d] and `task_scores` float32 [N, C, k] (the candidates' predictions o),
 * outputs `fusion_weights` [N, k] and `scores` [N, C] = Σ_i α_i·log(o_i + β_i) with the β baked into the
 * graph (Eq. 1). The engine shows each request's highest-scoring candidate (FusionPolicy.scoreCandidates),
 * so a scorer exported with another β than the world's ranks with another function than its own α under
 * the world's β: its true value is that of the function that ships, β included.
 *
 * One onnxruntime call per step for all parallel sessions and all their candidates ([slots, C, k]).
 */
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors/index.ts';
import { NUM_TASKS } from './config.ts';
import { STATE_DIM } from './features.ts';
import { createOnnxSession } from './onnxPolicy.ts';
import type { CandidateScores, FusionPolicy } from './policy.ts';

export const SCORER_STATE = 'state';
export const SCORER_TASK_SCORES = 'task_scores';
export const SCORER_WEIGHTS = 'fusion_weights';
export const SCORER_SCORES = 'scores';

export interface ScorerPolicyOptions {
  /** policy_id (e.g. `<name>@<version>`) */
  id: string;
  /** names the model in messages (default: the path, or `id` for bytes) */
  file?: string;
  /** onnxruntime intra-op threads (default 1) */
  threads?: number;
}

/** Checks one input or output: float32 and the rank and fixed sizes given (null = dynamic). */
function checkShape(file: string, name: string, meta: readonly ort.InferenceSession.ValueMetadata[], want: (number | null)[]): void {
  const m = meta.find((v) => v.name === name);
  if (!m || !m.isTensor) return;
  if (m.type !== 'float32') throw new InputError(`${file}: ${name} is ${m.type}, expected float32`, { file });
  const bad = m.shape.length !== want.length || want.some((w, i) => w !== null && typeof m.shape[i] === 'number' && m.shape[i] !== w);
  if (bad) throw new InputError(`${file}: ${name} has shape [${m.shape.join(', ')}], expected [${want.map((w, i) => w ?? ['N', 'C'][i]).join(', ')}]`, { file });
}

/** Loads a scorer graph from a path or verified bytes; InputError naming the file when it is not one. */
export async function scorerPolicy(model: string | Uint8Array, opts: ScorerPolicyOptions): Promise<FusionPolicy> {
  const file = opts.file ?? (typeof model === 'string' ? model : opts.id);
  const session = await createOnnxSession(model, file, opts.threads ?? 1);
  try {
    const ins = [SCORER_STATE, SCORER_TASK_SCORES];
    const outs = [SCORER_WEIGHTS, SCORER_SCORES];
    if (!ins.every((x) => session.inputNames.includes(x)) || !outs.every((x) => session.outputNames.includes(x))) {
      throw new InputError(
        `${file}: a scorer needs inputs [${ins.join(', ')}] and outputs [${outs.join(', ')}], found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
        { file },
      );
    }
    checkShape(file, SCORER_STATE, session.inputMetadata, [null, STATE_DIM]);
    checkShape(file, SCORER_TASK_SCORES, session.inputMetadata, [null, null, NUM_TASKS]);
    checkShape(file, SCORER_WEIGHTS, session.outputMetadata, [null, NUM_TASKS]);
  } catch (err) {
    await session.release();
    throw err;
  }

  const K = NUM_TASKS;
  async function run(states: Float32Array, taskScores: Float32Array, n: number, C: number): Promise<CandidateScores> {
    const out = await session.run({
      [SCORER_STATE]: new ort.Tensor('float32', states.subarray(0, n * STATE_DIM), [n, STATE_DIM]),
      [SCORER_TASK_SCORES]: new ort.Tensor('float32', taskScores.subarray(0, n * C * K), [n, C, K]),
    });
    const alpha = out[SCORER_WEIGHTS].data;
    const scores = out[SCORER_SCORES].data;
    if (!(alpha instanceof Float32Array) || alpha.length !== n * K || !(scores instanceof Float32Array) || scores.length !== n * C) {
      throw new InputError(`${file}: outputs came back as [${out[SCORER_WEIGHTS].dims.join(', ')}] and [${out[SCORER_SCORES].dims.join(', ')}], expected float32 [${n}, ${K}] and [${n}, ${C}]`, { file });
    }
    for (let i = 0; i < alpha.length; i++) {
      if (!Number.isFinite(alpha[i])) throw new InputError(`${file}: ${SCORER_WEIGHTS} holds a non-finite weight (${alpha[i]}) at row ${Math.floor(i / K)}`, { file });
    }
    // −∞ is a score (o + β = 0); NaN is not, and would never be shown: fail instead of ranking silently
    for (let i = 0; i < scores.length; i++) {
      if (Number.isNaN(scores[i])) throw new InputError(`${file}: ${SCORER_SCORES} holds NaN at row ${Math.floor(i / C)}, candidate ${i % C}`, { file });
    }
    return { alpha, scores };
  }

  // act() without candidates (e.g. as the production policy of a behavior policy): one neutral candidate
  let ones = new Float32Array(0);
  return {
    id: opts.id,
    async act(states, n) {
      if (ones.length < n * K) ones = new Float32Array(n * K).fill(1);
      return (await run(states, ones, n, 1)).alpha;
    },
    scoreCandidates: (states, taskScores, n, candidates) => run(states, taskScores, n, candidates),
    dispose: () => session.release(),
  };
}
