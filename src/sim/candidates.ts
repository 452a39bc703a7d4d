/**
 * Candidate sets and the ranking models' predictions (README §1.2, §1.4). Each session holds C
 * candidates; after each request the shown item and (refresh − 1) random others are replaced by
 * fresh items from retrieval, so consecutive requests share most of their candidates, as in a feed.
 * A candidate's predictions are stored as log(o + β), so ranking a request costs k multiply-adds per
 * candidate (Eq. 1).
 */
import { NUM_TASKS } from './config.ts';
import { LOG_FINISH, SKIP_RATIO_MEAN } from './response.ts';
import { fastExpNeg, fastLog, fastSigmoid } from './tables.ts';
import type { Rng } from './rng.ts';
import { ITEM_REC, ITEM_REC_STRIDE, NOISE_TABLE_SIZE, type World } from './world.ts';

const K = NUM_TASKS;
const NOISE_MASK = NOISE_TABLE_SIZE - 1;

export class CandidateSets {
  /** candidates per request */
  readonly C: number;
  /** fresh candidates per request (the shown one's replacement included) */
  readonly refresh: number;
  /** [slots × C] item ids */
  readonly item: Int32Array;
  /** [slots × C × k] log(o_i + β_i) */
  readonly score: Float32Array;
  /** [slots × C] the predicted play_time task o_8 (the state's clickbait signal needs it) */
  readonly predPlayTime: Float32Array;
  /**
   * [slots × C × k] the predictions o themselves, as exp(score) − β (what Engine.shownPrediction reports,
   * and a stack would log), for policies that score the candidates themselves (a scorer.onnx); null
   * unless asked for: the α path never reads them
   */
  readonly pred: Float32Array | null;
  private readonly world: World;
  private readonly beta: Float64Array;
  private readonly maxShown: number;
  private readonly shown: Int32Array;
  private readonly nShown: Int32Array;
  private readonly user: Int32Array;
  private readonly type: Int32Array;
  private readonly noiseOff: Int32Array;
  private readonly drawn: Int32Array;
  private readonly p = new Float64Array(K);
  private readonly pos: Int32Array;
  /**
   * Item records are loaded in a loop of their own before they are predicted: the loads are
   * independent, so the CPU overlaps their cache misses, which one prediction at a time would pay in
   * series. The sum goes here so that the loads are not optimised away.
   */
  private sink = 0;

  constructor(world: World, slots: number, keepPredictions = false) {
    const sc = world.config.session;
    this.world = world;
    this.C = sc.candidates;
    this.refresh = sc.refresh;
    this.beta = Float64Array.from(sc.beta);
    this.maxShown = sc.maxSteps;
    this.item = new Int32Array(slots * this.C);
    this.score = new Float32Array(slots * this.C * K);
    this.predPlayTime = new Float32Array(slots * this.C);
    this.pred = keepPredictions ? new Float32Array(slots * this.C * K) : null;
    this.shown = new Int32Array(slots * this.maxShown);
    this.nShown = new Int32Array(slots);
    this.user = new Int32Array(slots);
    this.type = new Int32Array(slots);
    this.noiseOff = new Int32Array(slots);
    this.drawn = new Int32Array(slots);
    this.pos = new Int32Array(this.refresh);
  }

  /** The first request's C candidates of a session of user u (type k). */
  start(s: number, u: number, k: number, rng: Rng): void {
    this.user[s] = u;
    this.type[s] = k;
    this.nShown[s] = 0;
    this.drawn[s] = 0;
    this.noiseOff[s] = rng.u32() & NOISE_MASK;
    const base = s * this.C;
    for (let j = 0; j < this.C; j++) this.item[base + j] = this.draw(s, rng);
    let acc = 0; // load the item records first: independent loads overlap their cache misses
    for (let j = 0; j < this.C; j++) acc += this.world.itemRec[this.item[base + j] * ITEM_REC_STRIDE];
    this.sink += acc;
    for (let j = 0; j < this.C; j++) this.predict(s, base + j, this.item[base + j]);
  }

  /** After candidate j was shown: it and (refresh − 1) random others give way to fresh items. */
  advance(s: number, j: number, rng: Rng): void {
    const n = this.nShown[s];
    if (n < this.maxShown) {
      this.shown[s * this.maxShown + n] = this.item[s * this.C + j];
      this.nShown[s] = n + 1;
    }
    const base = s * this.C;
    const pos = this.pos;
    pos[0] = j;
    this.item[base + j] = this.draw(s, rng);
    for (let r = 1; r < this.refresh; r++) {
      const jr = (pos[r] = Math.floor(rng.uniform() * this.C));
      this.item[base + jr] = this.draw(s, rng);
    }
    let acc = 0; // as in start()
    for (let r = 0; r < this.refresh; r++) acc += this.world.itemRec[this.item[base + pos[r]] * ITEM_REC_STRIDE];
    this.sink += acc;
    for (let r = 0; r < this.refresh; r++) this.predict(s, base + pos[r], this.item[base + pos[r]]);
  }

  /** Eq. (1): the candidate with the highest f(o|α) = Σ_i α_i log(o_i + β_i). */
  rank(s: number, alpha: Float32Array, ao: number): number {
    const sc = this.score;
    const a0 = alpha[ao], a1 = alpha[ao + 1], a2 = alpha[ao + 2], a3 = alpha[ao + 3];
    const a4 = alpha[ao + 4], a5 = alpha[ao + 5], a6 = alpha[ao + 6], a7 = alpha[ao + 7];
    const C = this.C;
    let q = s * C * K;
    let best = 0;
    let bestScore = -Infinity;
    for (let j = 0; j < C; j++, q += K) {
      const f = a0 * sc[q] + a1 * sc[q + 1] + a2 * sc[q + 2] + a3 * sc[q + 3] + a4 * sc[q + 4] + a5 * sc[q + 5] + a6 * sc[q + 6] + a7 * sc[q + 7];
      if (f > bestScore) {
        bestScore = f;
        best = j;
      }
    }
    return best;
  }

