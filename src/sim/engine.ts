/**
 * The session engine: runs many sessions in parallel slots, one request per slot per step, with
 * typed arrays throughout. README.md §1 has every equation this file implements.
 *
 * Common random numbers: session i of a run draws everything (user, start time, candidates, feedback,
 * leaving) from its own stream seeded by (seed, runTag, i), a fixed number of draws per request. Two
 * policies rolled out with the same seed meet the same users and the same uniforms; only what the
 * policy changes differs.
 */
import { GAMMA, NUM_TASKS, REWARD_WEIGHTS } from './config.ts';
import { CandidateSets } from './candidates.ts';
import { CONTEXT_OFFSET, HISTORY_EMA, HISTORY_INIT, HISTORY_OFFSET, ITEM_HISTORY_EMA, ITEM_HISTORY_OFFSET, PROFILE_DIM, STATE_DIM } from './features.ts';
import { ITEM_SIGNAL_DIM } from './itemSignals.ts';
import type { FusionPolicy, PolicyContext } from './policy.ts';
import { LOG_FINISH, responseLogits, sigmoid, SKIP_RATIO_MEAN } from './response.ts';
import { hash32, Rng, STREAM } from './rng.ts';
import { drawCdf, type World } from './world.ts';

const K = NUM_TASKS;
const DAY_MS = 86_400_000;

export interface RewardWeights {
  play_time_s: number;
  like: number;
  share: number;
  comment: number;
  follow: number;
}

/** Per-request hook (logs): called once the request's feedback is known, before the state moves on. */
export interface StepRecorder {
  onStep(e: Engine, slot: number): void;
}

export interface RolloutOptions {
  world: World;
  policy: FusionPolicy;
  /** number of sessions */
  sessions: number;
  /** drives everything about the sessions (not the world) */
  seed: number;
  /** separates runs of one seed, e.g. the day of a log (default 0: ground truth) */
  runTag?: number;
  /** epoch ms of 00:00 UTC of the day the sessions start in (default 0) */
  dayStartMs?: number;
  /** only users of this latent type (calibration of per-type policies) */
  userType?: number;
  recorder?: StepRecorder;
  rewardWeights?: RewardWeights;
  gamma?: number;
  /** parallel slots = the policy's batch (default config.session.slots, at most `sessions`) */
  slots?: number;
  /** session i's id as the logs carry it, given to FusionPolicy.beginSession (default: String(i)) */
  sessionId?: (i: number) => string;
}

/** Per-session outcomes of a rollout, indexed by session. */
export interface RolloutResult {
  sessions: number;
  seed: number;
  /** Σ_t γ^t r_t from the session start */
  discountedReturn: Float64Array;
  /** Σ_t r_t */
  return: Float64Array;
  /** Σ_t play_time_s (ADTime) */
  dwell: Float64Array;
  /** Σ_t (like + share + comment + follow) */
  interactions: Float64Array;
  /** requests (= views) of the session */
  length: Int32Array;
  user: Int32Array;
  userType: Int32Array;
  /** requests served in all (= Σ length) */
  steps: number;
}

export class Engine implements PolicyContext {
  readonly world: World;
  readonly slots: number;
  readonly nSessions: number;
  readonly seed: number;
  readonly runTag: number;
  private readonly sessionIdOf: (i: number) => string;
  readonly dayStartMs: number;
  private readonly policy: FusionPolicy;
  private readonly recorder: StepRecorder | undefined;
  private readonly filterType: number;
  private readonly T: number;
  private readonly w: RewardWeights;
  private readonly gamma: number;
  private readonly cands: CandidateSets;
  /** [slots × C] the candidates' scores of a policy that ranks them itself (scoreCandidates); null: rank by α */
  private scores: Float32Array | null = null;

  // per slot
  readonly active: Uint8Array;
  readonly step: Int32Array;
  readonly user: Int32Array;
  readonly userType: Int32Array;
  /** index of the session the slot runs */
  readonly session: Int32Array;
  /** [slots × STATE_DIM] the state the policy sees at the current request */
  readonly states: Float32Array;
  /** time of the current request, epoch ms */
  readonly tsMs: Float64Array;
  private readonly rng: Rng[];
  private readonly sat: Float64Array;
  private readonly fatigue: Float64Array;
  private readonly discount: Float64Array;
  /** [slots × T] recent exposure R to each topic */
  private readonly recency: Float32Array;

