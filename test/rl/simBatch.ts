/**
 * A small simulated log as a TransitionBatch, in memory (no parquet, no ingest): the simulator's
 * behavior policy (mixed multi-exploration around the tuned production α, src/sim/policies.ts) served
 * `sessions` sessions of the default world; each request is one row (state the policy saw, α served,
 * reward, the session's next state). Rows are ordered by session and step, as ingest writes them.
 * For tests and studies of the generative model (src/rl/README.md §3.4).
 */
import type { TransitionBatch } from '../../src/data/trajectoryTypes.ts';
import { behaviorPolicy, defaultWorld, rollout, STATE_DIM, type Engine } from '../../src/sim/index.ts';

const K = 8;

export async function simulatedBatch(opts: { sessions: number; seed: number }): Promise<TransitionBatch & { arm: Uint8Array }> {
  const policy = behaviorPolicy();
  const rows: { session: number; step: number; s: Float32Array; a: Float32Array; r: number; done: boolean; arm: number }[] = [];
  const recorder = {
    onStep(e: Engine, slot: number) {
      rows.push({
        session: e.session[slot],
        step: e.step[slot],
        s: e.states.slice(slot * STATE_DIM, (slot + 1) * STATE_DIM),
        a: e.alpha.slice(slot * K, (slot + 1) * K),
        r: e.lastReward[slot],
        done: e.lastDone[slot] === 1,
        arm: policy.arm[slot],
      });
    },
  };
  await rollout({ world: defaultWorld(), policy, sessions: opts.sessions, seed: opts.seed, recorder });
  rows.sort((x, y) => x.session - y.session || x.step - y.step);
  const n = rows.length;
  const b = {
    n,
    stateDim: STATE_DIM,
    actionDim: K,
    state: new Float32Array(n * STATE_DIM),
    action: new Float32Array(n * K),
    reward: new Float32Array(n),
    nextState: new Float32Array(n * STATE_DIM),
    done: new Uint8Array(n),
    truncated: new Uint8Array(n),
    sessionIndex: new Int32Array(n),
    step: new Int32Array(n),
    requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN),
    feedback: {},
    policyId: null,
    sessionIds: [] as string[],
    arm: new Uint8Array(n),
  };
  rows.forEach((x, i) => {
    b.state.set(x.s, i * STATE_DIM);
    b.action.set(x.a, i * K);
    b.reward[i] = x.r;
    const last = i + 1 === n || rows[i + 1].session !== x.session;
    b.nextState.set(last ? x.s : rows[i + 1].s, i * STATE_DIM);
    b.done[i] = last && x.done ? 1 : 0;
    b.truncated[i] = last && !x.done ? 1 : 0;
    b.sessionIndex[i] = x.session;
    b.step[i] = x.step;
    b.arm[i] = x.arm;
  });
  b.sessionIds = Array.from({ length: opts.sessions }, (_, i) => `s${i}`);
  return b;
}
