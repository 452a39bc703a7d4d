/** Test helpers for src/rl: synthetic TransitionBatches and tiny configs (unit tests use tiny sizes). */
import type { TransitionBatch } from '../../src/data/trajectoryTypes.ts';
import { Rng } from '../../src/rl/rng.ts';

/**
 * Sessions of `len` steps: s ~ N(0,1) drifting with the action, behaviour α = 1 + 0.5·tanh(s·W) + noise
 * (logged units around [0, 2]), r = −Σ(α − α*(s))² with α*(s) = 1 + 0.8·tanh(s_0): the best action
 * differs from the logged one, so there is something to learn. The last row of every third session is
 * truncated (s′ unknown), of the others terminal.
 */
export function syntheticBatch(opts: { n?: number; stateDim?: number; actionDim?: number; seed?: number; len?: number } = {}): TransitionBatch {
  const { n = 256, stateDim: S = 4, actionDim: A = 2, seed = 1, len = 8 } = opts;
  const rng = new Rng(seed);
  const state = new Float32Array(n * S);
  const nextState = new Float32Array(n * S);
  const action = new Float32Array(n * A);
  const reward = new Float32Array(n);
  const done = new Uint8Array(n);
  const truncated = new Uint8Array(n);
  const sessionIndex = new Int32Array(n);
  const step = new Int32Array(n);
  const W = rng.fillNormal(new Float32Array(S * A));
  let s = rng.fillNormal(new Float32Array(S));
  for (let i = 0; i < n; i++) {
    const t = i % len;
    sessionIndex[i] = Math.floor(i / len);
    step[i] = t;
    if (t === 0) s = rng.fillNormal(new Float32Array(S));
    state.set(s, i * S);
    let r = 0;
    for (let j = 0; j < A; j++) {
      let z = 0;
      for (let k = 0; k < S; k++) z += s[k] * W[k * A + j];
      const a = 1 + 0.5 * Math.tanh(z) + 0.2 * (rng.uniform() - 0.5);
      action[i * A + j] = a;
      const best = 1 + 0.8 * Math.tanh(s[0]);
      r -= (a - best) ** 2;
    }
    reward[i] = r;
    const next = s.map((v, k) => 0.9 * v + 0.1 * (action[i * A + (k % A)] - 1) + 0.1 * (rng.uniform() - 0.5));
    const last = t === len - 1 || i === n - 1;
    if (last && sessionIndex[i] % 3 === 2) {
      truncated[i] = 1;
      nextState.set(s, i * S);
    } else if (last) {
      done[i] = 1;
      nextState.set(s, i * S);
    } else nextState.set(next, i * S);
    s = Float32Array.from(next);
  }
  const sessions = Math.ceil(n / len);
  return {
    n,
    stateDim: S,
    actionDim: A,
    state,
    action,
    reward,
    nextState,
    done,
    truncated,
    sessionIndex,
    step,
    requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN),
    feedback: {},
    policyId: null,
    sessionIds: Array.from({ length: sessions }, (_, i) => `s${i}`),
  };
}

/** A run config small enough for unit tests (any algorithm; tscac names one auxiliary response, the feedback column `click`). */
export function tinyConfig(algo: 'bcq' | 'bc' | 'td3' | 'td3bc' | 'tscac' | 'iql', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const nets =
    algo === 'bc'
      ? { vaeHidden: [8] }
      : algo === 'bcq'
        ? { vaeHidden: [8], actorHidden: [8], criticHidden: [8], numSamples: 3 }
        : algo === 'tscac'
          ? { actorHidden: [8], criticHidden: [8], responses: [{ name: 'click', weight: 1, gamma: 0 }], stageOneSteps: 6 }
          : algo === 'iql'
            ? { actorHidden: [8], criticHidden: [8], valueHidden: [8] }
            : { actorHidden: [8], criticHidden: [8] };
  return { algo, steps: 20, batchSize: 16, checkpointEvery: 10, logEvery: 5, probeStates: 16, backend: 'cpu', ...nets, ...extra };
}
