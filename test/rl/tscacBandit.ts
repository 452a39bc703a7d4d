/**
 * A one-step problem for TSCAC's tests: s ~ N(0, I₂), logged a ~ N(0, σ²I₂) (σ = 0.3), every session
 * one request long (done). Responses with known optima in a: `click` = −|a − (0.5, 0)|², `share` =
 * −|a − (−0.5, 0)|², and the logged reward r = −|a − (0, 0.5)|² (the main objective), each plus N(0, 0.05²).
 * action_logp is the exact log-density of the logged a (logged units).
 */
import type { TransitionBatch } from '../../src/data/trajectoryTypes.ts';
import { Rng } from '../../src/rl/rng.ts';

export const BANDIT_OPTIMA = { click: [0.5, 0], share: [-0.5, 0], reward: [0, 0.5] } as const;
export const BANDIT_SIGMA = 0.3;

export function banditBatch(n: number, seed: number): TransitionBatch {
  const rng = new Rng(seed);
  const S = 2;
  const A = 2;
  const state = rng.fillNormal(new Float32Array(n * S));
  const action = new Float32Array(n * A);
  const reward = new Float32Array(n);
  const click = new Float32Array(n);
  const share = new Float32Array(n);
  const actionLogp = new Float32Array(n);
  const sq = (a: Float32Array, i: number, o: readonly number[]) => (a[i * A] - o[0]) ** 2 + (a[i * A + 1] - o[1]) ** 2;
  for (let i = 0; i < n; i++) {
    let z2 = 0;
    for (let j = 0; j < A; j++) {
      const z = rng.normal();
      z2 += z * z;
      action[i * A + j] = BANDIT_SIGMA * z;
    }
    actionLogp[i] = -0.5 * z2 - A * (Math.log(BANDIT_SIGMA) + 0.5 * Math.log(2 * Math.PI));
    click[i] = -sq(action, i, BANDIT_OPTIMA.click) + 0.05 * rng.normal();
    share[i] = -sq(action, i, BANDIT_OPTIMA.share) + 0.05 * rng.normal();
    reward[i] = -sq(action, i, BANDIT_OPTIMA.reward) + 0.05 * rng.normal();
  }
  return {
    n,
    stateDim: S,
    actionDim: A,
    state,
    action,
    reward,
    nextState: Float32Array.from(state),
    done: new Uint8Array(n).fill(1),
    truncated: new Uint8Array(n),
    sessionIndex: Int32Array.from({ length: n }, (_, i) => i),
    step: new Int32Array(n),
    requestTs: new Float64Array(n),
    actionLogp,
    feedback: { click, share },
    policyId: null,
    sessionIds: Array.from({ length: n }, (_, i) => `b${i}`),
  };
}
