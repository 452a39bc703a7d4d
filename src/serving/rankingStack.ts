/**
 * FusionScorer as the simulator's traffic server (issue 18 §2): a FusionPolicy whose every request goes
 * through FusionScorer.scoreSessions — the version CURRENT names, its scorer.onnx, its β and its
 * manifest's exploration, exactly as a ranking stack calls it — so that simulated logs are the logs the
 * product would write: α applied, `action_logp` (NaN = null for the control arm) and `policy_id`
 * `<arm>:<version>`. Only the standard normals z come from the simulator (one seeded stream per
 * session, so that a night's logs are reproducible); the arm comes from the session id's keyed hash.
 *
 * The simulator calls `refresh` (or the scorer's own CURRENT polling) between requests; a swap shows in
 * policy_id, which names the version that scored each request.
 */
import type { CandidateScores, FusionPolicy, PolicyContext } from '../sim/policy.ts';
import { Rng, STREAM } from '../sim/rng.ts';
import { exploreRows, type PublishedExploration } from './exploration.ts';
import type { FusionScorer } from './scorer.ts';

export interface RankingStackPolicy extends FusionPolicy {
  readonly armIds: string[];
  arm: Int32Array;
  logp: Float64Array;
}

export function rankingStackPolicy(scorer: FusionScorer, opts: { id?: string } = {}): RankingStackPolicy {
  const armIds: string[] = [];
  const armIndex = new Map<string, number>();
  let rngs: Rng[] = [];
  let ids: string[] = [];
  let normals = new Float32Array(0);
  const self: RankingStackPolicy = {
    id: opts.id ?? `stack:${scorer.name}`,
    armIds,
    arm: new Int32Array(0),
    logp: new Float64Array(0),
    beginSession(slot: number, key: number, sessionId: string) {
      ensure(slot + 1);
      rngs[slot].reseed(key, STREAM.policy);
      ids[slot] = sessionId;
    },
    act(): never {
      throw new Error(`${self.id}: a ranking stack ranks the candidates itself (scoreCandidates); the simulator calls act only without candidates`);
    },
    async scoreCandidates(states: Float32Array, taskScores: Float32Array, n: number, C: number, ctx: PolicyContext): Promise<CandidateScores> {
      ensure(n);
      const K = scorer.manifest.action.dim;
      if (normals.length < n * K) normals = new Float32Array(n * K);
      // K normals per slot and request whatever the arm: every session's stream stays aligned
      for (let s = 0; s < n; s++) {
        if (!ctx.active[s]) continue;
        const rng = rngs[s];
        for (let j = 0; j < K; j++) normals[s * K + j] = rng.normal();
      }
      const sessionIds = ids.slice(0, n).map((x, s) => x ?? `idle-slot-${s}`);
      const r = await scorer.scoreSessions(states.subarray(0, n * scorer.manifest.state.dim), taskScores.subarray(0, n * C * K), sessionIds, normals.subarray(0, n * K));
      record(self, r.policyIds, r.actionLogp, armIds, armIndex);
      return { alpha: r.fusionWeights, scores: r.scores };
    },
  };
  function ensure(n: number): void {
    if (self.arm.length >= n) return;
    grow(self, n);
    while (rngs.length < n) rngs.push(new Rng(0));
    ids = ids.concat(new Array<string>(n - ids.length));
  }
  return self;
}

/**
 * A ranking stack that still runs one constant α (what the users run before the first publish), with
 * the same exploration contract (exploreRows: keyed-hash arms, α = μ + σz, action_logp, policy_id
 * `<arm>:<version>`); it ranks with the world's β, as the stack that wrote the logs does.
 */
export function constantStackPolicy(alpha: ArrayLike<number>, exploration: PublishedExploration | null, version = 'production'): RankingStackPolicy {
  const K = alpha.length;
  const mu0 = Float32Array.from(alpha);
  const armIds: string[] = [];
  const armIndex = new Map<string, number>();
  let rngs: Rng[] = [];
  let ids: string[] = [];
  let mu = new Float32Array(0);
  let normals = new Float32Array(0);
  const self: RankingStackPolicy = {
    id: `stack:${version}`,
    armIds,
    arm: new Int32Array(0),
    logp: new Float64Array(0),
    beginSession(slot: number, key: number, sessionId: string) {
      ensure(slot + 1);
      rngs[slot].reseed(key, STREAM.policy);
      ids[slot] = sessionId;
    },
    act(_states: Float32Array, n: number, ctx: PolicyContext): Float32Array {
      ensure(n);
      if (mu.length < n * K) {
        mu = new Float32Array(n * K);
        for (let s = 0; s < n; s++) mu.set(mu0, s * K);
        normals = new Float32Array(n * K);
      }
      for (let s = 0; s < n; s++) {
        if (!ctx.active[s]) continue;
        for (let j = 0; j < K; j++) normals[s * K + j] = rngs[s].normal();
      }
      const e = exploreRows(mu, K, ids.slice(0, n).map((x, s) => x ?? `idle-slot-${s}`), exploration, normals, version);
      record(self, e.policyIds, e.actionLogp, armIds, armIndex);
      return e.alpha;
    },
  };
  function ensure(n: number): void {
    if (self.arm.length >= n) return;
    grow(self, n);
    while (rngs.length < n) rngs.push(new Rng(0));
    ids = ids.concat(new Array<string>(n - ids.length));
  }
  return self;
}

function grow(self: RankingStackPolicy, n: number): void {
  const arm = new Int32Array(n);
  arm.set(self.arm);
  const logp = new Float64Array(n);
  logp.set(self.logp);
  self.arm = arm;
  self.logp = logp;
}

/** Per slot: the policy_id's index in armIds (appended when new) and action_logp (null → NaN). */
function record(self: RankingStackPolicy, policyIds: string[], logp: (number | null)[], armIds: string[], armIndex: Map<string, number>): void {
  for (let s = 0; s < policyIds.length; s++) {
    const pid = policyIds[s];
    let a = armIndex.get(pid);
    if (a === undefined) {
      a = armIds.push(pid) - 1;
      armIndex.set(pid, a);
    }
    self.arm[s] = a;
    self.logp[s] = logp[s] ?? NaN;
  }
}
