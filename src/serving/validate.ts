/**
 * The one validation of a scoring call, used by every entry point: FusionScorer.score (the library)
 * and POST /v1/score (which first turns the JSON body into the same flat float32 arrays). Every
 * refusal is an InputError whose message names the field and index and the rule; the HTTP layer maps
 * InputError to 400.
 *
 * Values are checked after their conversion to float32, the precision the ONNX graph computes in: a
 * JSON number such as 1e39 becomes Infinity there and is refused like NaN. The loops run over the
 * Float32Arrays without allocating, so the check costs a few µs next to a scoring call.
 */
import { InputError } from '../errors/index.ts';

/** How much one call may ask for (each a positive integer or Infinity). */
export interface ScoreLimits {
  /** most requests (rows of states) per call */
  maxRequests: number;
  /** most candidates per request */
  maxCandidates: number;
  /** most scores per call: requests × candidates (bounds the float32 memory a call reserves) */
  maxScores: number;
}

/** The library's default: no limits beyond the arrays the caller already allocated. */
export const NO_LIMITS: ScoreLimits = { maxRequests: Infinity, maxCandidates: Infinity, maxScores: Infinity };

/** What the served model expects: state_dim d, k tasks and β (manifest order). */
export interface ScoreSignature {
  stateDim: number;
  actionDim: number;
  beta: readonly number[];
}

/** float32's largest finite value: larger magnitudes become ±Infinity in the graph. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** n requests of C candidates within the limits; `where` names the field that carries C. */
export function checkCounts(n: number, C: number, limits: ScoreLimits, where = 'task_scores'): void {
  if (n > limits.maxRequests) throw new InputError(`states: ${n} requests, at most ${limits.maxRequests} per call`, { field: 'states' });
  if (C > limits.maxCandidates) throw new InputError(`${where}: ${C} candidates, at most ${limits.maxCandidates} per request`, { field: 'task_scores' });
  if (n * C > limits.maxScores) {
    throw new InputError(`task_scores: ${n} requests × ${C} candidates = ${n * C} scores, at most ${limits.maxScores} per call (send fewer requests per call)`, { field: 'task_scores' });
  }
}

/**
 * Checks a scoring call's flat inputs: states [n × d] and taskScores [n × C × k] as Float32Arrays whose
 * lengths give n and C, within `limits`; every value finite (in float32); 0 < o + β ≤ float32's largest
 * value for every task score (the score takes log(o + β), Eq. 1). Returns n and C, or throws an InputError naming the first problem.
 */
export function validateScoreInput(states: unknown, taskScores: unknown, sig: ScoreSignature, limits: ScoreLimits = NO_LIMITS): { n: number; C: number } {
  const d = sig.stateDim;
  const k = sig.actionDim;
  if (!(states instanceof Float32Array)) throw new InputError(`states: expected a Float32Array of n × ${d} values, got ${kind(states)}`, { field: 'states' });
  if (!(taskScores instanceof Float32Array)) throw new InputError(`task_scores: expected a Float32Array of n × C × ${k} values, got ${kind(taskScores)}`, { field: 'task_scores' });
  if (states.length === 0 || states.length % d !== 0) throw new InputError(`states: expected n × ${d} values (state_dim ${d}), got ${states.length}`, { field: 'states' });
  const n = states.length / d;
  if (taskScores.length === 0 || taskScores.length % (n * k) !== 0) {
    throw new InputError(`task_scores: expected ${n} × C × ${k} values (${n} requests, ${k} tasks), got ${taskScores.length}`, { field: 'task_scores' });
  }
  const C = taskScores.length / (n * k);
  checkCounts(n, C, limits);

  for (let i = 0; i < states.length; i++) {
    const v = states[i];
    if (!(v - v === 0)) throw notFinite(`states[${Math.floor(i / d)}][${i % d}]`, v, 'states'); // false for NaN and ±Infinity only
  }
  // β as the graph holds it (a float32 constant); a double sum of two float32s has the float32 sum's sign
  const beta = Float32Array.from(sig.beta);
  for (let i = 0; i < n * C; i++) {
    const base = i * k;
    for (let t = 0; t < k; t++) {
      const o = taskScores[base + t];
      const sum = o + beta[t];
      if (sum > 0 && sum <= FLOAT32_MAX) continue; // false for NaN and ±Infinity o too
      const where = `task_scores[${Math.floor(i / C)}][${i % C}][${t}]`;
      if (!(o - o === 0)) throw notFinite(where, o, 'task_scores');
      if (sum > 0) throw new InputError(`${where} = ${o}: o + β = ${sum} exceeds float32's range (|x| ≤ ${FLOAT32_MAX})`, { field: 'task_scores' });
      throw new InputError(`${where} = ${o}: o + β must be > 0 (β = ${sig.beta[t]}), since the score takes log(o + β)`, { field: 'task_scores' });
    }
  }
  return { n, C };
}

/**
 * Checks the graph's outputs before they leave: finite values inputs that passed validateScoreInput
 * give unless a state is so far from the training data that standardising it overflows float32 (a
 * state of 3e38 does). Refused as the input error it is, naming the request.
 */
export function checkScoreOutput(fusionWeights: Float32Array, scores: Float32Array, n: number, C: number): void {
  const k = fusionWeights.length / n;
  for (let i = 0; i < fusionWeights.length; i++) {
    const v = fusionWeights[i];
    if (!(v - v === 0)) {
      const r = Math.floor(i / k);
      throw new InputError(`states[${r}]: the model's fusion weights for this state are not finite (${v}); its values are too far from the training data's (the manifest's state_mean ± state_std) to be scored`, { field: 'states' });
    }
  }
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (!(v - v === 0)) {
      throw new InputError(`task_scores[${Math.floor(i / C)}][${i % C}]: the score is ${v} (o + β too close to 0 for float32's log?)`, { field: 'task_scores' });
    }
  }
}

function notFinite(where: string, v: number, field: string): InputError {
  return new InputError(`${where} = ${v}: expected a finite number within float32's range (|x| ≤ ${FLOAT32_MAX}); values are scored as float32`, { field });
}

function kind(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'object';
}
