/**
 * What the engine asks of a fusion policy: α for a batch of states. Everything from a constant α to an
 * exported ONNX model plugs in here; trained policies from later stages only need `act`.
 */
import type { World } from './world.ts';

/** A batch policy in its plainest form: states [n × d] row-major → α [n × k] row-major. */
export type BatchPolicyFn = (states: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

/** What the engine shows a policy besides the logged state. Latent fields are for oracles only. */
export interface PolicyContext {
  readonly world: World;
  /** slots in the batch (= n of every act call of this rollout) */
  readonly slots: number;
  /** 1 where the slot holds a running session; α of other slots is ignored */
  readonly active: Uint8Array;
  /** position of the request in its session, per slot */
  readonly step: Int32Array;
  /** the user in each slot */
  readonly user: Int32Array;
  /** latent type of the user in each slot: a serving stack cannot see it (oracle policies only) */
  readonly userType: Int32Array;
  /**
   * A perfect one-step model, for myopic and look-ahead reference policies and analysis only: per
   * slot, E[r + γ · V · 1{the session goes on} | state, α] for the item α ([slots × k]) would show now.
   * With continuation V = 0 it is the true expected immediate reward E[r | s, α].
   */
  oneStepValue(alpha: Float32Array, out: Float64Array, continuation?: number): void;
}

/** What a policy that scores the candidates itself returns: α (logged) and one score per candidate. */
export interface CandidateScores {
  /** [n × k] the fusion weights applied, as the engine logs them */
  alpha: Float32Array;
  /** [n × C] the candidates' scores; the engine shows each slot's highest (the first on ties) */
  scores: Float32Array;
}

export interface FusionPolicy {
  /** logged as policy_id (stochastic policies log their arm's id instead) */
  readonly id: string;
  /** α for the `n` slots: [n × k] row-major. The returned array may be reused by the next call. */
  act(states: Float32Array, n: number, ctx: PolicyContext): Float32Array | Promise<Float32Array>;
  /**
   * Optional: rank the candidates the way a ranking stack calls an exported scorer.onnx, instead of the
   * engine's Σ α_i·log(o_i + β_i) with the world's β. `taskScores` are the candidates' predictions o,
   * [n × C × k] row-major. When present the engine calls this instead of `act`.
   */
  scoreCandidates?(states: Float32Array, taskScores: Float32Array, n: number, candidates: number, ctx: PolicyContext): CandidateScores | Promise<CandidateScores>;
  /**
   * Called when `slot` starts a session; `sessionKey` seeds the policy's own randomness for it and
   * `sessionId` is the id the logs give it (a ranking stack assigns exploration arms from it).
   */
  beginSession?(slot: number, sessionKey: number, sessionId: string): void;
  /**
   * Stochastic policies: the arm (index into `armIds`) and log-density of the α each slot got in the
   * last act (NaN: none, e.g. a control arm). `armIds` may grow during a rollout (a ranking stack that
   * swaps model versions logs `<arm>:<version>`); recorders read it when they write.
   */
  readonly armIds?: readonly string[];
  readonly arm?: Int32Array;
  readonly logp?: Float64Array;
  /** Releases native resources (ONNX sessions). */
  dispose?(): void | Promise<void>;
}

/** Wraps a plain batch function (e.g. a trained policy's forward pass) as a FusionPolicy. */
export function batchPolicy(id: string, fn: BatchPolicyFn): FusionPolicy {
  return { id, act: (states, n) => fn(states, n) };
}

/** A FusionPolicy as is, or a plain batch function wrapped as one (id `fn`). */
export function asPolicy(p: FusionPolicy | BatchPolicyFn, id = 'fn'): FusionPolicy {
  return typeof p === 'function' ? batchPolicy(id, p) : p;
}
