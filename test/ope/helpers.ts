/** Hand-made TransitionBatches for the OPE unit tests: every number in them is written out. */
import type { TransitionBatch } from '../../src/data/trajectoryTypes.ts';
import type { OpeData } from '../../src/ope/data.ts';
import { prepareOpeData } from '../../src/ope/data.ts';
import { Rng } from '../../src/ope/rl.ts';

export interface SessionSpec {
  /** one state per step (row-major values of stateDim) */
  states: number[][];
  actions: number[][];
  rewards: number[];
  /** how the session's last row ends: 'done' (terminal) or 'cut' (truncated by the window) */
  end: 'done' | 'cut';
  /** behavior log-density per row (NaN = not logged) */
  logp?: number[];
  feedback?: Record<string, number[]>;
}

export function makeBatch(sessions: SessionSpec[]): TransitionBatch {
  const S = sessions[0].states[0].length;
  const A = sessions[0].actions[0].length;
  const n = sessions.reduce((s, x) => s + x.rewards.length, 0);
  const names = Object.keys(sessions[0].feedback ?? {});
  const b: TransitionBatch = {
    n,
    stateDim: S,
    actionDim: A,
    state: new Float32Array(n * S),
    action: new Float32Array(n * A),
    reward: new Float32Array(n),
    nextState: new Float32Array(n * S),
    done: new Uint8Array(n),
    truncated: new Uint8Array(n),
    sessionIndex: new Int32Array(n),
    step: new Int32Array(n),
    requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN),
    feedback: Object.fromEntries(names.map((k) => [k, new Float32Array(n)])),
    policyId: null,
    sessionIds: sessions.map((_, j) => `s${j}`),
  };
  let i = 0;
  sessions.forEach((x, j) => {
    const L = x.rewards.length;
    for (let t = 0; t < L; t++, i++) {
      b.state.set(x.states[t], i * S);
      b.action.set(x.actions[t], i * A);
      b.reward[i] = x.rewards[t];
      b.nextState.set(t + 1 < L ? x.states[t + 1] : x.states[t], i * S);
      if (t + 1 === L) (x.end === 'done' ? b.done : b.truncated)[i] = 1;
      b.sessionIndex[i] = j;
      b.step[i] = t;
      b.requestTs[i] = 1_700_000_000_000 + j * 60_000 + t * 1000;
      if (x.logp) b.actionLogp[i] = x.logp[t];
      for (const k of names) b.feedback[k][i] = x.feedback![k][t];
    }
  });
  return b;
}

/** Statistics that make normalisation the identity: mean 0, std 1, action box [−1, 1]. */
export function identityStats(S: number, A: number) {
  const v = (n: number, x: number) => new Array<number>(n).fill(x);
  return {
    state: { mean: v(S, 0), std: v(S, 1), min: v(S, -1), max: v(S, 1) },
    action: { mean: v(A, 0), std: v(A, 1), min: v(A, -1), max: v(A, 1) },
  };
}

export function identityData(b: TransitionBatch, gamma: number, perResponse = false): OpeData {
  return prepareOpeData(b, { gamma, stats: identityStats(b.stateDim, b.actionDim), perResponse });
}

/** A chain MDP: `count` sessions of length `len`, state = [step / len], action 0, reward 1 per step. */
export function chainSessions(count: number, len: number, end: (j: number) => 'done' | 'cut' = () => 'done'): SessionSpec[] {
  return Array.from({ length: count }, (_, j) => {
    const L = end(j) === 'cut' ? Math.max(1, len - 1) : len;
    return {
      states: Array.from({ length: L }, (_, t) => [t / len]),
      actions: Array.from({ length: L }, () => [0]),
      rewards: Array.from({ length: L }, () => 1),
      end: end(j),
    };
  });
}

/** Sessions of 2–6 steps; α ~ N(0.5, 0.2²) per dim with its log-density logged; r = 2 − (α₀ − 0.8)² + u. */
export function loggedSessions(count: number, seed: number): SessionSpec[] {
  const rng = new Rng(seed);
  const logN = (x: number) => -0.5 * ((x - 0.5) / 0.2) ** 2 - Math.log(0.2) - 0.5 * Math.log(2 * Math.PI);
  return Array.from({ length: count }, (_, j) => {
    const L = 2 + rng.int(5);
    const u = rng.uniform();
    const actions = Array.from({ length: L }, () => [0.5 + 0.2 * rng.normal(), 0.5 + 0.2 * rng.normal()]);
    const rewards = actions.map((a) => 2 - (a[0] - 0.8) ** 2 + u);
    return {
      states: Array.from({ length: L }, (_, t) => [t / 6, u]),
      actions,
      rewards,
      end: j % 10 === 9 ? 'cut' : 'done',
      logp: actions.map((a) => logN(a[0]) + logN(a[1])),
      feedback: { play: rewards, one: rewards.map(() => 1) },
    };
  });
}