  // the request just served, per slot (what a recorder reads)
  /** α applied, [slots × k]: the policy's output of this step */
  alpha: Float32Array;
  readonly lastItem: Int32Array;
  /** index of the shown item among the slot's candidates (valid until the candidates move on) */
  readonly lastCandidate: Int32Array;
  readonly lastPlayTime: Float32Array;
  readonly lastRatio: Float32Array;
  readonly lastSkip: Uint8Array;
  readonly lastFinish: Uint8Array;
  /** [slots × 4] like, share, comment, follow */
  readonly lastInteract: Uint8Array;
  readonly lastReward: Float64Array;
  /** 1 when the session ends after the request just served */
  readonly lastDone: Uint8Array;

  readonly result: RolloutResult;
  private nextSession = 0;
  private running = 0;
  private readonly z = new Float64Array(6);

  constructor(o: RolloutOptions) {
    if (!Number.isInteger(o.sessions) || o.sessions < 1) throw new RangeError(`sessions must be a positive integer, got ${o.sessions}`);
    const world = (this.world = o.world);
    this.policy = o.policy;
    this.recorder = o.recorder;
    this.nSessions = o.sessions;
    this.seed = o.seed;
    this.runTag = o.runTag ?? 0;
    this.sessionIdOf = o.sessionId ?? String;
    this.dayStartMs = o.dayStartMs ?? 0;
    this.filterType = o.userType ?? -1;
    if (this.filterType >= world.nTypes) throw new RangeError(`userType ${this.filterType} is not a type of this world (0 … ${world.nTypes - 1})`);
    this.w = o.rewardWeights ?? REWARD_WEIGHTS;
    this.gamma = o.gamma ?? GAMMA;
    this.T = world.nTopics;
    const B = (this.slots = Math.max(1, Math.min(o.slots ?? world.config.session.slots, o.sessions)));
    this.cands = new CandidateSets(world, B, o.policy.scoreCandidates !== undefined);

    this.active = new Uint8Array(B);
    this.step = new Int32Array(B);
    this.user = new Int32Array(B);
    this.userType = new Int32Array(B);
    this.session = new Int32Array(B).fill(-1);
    this.states = new Float32Array(B * STATE_DIM);
    this.tsMs = new Float64Array(B);
    this.rng = Array.from({ length: B }, () => new Rng(0));
    this.sat = new Float64Array(B);
    this.fatigue = new Float64Array(B);
    this.discount = new Float64Array(B);
    this.recency = new Float32Array(B * this.T);
    this.alpha = new Float32Array(B * K);
    this.lastItem = new Int32Array(B);
    this.lastCandidate = new Int32Array(B);
    this.lastPlayTime = new Float32Array(B);
    this.lastRatio = new Float32Array(B);
    this.lastSkip = new Uint8Array(B);
    this.lastFinish = new Uint8Array(B);
    this.lastInteract = new Uint8Array(B * 4);
    this.lastReward = new Float64Array(B);
    this.lastDone = new Uint8Array(B);

    const N = o.sessions;
    this.result = {
      sessions: N,
      seed: o.seed,
      discountedReturn: new Float64Array(N),
      return: new Float64Array(N),
      dwell: new Float64Array(N),
      interactions: new Float64Array(N),
      length: new Int32Array(N),
      user: new Int32Array(N),
      userType: new Int32Array(N),
      steps: 0,
    };
  }

  /** The seed of session i's streams (environment and policy). */
  sessionKey(i: number): number {
    return hash32(this.seed, this.runTag, i);
  }

  async run(): Promise<RolloutResult> {
    const B = this.slots;
    for (let s = 0; s < B; s++) this.startNext(s);
    while (this.running > 0) {
      for (let s = 0; s < B; s++) if (this.active[s]) this.writeContext(s);
      if (this.cands.pred !== null) await this.scoreStep();
      else {
        const out = this.policy.act(this.states, B, this);
        const alpha = out instanceof Promise ? await out : out;
        if (alpha.length < B * K) throw new RangeError(`policy ${this.policy.id} returned ${alpha.length} weights for ${B} slots × ${K} tasks`);
        this.alpha = alpha;
      }
      for (let s = 0; s < B; s++) if (this.active[s]) this.serve(s);
    }
    return this.result;
  }

  /** A policy that ranks the candidates itself (a scorer.onnx): α and scores from the candidates' predictions o. */
  private async scoreStep(): Promise<void> {
    const B = this.slots;
    const C = this.cands.C;
    const out = this.policy.scoreCandidates!(this.states, this.cands.pred!, B, C, this);
    const r = out instanceof Promise ? await out : out;
    if (r.alpha.length < B * K || r.scores.length < B * C) {
      throw new RangeError(`policy ${this.policy.id} returned ${r.alpha.length} weights and ${r.scores.length} scores for ${B} slots × ${K} tasks, ${C} candidates`);
    }
    this.alpha = r.alpha;
    this.scores = r.scores;
  }

