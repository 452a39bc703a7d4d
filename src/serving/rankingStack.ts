/**
 * FusionScorer as the simulator's traffic server (issue 18 §2): a FusionPolicy whose every request goes
 * through FusionScorer.scoreSessions — the version CURRENT names, its scorer.onnx, its β and its
 * manifest's exploration, exactly as a ranking stack calls it — so that simulated logs are the logs the
 * product would write: α applied, `action_logp` (NaN = null for the control arm) and `policy_id`
 * `<arm>:<version>`. Only the standard normals z and the uniforms u of uniform arms come from the
 * simulator (one seeded stream each per session, so that a night's logs are reproducible; the uniforms'
 * own stream leaves the normals, and so every gaussian-arm result, as before issue 21 §3); the arm
 * comes from the session id's keyed hash.
 *
 * The simulator calls `refresh` (or the scorer's own CURRENT polling) between requests; a swap shows in
 * policy_id, which names the version that scored each request.
 */
import type { CandidateScores, FusionPolicy, PolicyContext } from '../sim/policy.ts';
import { Rng, STREAM } from '../sim/rng.ts';
import { exploreRows, needsUniforms, type PublishedExploration } from './exploration.ts';
import type { FusionScorer } from './scorer.ts';

export interface RankingStackPolicy extends FusionPolicy {
  readonly armIds: string[];
  readonly arm: Int32Array;
  readonly logp: Float64Array;
}

/**
 * What both stacks keep per slot: the session's id and its seeded normal and uniform streams, and, after each
 * request, the arm (index into armIds, appended when a `<arm>:<version>` is new) and action_logp.
 */
class StackSlots {
  readonly armIds: string[] = [];
  private readonly armIndex = new Map<string, number>();
  private rngs: Rng[] = [];
  private uniformRngs: Rng[] = [];
  private ids: string[] = [];
  private z = new Float32Array(0);
  private u = new Float64Array(0);
  arm = new Int32Array(0);
  logp = new Float64Array(0);

  begin(slot: number, key: number, sessionId: string): void {
    this.ensure(slot + 1);
    this.rngs[slot].reseed(key, STREAM.policy);
    this.uniformRngs[slot].reseed(key, STREAM.explorationUniform);
    this.ids[slot] = sessionId;
  }

  ensure(n: number): void {
    if (this.arm.length >= n) return;
    const arm = new Int32Array(n);
    arm.set(this.arm);
    const logp = new Float64Array(n);
    logp.set(this.logp);
    this.arm = arm;
    this.logp = logp;
    while (this.rngs.length < n) this.rngs.push(new Rng(0));
    while (this.uniformRngs.length < n) this.uniformRngs.push(new Rng(0));
    this.ids = this.ids.concat(new Array<string>(n - this.ids.length));
  }

  /** k normals per active slot and request whatever the arm: every session's stream stays aligned. */
  normals(n: number, k: number, active: Uint8Array): Float32Array {
    this.ensure(n);
    if (this.z.length < n * k) this.z = new Float32Array(n * k);
    for (let s = 0; s < n; s++) {
      if (!active[s]) continue;
      const rng = this.rngs[s];
      for (let j = 0; j < k; j++) this.z[s * k + j] = rng.normal();
    }
    return this.z.subarray(0, n * k);
  }

  /** k uniforms in [0, 1) per active slot and request, from each session's own uniform stream (uniform arms read them). */
  uniforms(n: number, k: number, active: Uint8Array): Float64Array {
    this.ensure(n);
    if (this.u.length < n * k) this.u = new Float64Array(n * k);
    for (let s = 0; s < n; s++) {
      if (!active[s]) continue;
      const rng = this.uniformRngs[s];
      for (let j = 0; j < k; j++) this.u[s * k + j] = rng.uniform();
    }
    return this.u.subarray(0, n * k);
  }

  sessionIds(n: number): string[] {
    return this.ids.slice(0, n).map((x, s) => x ?? `idle-slot-${s}`);
  }

  /** Per slot: the policy_id's index in armIds and action_logp (null → NaN). */
  record(policyIds: string[], logp: (number | null)[]): void {
    for (let s = 0; s < policyIds.length; s++) {
      const pid = policyIds[s];
      let a = this.armIndex.get(pid);
      if (a === undefined) {
        a = this.armIds.push(pid) - 1;
        this.armIndex.set(pid, a);
      }
      this.arm[s] = a;
      this.logp[s] = logp[s] ?? NaN;
    }
  }
}

export function rankingStackPolicy(scorer: FusionScorer, opts: { id?: string } = {}): RankingStackPolicy {
  const st = new StackSlots();
  const id = opts.id ?? `stack:${scorer.name}`;
  return {
    id,
    armIds: st.armIds,
    get arm() {
      return st.arm;
    },
    get logp() {
      return st.logp;
    },
    beginSession: (slot: number, key: number, sessionId: string) => st.begin(slot, key, sessionId),
    act(): never {
      throw new Error(`${id}: a ranking stack ranks the candidates itself (scoreCandidates); the simulator calls act only without candidates`);
    },
    async scoreCandidates(states: Float32Array, taskScores: Float32Array, n: number, C: number, ctx: PolicyContext): Promise<CandidateScores> {
      const K = scorer.manifest.action.dim;
      const z = st.normals(n, K, ctx.active);
      // uniforms when the served version has a uniform arm: scoreSessions takes its version synchronously
      // at the call, with no await after this check, so the check and the scoring see the same version
      const u = needsUniforms(scorer.manifest.exploration) ? st.uniforms(n, K, ctx.active) : undefined;
      const r = await scorer.scoreSessions(states.subarray(0, n * scorer.manifest.state.dim), taskScores.subarray(0, n * C * K), st.sessionIds(n), z, u);
      st.record(r.policyIds, r.actionLogp);
      return { alpha: r.fusionWeights, scores: r.scores };
    },
  };
}

/**
 * A ranking stack that still runs one constant α (what the users run before the first publish), with
 * the same exploration contract (exploreRows: keyed-hash arms, α = μ + σz or μ + h(2u − 1), action_logp, policy_id
 * `<arm>:<version>`); it ranks with the world's β, as the stack that wrote the logs does.
 */
export function constantStackPolicy(alpha: ArrayLike<number>, exploration: PublishedExploration | null, version = 'production'): RankingStackPolicy {
  const K = alpha.length;
  const mu0 = Float32Array.from(alpha);
  const st = new StackSlots();
  const uniform = needsUniforms(exploration);
  let mu = new Float32Array(0);
  return {
    id: `stack:${version}`,
    armIds: st.armIds,
    get arm() {
      return st.arm;
    },
    get logp() {
      return st.logp;
    },
    beginSession: (slot: number, key: number, sessionId: string) => st.begin(slot, key, sessionId),
    act(_states: Float32Array, n: number, ctx: PolicyContext): Float32Array {
      if (mu.length < n * K) {
        mu = new Float32Array(n * K);
        for (let s = 0; s < n; s++) mu.set(mu0, s * K);
      }
      const z = st.normals(n, K, ctx.active);
      const u = uniform ? st.uniforms(n, K, ctx.active) : undefined;
      const e = exploreRows(mu, K, st.sessionIds(n), exploration, z, version, u);
      st.record(e.policyIds, e.actionLogp);
      return e.alpha;
    },
  };
}
