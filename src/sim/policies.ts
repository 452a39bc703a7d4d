/**
 * The simulator's own fusion policies: a constant α, the paper's mixed multi-exploration behavior
 * policy (§3.3), the oracle that sees the latent user type, and the myopic policy that maximises the
 * true expected immediate reward.
 */
import { BehaviorConfigSchema, NUM_TASKS, type BehaviorConfig } from './config.ts';
import type { FusionPolicy, PolicyContext } from './policy.ts';
import { Rng, STREAM } from './rng.ts';

const K = NUM_TASKS;
const LOG_2PI = Math.log(2 * Math.PI);

function checkAlpha(alpha: ArrayLike<number>, what: string): Float32Array {
  if (alpha.length !== K) throw new RangeError(`${what}: expected ${K} fusion weights, got ${alpha.length}`);
  for (let i = 0; i < K; i++) if (!Number.isFinite(alpha[i])) throw new RangeError(`${what}: weight ${i} is ${alpha[i]}, not a finite number`);
  return Float32Array.from(alpha);
}

/** A buffer of n rows that grows only when n grows (policies reuse their output). */
class RowBuffer {
  private buf = new Float32Array(0);
  get(n: number): Float32Array {
    if (this.buf.length < n * K) this.buf = new Float32Array(n * K);
    return this.buf;
  }
}

/** The same α for every request. */
export function constantPolicy(alpha: ArrayLike<number>, id = `const:${Array.from(alpha).join(',')}`): FusionPolicy {
  const a = checkAlpha(alpha, 'constantPolicy');
  let buf = new Float32Array(0);
  return {
    id,
    act(_states, n) {
      if (buf.length < n * K) {
        buf = new Float32Array(n * K);
        for (let s = 0; s < n; s++) buf.set(a, s * K);
      }
      return buf;
    },
  };
}

/** α per latent user type: an oracle a serving stack cannot run (it sees ctx.userType). */
export function oraclePolicy(alphaByType: readonly ArrayLike<number>[], id = 'oracle'): FusionPolicy {
  const table = alphaByType.map((a, k) => checkAlpha(a, `oraclePolicy type ${k}`));
  const out = new RowBuffer();
  return {
    id,
    act(_states, n, ctx) {
      const buf = out.get(n);
      for (let s = 0; s < n; s++) {
        const a = table[ctx.userType[s]];
        if (!a) throw new RangeError(`oraclePolicy: no α for user type ${ctx.userType[s]}`);
        buf.set(a, s * K);
      }
      return buf;
    },
  };
}

/**
 * The myopic policy: at every request, of the candidate α vectors, the one whose shown item has the
 * highest true expected immediate reward E[r | s, α] (γ = 0 with a perfect one-step model).
 */
export function myopicPolicy(candidates: readonly ArrayLike<number>[], id = 'myopic'): FusionPolicy {
  return oneStepPolicy(candidates, 0, id);
}

/**
 * The look-ahead counterpart of myopicPolicy, with the same model and candidates: it maximises
 * E[r + γ V · 1{the session goes on} | s, α], i.e. it also weighs what the shown item does to the
 * user's satisfaction and fatigue and so to the chance of leaving. V: value of going on (default 400).
 */
export function lookaheadPolicy(candidates: readonly ArrayLike<number>[], continuation = 400, id = 'lookahead'): FusionPolicy {
  if (!(continuation > 0)) throw new RangeError(`lookaheadPolicy: continuation must be > 0, got ${continuation}`);
  return oneStepPolicy(candidates, continuation, id);
}