  /** Starts the run's next session in slot s, or retires the slot when none is left. */
  private startNext(s: number): void {
    if (this.nextSession >= this.nSessions) {
      if (this.active[s]) this.running--;
      this.active[s] = 0;
      return;
    }
    if (!this.active[s]) this.running++;
    this.active[s] = 1;
    const i = this.nextSession++;
    const key = this.sessionKey(i);
    const rng = this.rng[s];
    rng.reseed(key, STREAM.session);
    const world = this.world;
    // The user (∝ activity) and the start time (diurnal profile).
    let u = drawCdf(world.userActivityCdf, rng.uniform());
    if (this.filterType >= 0) {
      for (let tries = 0; world.userType[u] !== this.filterType; tries++) {
        if (tries > 1_000_000) throw new RangeError(`no user of type ${this.filterType} found`);
        u = drawCdf(world.userActivityCdf, rng.uniform());
      }
    }
    const hour = drawCdf(world.hourCdf, rng.uniform());
    this.tsMs[s] = this.dayStartMs + Math.floor((hour + rng.uniform()) * 3_600_000);
    this.session[s] = i;
    this.user[s] = u;
    const k = (this.userType[s] = world.userType[u]);
    this.step[s] = 0;
    this.sat[s] = world.config.world.dynamics.startSatSd * rng.normal();
    this.fatigue[s] = 0;
    this.discount[s] = 1;
    this.recency.fill(0, s * this.T, (s + 1) * this.T);
    this.result.user[i] = u;
    this.result.userType[i] = k;
    const o = s * STATE_DIM;
    this.states.set(world.userProfile.subarray(u * PROFILE_DIM, (u + 1) * PROFILE_DIM), o);
    for (let j = 0; j < HISTORY_INIT.length; j++) this.states[o + HISTORY_OFFSET + j] = HISTORY_INIT[j];
    // The item EMAs start at the catalog means of the signals (README §1.5).
    for (let j = 0; j < ITEM_SIGNAL_DIM; j++) this.states[o + ITEM_HISTORY_OFFSET + j] = world.itemSignalMean[j];
    this.cands.start(s, u, k, rng);
    this.policy.beginSession?.(s, key, this.sessionIdOf(i));
  }