  /** The candidate with the highest of the policy's own scores ([slots × C]); the first on ties, as rank(). */
  rankByScores(s: number, scores: Float32Array): number {
    const C = this.C;
    let q = s * C;
    let best = 0;
    let bestScore = -Infinity;
    for (let j = 0; j < C; j++, q++) {
      const f = scores[q];
      if (f > bestScore) {
        bestScore = f;
        best = j;
      }
    }
    return best;
  }

  /** A fresh item from retrieval, not shown before in the session. Two uniforms per call. */
  private draw(s: number, rng: Rng): number {
    const world = this.world;
    const u = this.user[s];
    const T = world.nTopics;
    const retrieval = world.config.session.retrievalInterest;
    const ur = rng.uniform();
    const uv = rng.uniform();
    // By the user's topic interests (a list of the topic's items), or uniformly from the catalog.
    let fromTopic = false;
    let a = 0;
    let n = world.nItems;
    if (ur < retrieval) {
      const x = (ur / retrieval) * T; // topic ~ θ_u by the alias method
      const j = Math.min(Math.floor(x), T - 1);
      const t = x - j < world.userTopicAliasProb[u * T + j] ? j : world.userTopicAlias[u * T + j];
      const na = world.topicStart[t + 1] - world.topicStart[t];
      if (na > 0) {
        fromTopic = true;
        a = world.topicStart[t];
        n = na;
      }
    }
    // A feed does not show an item twice in a session: step to the next item of the same list.
    let off = Math.floor(uv * n);
    let item = fromTopic ? world.topicItems[a + off] : off;
    for (let tries = 0; tries < n && this.wasShown(s, item); tries++) {
      off = off + 1 === n ? 0 : off + 1;
      item = fromTopic ? world.topicItems[a + off] : off;
    }
    return item;
  }

  private wasShown(s: number, item: number): boolean {
    const base = s * this.maxShown;
    for (let i = base, e = base + this.nShown[s]; i < e; i++) if (this.shown[i] === item) return true;
    return false;
  }

  /**
   * The true task probabilities at a neutral session state (δ = 0, README §1.3), seen through the
   * ranking models' error (README §1.4): o = p m / (1 − p + p m), i.e. logit o = logit p + ε.
   */
  private predict(s: number, c: number, item: number): void {
    const world = this.world;
    const wc = world.config.world;
    const u = this.user[s];
    const k = this.type[s];
    const rec = world.itemRec;
    const r = item * ITEM_REC_STRIDE;
    const A = wc.interestScale * world.userInterest[u * world.nTopics + rec[r + ITEM_REC.topic]] + wc.qualityEffect * rec[r + ITEM_REC.quality];
    const ell = rec[r + ITEM_REC.logDur];
    const cb = rec[r + ITEM_REC.clickbait];
    const lure = world.typeLure[k];
    const ps = fastSigmoid(world.userSkipBias[u] - A + world.typeSkipDurationSens[k] * ell - 0.5 * lure * cb);
    const a = Math.exp(world.userPlayBias[u] + 0.6 * A - world.typeDurationSens[k] * ell + lure * cb);
    const view = 1 - ps;
    const tr = r + ITEM_REC.traits;
    const ib = u * 4;
    const Ai = 0.6 * A - 1.5 * cb;
    const p = this.p;
    const bias = world.userInteractBias;
    const lpl = rec[r + ITEM_REC.longPlayLog];
    p[0] = view * (1 - fastExpNeg(a * lpl)); // lpl = −∞: always long (e^−∞ = 0)
    p[1] = view * (1 - fastExpNeg(a * LOG_FINISH));
    p[2] = view * fastSigmoid(Ai + bias[ib] + rec[tr]);
    p[3] = view * fastSigmoid(Ai + bias[ib + 1] + rec[tr + 1]);
    p[4] = view * fastSigmoid(Ai + bias[ib + 2] + rec[tr + 2]);
    p[5] = view * fastSigmoid(Ai + bias[ib + 3] + rec[tr + 3]);
    p[6] = view;
    const ept = rec[r + ITEM_REC.duration] * (ps * SKIP_RATIO_MEAN + view * (0.1 + (0.9 * a) / (1 + a)));
    p[7] = 1 - fastExpNeg(-ept / wc.prediction.playTimeScaleS);
    const pairMul = world.pairErrMul;
    const beta = this.beta;
    const score = this.score;
    const pred = this.pred;
    const eo = r + ITEM_REC.errMul;
    const so = c * K;
    const no = this.noiseOff[s] + this.drawn[s]++ * K;
    for (let t = 0; t < K; t++) {
      const pt = p[t] < 1e-6 ? 1e-6 : p[t] > 1 - 1e-6 ? 1 - 1e-6 : p[t];
      const m = rec[eo + t] * pairMul[(no + t) & NOISE_MASK];
      const o = (pt * m) / (1 - pt + pt * m);
      score[so + t] = fastLog(o + beta[t]);
      // o as the table holds it (exact o would rank differently from the α path by the table's error)
      if (pred !== null) pred[so + t] = Math.max(0, Math.exp(score[so + t]) - beta[t]);
      if (t === 7) this.predPlayTime[c] = o;
    }
  }
}