function oneStepPolicy(candidates: readonly ArrayLike<number>[], continuation: number, id: string): FusionPolicy {
  if (candidates.length === 0) throw new RangeError(`${id}: needs at least one candidate α`);
  const table = candidates.map((a, m) => checkAlpha(a, `${id} candidate ${m}`));
  const out = new RowBuffer();
  const trial = new RowBuffer();
  let value = new Float64Array(0);
  let best = new Float64Array(0);
  return {
    id,
    act(_states, n, ctx: PolicyContext) {
      const buf = out.get(n);
      const tr = trial.get(n);
      if (value.length < n) {
        value = new Float64Array(n);
        best = new Float64Array(n);
      }
      best.fill(-Infinity);
      for (const a of table) {
        for (let s = 0; s < n; s++) tr.set(a, s * K);
        ctx.oneStepValue(tr, value, continuation);
        for (let s = 0; s < n; s++) {
          if (value[s] > best[s]) {
            best[s] = value[s];
            buf.set(a, s * K);
          }
        }
      }
      return buf;
    },
  };
}

export interface BehaviorPolicyOptions {
  /** the production policy the exploration centres on (default: the constant config.productionAlpha) */
  production?: FusionPolicy;
  config?: Partial<BehaviorConfig>;
}

/** Arm ids, as logged in policy_id (with `:<production id>` when production is not the default constant). */
export const ARMS = ['random_explore', 'action_noise'] as const;

/**
 * The paper's mixed multi-exploration (§3.3). Each session is assigned to an arm: with probability
 * randomShare random exploration, α ~ N(π_prod(s), randomSd² I), else action-noise exploration,
 * α = π_prod(s) + N(0, noiseSd² I); α is drawn afresh at every request. `logp` is the exact log-density
 * of the drawn α under the session's arm (the arm is known from policy_id).
 */
export function behaviorPolicy(opts: BehaviorPolicyOptions = {}): FusionPolicy & { armIds: readonly string[]; arm: Int32Array; logp: Float64Array } {
  const cfg = BehaviorConfigSchema.parse(opts.config ?? {});
  const production = opts.production ?? constantPolicy(cfg.productionAlpha, 'production');
  const suffix = opts.production ? `:${production.id}` : '';
  const armIds = ARMS.map((a) => a + suffix);
  const sd = [cfg.randomSd, cfg.noiseSd];
  const logNorm = sd.map((s) => -K * (Math.log(s) + 0.5 * LOG_2PI));
  const out = new RowBuffer();
  let rngs: Rng[] = [];
  const self = {
    id: `behavior${suffix}`,
    armIds,
    arm: new Int32Array(0),
    logp: new Float64Array(0),
    beginSession(slot: number, key: number) {
      ensure(slot + 1);
      const rng = rngs[slot];
      rng.reseed(key, STREAM.policy);
      self.arm[slot] = rng.uniform() < cfg.randomShare ? 0 : 1;
    },
    async act(states: Float32Array, n: number, ctx: PolicyContext): Promise<Float32Array> {
      ensure(n);
      const r = production.act(states, n, ctx);
      const base = r instanceof Promise ? await r : r;
      const buf = out.get(n);
      for (let s = 0; s < n; s++) {
        if (!ctx.active[s]) continue;
        const arm = self.arm[s];
        const sigma = sd[arm];
        const rng = rngs[s];
        for (let i = 0; i < K; i++) buf[s * K + i] = base[s * K + i] + sigma * rng.normal();
        // log N(α; μ, σ² I) = −½ Σ ((α−μ)/σ)² − k (log σ + ½ log 2π); computed from the float32 α actually logged.
        let sq32 = 0;
        for (let i = 0; i < K; i++) {
          const zi = (buf[s * K + i] - base[s * K + i]) / sigma;
          sq32 += zi * zi;
        }
        self.logp[s] = -0.5 * sq32 + logNorm[arm];
      }
      return buf;
    },
    dispose: () => production.dispose?.(),
  };
  function ensure(n: number): void {
    if (self.arm.length >= n) return;
    const arm = new Int32Array(n);
    arm.set(self.arm);
    const logp = new Float64Array(n);
    logp.set(self.logp);
    self.arm = arm;
    self.logp = logp;
    while (rngs.length < n) rngs.push(new Rng(0));
  }
  return self;
}