  /** Position and time-of-day features of the current request (README §1.5). */
  private writeContext(s: number): void {
    const o = s * STATE_DIM + CONTEXT_OFFSET;
    const step = this.step[s];
    const st = this.states;
    st[o] = Math.min(step, 100) / 20;
    st[o + 1] = Math.log1p(step) / 3;
    const phase = ((((this.tsMs[s] % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS) * 2 * Math.PI;
    st[o + 2] = Math.sin(phase);
    st[o + 3] = Math.cos(phase);
  }

  /** δ = κ_S S − κ_F F − κ_R R[t]: how the session's state shifts engagement with an item of topic t. */
  private delta(s: number, topic: number): number {
    const dyn = this.world.config.world.dynamics;
    return dyn.satEffect * this.sat[s] - dyn.fatigueEffect * this.fatigue[s] - this.world.typeRepeatSens[this.userType[s]] * this.recency[s * this.T + topic];
  }

  /** Serves slot s's request with the α the policy gave: rank, show, sample the feedback, move on. */
  private serve(s: number): void {
    const world = this.world;
    const dyn = world.config.world.dynamics;
    const rng = this.rng[s];
    const k = this.userType[s];
    const u = this.user[s];
    const cands = this.cands;
    const j = this.scores === null ? cands.rank(s, this.alpha, s * K) : cands.rankByScores(s, this.scores);
    const cj = s * cands.C + j;
    const item = cands.item[cj];
    const predPT = cands.predPlayTime[cj];
    const topic = world.itemTopic[item];
    const z = this.z;
    responseLogits(world, u, k, item, this.delta(s, topic), z);

    // Feedback (README §1.3): a fixed number of draws per request keeps sessions aligned across policies.
    const uSkip = rng.uniform();
    const uRatio = rng.uniform();
    const uInt0 = rng.uniform();
    const uInt1 = rng.uniform();
    const uInt2 = rng.uniform();
    const uInt3 = rng.uniform();
    const uLeave = rng.uniform();
    const uGap = rng.uniformOpen();
    const skip = uSkip < sigmoid(z[0]);
    const ratio = skip ? 0.02 + 0.08 * uRatio : 0.1 + 0.9 * Math.pow(uRatio, Math.exp(-z[1]));
    const playTime = ratio * world.itemDuration[item];
    const finish = ratio >= 0.95;
    const i0 = !skip && uInt0 < sigmoid(z[2]) ? 1 : 0;
    const i1 = !skip && uInt1 < sigmoid(z[3]) ? 1 : 0;
    const i2 = !skip && uInt2 < sigmoid(z[4]) ? 1 : 0;
    const i3 = !skip && uInt3 < sigmoid(z[5]) ? 1 : 0;
    const nInt = i0 + i1 + i2 + i3;
    const w = this.w;
    const r = w.play_time_s * playTime + w.like * i0 + w.share * i1 + w.comment * i2 + w.follow * i3; // Eq. (2)

    // Session dynamics (README §1.6).
    const T = this.T;
    const rec = this.recency;
    const recBefore = rec[s * T + topic];
    const c = world.itemClickbait[item];
    const g =
      dyn.satRatio * (ratio - 0.5) +
      dyn.satFinish * (finish ? 1 : 0) +
      world.typeInteractSat[k] * nInt +
      dyn.satQuality * world.itemQuality[item] -
      world.typeClickbaitHurt[k] * c * (skip ? 0 : 1) -
      dyn.satSkip * (skip ? 1 : 0);
    const sat = (this.sat[s] = dyn.satDecay * this.sat[s] + g);
    const fat = (this.fatigue[s] += dyn.fatigueBase + dyn.fatigueRepeat * recBefore + (world.typeFatigueTime[k] * playTime) / 60);
    for (let t = s * T, e = t + T; t < e; t++) rec[t] *= dyn.recencyDecay;
    rec[s * T + topic] += 1;
    const pLeave = sigmoid(world.userLeaveBias[u] + dyn.leaveFatigue * fat - dyn.leaveSat * sat + dyn.leaveSkip * (skip ? 1 : 0));
    const step = this.step[s];
    const done = uLeave < pLeave || step + 1 >= world.config.session.maxSteps;

    const i = this.session[s];
    const res = this.result;
    res.return[i] += r;
    res.discountedReturn[i] += this.discount[s] * r;
    res.dwell[i] += playTime;
    res.interactions[i] += nInt;
    res.length[i] = step + 1;
    res.steps++;
    this.discount[s] *= this.gamma;

    this.lastItem[s] = item;
    this.lastCandidate[s] = j;
    this.lastPlayTime[s] = playTime;
    this.lastRatio[s] = ratio;
    this.lastSkip[s] = skip ? 1 : 0;
    this.lastFinish[s] = finish ? 1 : 0;
    this.lastInteract[s * 4] = i0;
    this.lastInteract[s * 4 + 1] = i1;
    this.lastInteract[s * 4 + 2] = i2;
    this.lastInteract[s * 4 + 3] = i3;
    this.lastReward[s] = r;
    this.lastDone[s] = done ? 1 : 0;
    this.recorder?.onStep(this, s);

    if (done) {
      this.startNext(s);
      return;
    }
    cands.advance(s, j, rng);
    // History features (README §1.5) for the next request.
    const st = this.states;
    const h = s * STATE_DIM + HISTORY_OFFSET;
    const rho = HISTORY_EMA;
    const rho1 = 1 - rho;
    st[h] = rho * st[h] + rho1 * ratio;
    st[h + 1] = rho * st[h + 1] + (rho1 * Math.log1p(playTime)) / 4;
    st[h + 2] = rho * st[h + 2] + rho1 * (skip ? 1 : 0);
    st[h + 3] = rho * st[h + 3] + rho1 * (nInt > 0 ? 1 : 0);
    st[h + 4] = rho * st[h + 4] + rho1 * (finish ? 1 : 0);
    st[h + 5] = rho * st[h + 5] + rho1 * world.itemLogDur[item];
    st[h + 6] = recBefore;
    st[h + 7] = rho * st[h + 7] + rho1 * (predPT - (1 - Math.exp(-playTime / world.config.world.prediction.playTimeScaleS)));
    st[h + 8] = skip ? 1 : 0;
    st[h + 9] = ratio;
    // Decaying averages of what the stack logged about the shown items (README §1.5, ITEM_HISTORY_NAMES).
    const ih = s * STATE_DIM + ITEM_HISTORY_OFFSET;
    const sig = world.itemSignal;
    const is = item * ITEM_SIGNAL_DIM;
    const ri = ITEM_HISTORY_EMA;
    const ri1 = 1 - ri;
    st[ih] = ri * st[ih] + ri1 * sig[is];
    st[ih + 1] = ri * st[ih + 1] + ri1 * sig[is + 1];
    st[ih + 2] = ri * st[ih + 2] + ri1 * sig[is + 2];
    st[ih + 3] = ri * st[ih + 3] + ri1 * sig[is + 3];
    this.step[s] = step + 1;
    // The next request comes when the view ends, plus an overhead: gap = play + g0 + Exp(mean 3 s).
    this.tsMs[s] += Math.round((playTime + world.config.session.gapOverheadS - 3 * Math.log(uGap)) * 1000);
  }

  /**
   * The user's latent satisfaction S and fatigue F in slot s (README §1.6), after the request just
   * served: what no log carries. For recorders and analysis (the OPE observability study).
   */
  latent(s: number): { satisfaction: number; fatigue: number } {
    return { satisfaction: this.sat[s], fatigue: this.fatigue[s] };
  }

  /**
   * The ranking models' prediction o (k values) for the item just shown in slot s: what a serving
   * stack would have logged beside it. For recorders and analysis (calibration tests).
   */
  shownPrediction(s: number, out: Float64Array): void {
    const cands = this.cands;
    const q = (s * cands.C + this.lastCandidate[s]) * K;
    const beta = this.world.config.session.beta;
    for (let t = 0; t < K; t++) out[t] = Math.exp(cands.score[q + t]) - beta[t];
  }

  /**
   * The fused score f(o|α) = Σ_i α_i log(o_i + β_i) (Eq. 1) of the item just shown in slot s, with the α
   * applied and the stack's β (config.session.beta), as the stack logs it: the score the α path ranked
   * by (a scoreCandidates policy ranks by its own scores; this is still Eq. 1 of its logged α).
   */
  shownFusedScore(s: number): number {
    const cands = this.cands;
    const q = (s * cands.C + this.lastCandidate[s]) * K;
    const a = this.alpha;
    let f = 0;
    for (let t = 0; t < K; t++) f += a[s * K + t] * cands.score[q + t];
    return f;
  }

  // PolicyContext

  oneStepValue(alpha: Float32Array, out: Float64Array, continuation = 0): void {
    const world = this.world;
    const dyn = world.config.world.dynamics;
    const z = this.z;
    const w = this.w;
    const cands = this.cands;
    for (let s = 0; s < this.slots; s++) {
      if (!this.active[s]) {
        out[s] = 0;
        continue;
      }
      const item = cands.item[s * cands.C + cands.rank(s, alpha, s * K)];
      const k = this.userType[s];
      const topic = world.itemTopic[item];
      responseLogits(world, this.user[s], k, item, this.delta(s, topic), z);
      const ps = sigmoid(z[0]);
      const a = Math.exp(z[1]);
      const view = 1 - ps;
      const eRatio = ps * SKIP_RATIO_MEAN + view * (0.1 + (0.9 * a) / (1 + a));
      const ept = world.itemDuration[item] * eRatio;
      const p0 = view * sigmoid(z[2]);
      const p1 = view * sigmoid(z[3]);
      const p2 = view * sigmoid(z[4]);
      const p3 = view * sigmoid(z[5]);
      const r = w.play_time_s * ept + w.like * p0 + w.share * p1 + w.comment * p2 + w.follow * p3;
      if (continuation === 0) {
        out[s] = r;
        continue;
      }
      // Plug-in expectation of the next satisfaction and fatigue (README §1.6), then P(the session goes on).
      const g =
        dyn.satRatio * (eRatio - 0.5) +
        dyn.satFinish * view * (1 - Math.exp(a * LOG_FINISH)) +
        world.typeInteractSat[k] * (p0 + p1 + p2 + p3) +
        dyn.satQuality * world.itemQuality[item] -
        world.typeClickbaitHurt[k] * world.itemClickbait[item] * view -
        dyn.satSkip * ps;
      const sat = dyn.satDecay * this.sat[s] + g;
      const fat = this.fatigue[s] + dyn.fatigueBase + dyn.fatigueRepeat * this.recency[s * this.T + topic] + (world.typeFatigueTime[k] * ept) / 60;
      const pStay = 1 - sigmoid(world.userLeaveBias[this.user[s]] + dyn.leaveFatigue * fat - dyn.leaveSat * sat + dyn.leaveSkip * ps);
      out[s] = r + this.gamma * continuation * pStay;
    }
  }
}

/** Rolls `policy` out over `sessions` sessions and returns their outcomes. */
export async function rollout(o: RolloutOptions): Promise<RolloutResult> {
  return new Engine(o).run();
}
