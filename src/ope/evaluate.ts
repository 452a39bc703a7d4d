/**
 * Off-policy evaluation of several policies on one evaluation split: the conservative FQE estimate of
 * each (Algorithm 2, Eq. 10) with session-bootstrap intervals, paired lifts over the behavior policy
 * (and over the live model when given), per-response values, importance-sampling estimates when the
 * log carries action_logp, the out-of-distribution share and the action distributions — everything
 * ope-report.json holds. Pure computation: the CLI reads the data and writes the files.
 */
import type { TrajectoryMetadata } from '../data/index.ts';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { bootstrapInterval, chooseStarts, meanInterval, mean, resampleCounts, resampleRows, resampleSeed } from './bootstrap.ts';
import { OpeConfigSchema, type OpeConfig, type OpeConfigInput } from './config.ts';
import { discountedReturns, opeDataOptions, prepareOpeData, sessionStarts, type OpeData } from './data.ts';
import type { FqeFit } from './fqe.ts';
import { chooseWorkers, inlineFitPool, workerFitPool } from './fitPool.ts';
import { kernelBandwidth, kernelLogDensity, weightedEstimates } from './importance.ts';
import { buildNeighbourhoods, buildNeighbourhoodsAsync, histogramEdges, oodSummary, summarizeActions, supportWeights, type Neighbourhoods } from './ood.ts';
import { behaviorPolicy, policyActions, type EvalPolicy, type PolicyActions } from './policies.ts';
import { assess, policyFlags } from './assess.ts';
import { controlGroups } from './control.ts';
import { pairwiseComparisons, tieAwareRanks } from './ranking.ts';
import { initBackend, Rng } from './rl.ts';
import { nativeKnn } from './gram.ts';
import { phaseClock } from '../io/phases.ts';
import { OPE_REPORT_FORMAT, type OpePolicyResult, type OpeReport } from './schemas.ts';

export interface EvaluateOptions {
  /** the evaluation split (readTrajectories(dir, 'test').batch) */
  batch: TransitionBatch;
  /** its metadata.json: train statistics, window, names, reward weights (optional for tests) */
  metadata?: TrajectoryMetadata | null;
  /** shown in the report */
  dataDir?: string | null;
  policies: EvalPolicy[];
  /** the live model: evaluated too, and every policy is compared with it */
  baseline?: EvalPolicy | null;
  config?: OpeConfigInput;
  /** one line per stage (the CLI prints them) */
  onProgress?: (line: string) => void;
}

/** Everything one policy needs from the full-data fit and the B refits. */
interface Evaluated {
  policy: EvalPolicy;
  acts: PolicyActions;
  fit: FqeFit;
  /** per resample b: V̂ per head */
  replicates: number[][];
  importance: OpePolicyResult['importance'];
  importanceNote: string | null;
}

export async function evaluatePolicies(o: EvaluateOptions): Promise<OpeReport> {
  const t0 = performance.now();
  const cfg: OpeConfig = OpeConfigSchema.parse(o.config ?? {});
  const say = o.onProgress ?? (() => {});
  if (o.policies.length === 0) throw new RangeError('evaluatePolicies: give at least one policy');
  const backend = await initBackend(cfg.backend, { threads: cfg.threads });
  say(`backend: ${backend.detail}`);
  const md = o.metadata ?? null;
  // Preparing the test split is minutes of work at the paper's scale: every phase says what it does.
  const phase = phaseClock(say);
  const d = prepareOpeData(o.batch, opeDataOptions(cfg.fqe, md));
  phase(`prepared ${d.n} test transitions`);
  const rng = new Rng(cfg.fqe.seed);
  const starts = chooseStarts(sessionStarts(d), cfg.fqe.initialStates, rng);
  const resamples = Array.from({ length: cfg.bootstrap }, (_, i) => {
    const r = new Rng(resampleSeed(cfg.fqe.seed, i + 1));
    const counts = resampleCounts(d.sessions, r);
    const rows = resampleRows(d, counts);
    return { counts, pool: rows.pool, starts: chooseStarts(rows.starts, cfg.fqe.initialStates, r) };
  });
  phase(`drew ${cfg.bootstrap} bootstrap resamples of the sessions`);
  // the exact neighbour search, through BLAS when the native addon loads (src/ope/neighbours.ts)
  const knn = nativeKnn(cfg.threads);
  const searchOptions = (what: string, states: number, neighbours: number, reference: number) =>
    ({ states, neighbours, reference, quantile: cfg.oodQuantile, seed: cfg.fqe.seed, knn: knn.kernels, onProgress: phase.progress(what) });
  const nb = buildNeighbourhoods(d, searchOptions('out-of-distribution neighbourhoods', cfg.oodStates, cfg.oodNeighbours, cfg.oodReference));
  const searchMethod = knn.kernels ? 'BLAS' : `exact scalar scan: ${knn.reason}`;
  const logpNote = importanceUnavailable(o.batch);
  const bandwidth = kernelBandwidth(md?.action_stats.std ?? stdOf(o.batch.action, o.batch.actionDim), d.n, cfg.isBandwidth);
  say(`data: ${d.sessions} sessions, ${d.n} transitions, ${starts.length} initial states; ${cfg.bootstrap} bootstrap refits of ${cfg.bootstrapIterations ?? cfg.fqe.iterations} steps per policy`);

  const evaluateOne = async (policy: EvalPolicy, support: Promise<Neighbourhoods | null>): Promise<Evaluated> => {
    const acts = await policyActions(policy, d, cfg.fqe.actionSamples);
    const withIs = policy.kind !== 'behavior' && logpNote === null;
    const t = performance.now();
    // the behavior policy's penalty has no gradient (π_e(s) = a): no weights needed, so its fits start
    // while this thread still searches the neighbourhoods the other policies' weights come from
    const supportNb = policy.kind !== 'behavior' ? await support : null;
    const penaltyWeights = supportNb ? supportWeights(d, supportNb, acts.pi, acts.samples, cfg.fqe.supportRamp, cfg.fqe.supportFloor) : null;
    if (penaltyWeights) say(`${policy.name}: penalty weight mean ${(penaltyWeights.reduce((x, y) => x + y, 0) / penaltyWeights.length).toFixed(3)}, zero on ${((100 * penaltyWeights.filter((x) => x === 0).length) / penaltyWeights.length).toFixed(1)}% of rows`);
    const fit = await pool.fit(acts, { cfg: cfg.fqe, starts, tables: true, keepWeights: cfg.bootstrapWarmStart, penaltyWeights });
    fitDone();
    say(`${policy.name}: V̂ ${fit.value[0].toPrecision(5)} (${fit.iterations} steps, ${fit.seconds.toFixed(1)} s)`);
    const logw = withIs ? logRatios(d, acts, bandwidth) : null;
    // the B refits, in parallel where the pool has workers; collected in resample order
    let done = 0;
    const refits = await Promise.all(
      resamples.map(async (r, b) => {
        const f = await pool.fit(acts, {
          cfg: cfg.fqe,
          starts: r.starts,
          pool: r.pool,
          iterations: cfg.bootstrapIterations ?? cfg.fqe.iterations,
          seed: resampleSeed(cfg.fqe.seed ^ 0x5eed, b + 1),
          tables: withIs,
          curves: false,
          init: fit.weights,
          penaltyWeights,
        });
        done++;
        fitDone();
        if (done % 5 === 0 || done === resamples.length) say(`${policy.name}: bootstrap ${done}/${resamples.length} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
        // the refit's row tables serve its importance-sampling replicate, then go
        const w = logw ? weightedEstimates(d, o.batch.reward, logw, { gamma: cfg.fqe.gamma, horizon: cfg.isHorizon, counts: r.counts, q: { qData: f.qData!, qPi: f.qPi! } }) : null;
        return { value: f.value, is: w ? [w.pdwis, w.wdr!] : null };
      }),
    );
    pool.release(acts);
    const replicates: number[][] = refits.map((f) => f.value);
    const isReps: number[][] = refits.flatMap((f) => (f.is ? [f.is] : []));
    let importance: OpePolicyResult['importance'] = null;
    if (logw) {
      const w = weightedEstimates(d, o.batch.reward, logw, { gamma: cfg.fqe.gamma, horizon: cfg.isHorizon, q: { qData: fit.qData!, qPi: fit.qPi! } });
      const est = (point: number, k: number) => ({ mean: point, ci95: bootstrapInterval(point, isReps.map((x) => x[k])).ci95 });
      importance = { pdwis: est(w.pdwis, 0), wdr: est(w.wdr!, 1), bandwidth, horizon: cfg.isHorizon, ess: w.ess, observed: w.observed };
    }
    const importanceNote = policy.kind === 'behavior' ? 'the behavior policy\'s importance weights are all 1: its estimate is the empirical return' : logpNote;
    return { policy, acts, fit, replicates, importance, importanceNote };
  };

  // The behavior policy is always evaluated (every lift refers to it), first, and only once.
  // Every policy at once: their fits share the pool (one per core), so the cores stay busy while one
  // policy waits for its full-data fit before its refits can start.
  const fits = (o.policies.filter((p) => p.kind !== 'behavior').length + 1 + (o.baseline && !o.policies.includes(o.baseline) ? 1 : 0)) * (1 + cfg.bootstrap);
  const workers = chooseWorkers(cfg.workers, d.n, fits);
  // every fit of every policy, with an ETA: at the paper's scale they are minutes
  const fitProgress = phase.progress(`FQE fits (${fits})`);
  let fitsDone = 0;
  const fitDone = () => fitProgress(++fitsDone / fits);
  let pool = inlineFitPool(d);
  if (workers > 1) {
    try {
      pool = await workerFitPool(d, workers, backend.name, cfg.threads);
      phase(`started ${workers} fit workers`);
    } catch (err) {
      // the same numbers come out of this thread, only later
      say(`fit workers could not start (${(err as Error).message.split('\n')[0]}): fitting in this thread`);
    }
  }
  let behavior!: Evaluated;
  const results: Evaluated[] = [];
  let baselineEval: Evaluated | null = null;
  try {
    // fqe.penaltySupport: every row's neighbourhood (computed once, shared by every policy and refit),
    // searched on this thread once the behavior policy's fit is on its way (the search yields between blocks)
    const support: Promise<Neighbourhoods | null> =
      cfg.fqe.penaltySupport === 'nearest'
        ? (async () => {
            // one core stays with the search (it is on every other policy's path); the behavior fits take the rest
            pool.setMaxActive(workers - 1);
            await new Promise<void>((resolve) => setImmediate(resolve));
            try {
              const found = await buildNeighbourhoodsAsync(d, searchOptions('support neighbourhoods of every row', d.n, cfg.fqe.supportNeighbours, cfg.fqe.supportReference));
              phase(`found the logged neighbours (${searchMethod})`);
              return found;
            } finally {
              pool.setMaxActive(workers);
            }
          })()
        : Promise.resolve(null);
    const behaviorRun = evaluateOne(o.policies.find((p) => p.kind === 'behavior') ?? behaviorPolicy(), support);
    const runs = o.policies.map((p) => (p.kind === 'behavior' ? behaviorRun : evaluateOne(p, support)));
    const baselineRun = o.baseline && !o.policies.includes(o.baseline) ? evaluateOne(o.baseline, support) : null;
    const settled = await Promise.allSettled([support, behaviorRun, ...runs, ...(baselineRun ? [baselineRun] : [])]);
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    behavior = await behaviorRun;
    for (const r of runs) results.push(await r);
    baselineEval = baselineRun ? await baselineRun : null;
  } finally {
    await pool.close();
  }
  // The live model may also be one of the policies (so that tools reading only `policies`, such as the
  // export gate, find it): evaluated once.
  const baseline = o.baseline ? (results.find((r) => r.policy === o.baseline) ?? baselineEval) : null;

  // Shared histogram edges: logged actions and every evaluated policy's.
  const A = d.actionDim;
  const edges = histogramEdges([o.batch.action, ...results.map((r) => r.acts.raw), ...(baseline ? [baseline.acts.raw] : [])], A, cfg.histogramBins);
  const weights = md?.reward_weights ?? {};
  const behaviorIs = weightedEstimates(d, o.batch.reward, new Float64Array(d.n), { gamma: cfg.fqe.gamma, horizon: cfg.isHorizon }).pdwis;
  const toResult = (e: Evaluated): OpePolicyResult => policyResult(e, { d, cfg, nb, edges, weights, behavior, baseline, behaviorIs });

  const empAll = discountedReturns(d, o.batch.reward, cfg.fqe.gamma);
  const complete = Array.from({ length: d.sessions }, (_, j) => j).filter((j) => !d.sessionCut[j] && d.ptr[j + 1] > d.ptr[j]);
  const empComplete = complete.map((j) => empAll[j]);
  const vComplete = mean(complete.map((j) => behavior.fit.qPi![d.order[d.ptr[j]]]));
  const ec = meanInterval(empComplete);
  const gap = (vComplete - ec.mean) / Math.abs(ec.mean);
  const half = (ec.ci95[1] - ec.ci95[0]) / 2;
  const ok = Math.abs(vComplete - ec.mean) <= half + 0.1 * Math.abs(ec.mean);
  const bRes = toResult(behavior);
  const policies = results.map((r) => (r === behavior ? bRes : toResult(r)));
  let baselineRes: OpePolicyResult | null = null;
  const toResultOnce = (): OpePolicyResult => (baselineRes ??= toResult(baseline!));
  // The order the log can vouch for: every pair of reported policies (the live model included), paired.
  const ranked = baseline && !results.includes(baseline) ? [...policies, toResultOnce()] : policies;
  const rankInputs = ranked.map((p) => ({ name: p.name, v_hat: p.v_hat, replicates: p.bootstrap.values }));
  const pairs = pairwiseComparisons(rankInputs);
  const ts = o.batch.requestTs;
  let [first, last] = [Infinity, -Infinity];
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < first) first = ts[i];
    if (ts[i] > last) last = ts[i];
  }
  return {
    format: OPE_REPORT_FORMAT,
    created_at: new Date().toISOString(),
    data: {
      dir: o.dataDir ?? null,
      split: 'test',
      window: md?.window ?? null,
      first_request_ms: Number.isFinite(first) ? first : null,
      last_request_ms: Number.isFinite(last) ? last : null,
      sessions: d.sessions,
      transitions: d.n,
      terminal_transitions: count(o.batch.done),
      truncated_transitions: count(o.batch.truncated),
      initial_states: starts.length,
      state_dim: d.stateDim,
      action_dim: A,
      action_names: md?.action_names ?? Array.from({ length: A }, (_, j) => `a${j}`),
      reward_weights: weights,
      has_action_logp: logpNote === null,
    },
    config: cfg,
    backend: backend.detail,
    behavior: {
      v_hat: bRes.v_hat,
      ci95: bRes.ci95,
      empirical_all: { ...meanInterval(empAll), sessions: d.sessions },
      empirical_complete: { ...ec, sessions: complete.length },
      v_hat_complete: vComplete,
      relative_gap: gap,
      check: ok ? 'ok' : 'warn',
      note: ok
        ? `FQE of the logged actions is within ${(100 * Math.abs(gap)).toFixed(1)}% of the empirical discounted return of the uncut sessions`
        : `FQE of the logged actions is ${(100 * gap).toFixed(1)}% off the empirical discounted return of the uncut sessions (beyond its 95% interval + 10%): check fqe.iterations and the data before trusting the other estimates`,
    },
    logged_actions: summarizeActions(o.batch.action, A, edges),
    action_histogram_edges: edges,
    policies,
    baseline: baseline ? (results.includes(baseline) ? policies[results.indexOf(baseline)] : toResultOnce()) : null,
    ranking: { ranks: tieAwareRanks(rankInputs, pairs), pairs },
    control_groups: controlGroups(d, o.batch, cfg.fqe.gamma),
    flags: ok ? [] : [{ code: 'behavior_check' as const, message: `FQE of the logged actions ${vComplete.toPrecision(4)} vs empirical ${ec.mean.toPrecision(4)} (${(100 * gap).toFixed(1)}%)` }],
    seconds: (performance.now() - t0) / 1000,
  };
}

interface Context {
  d: OpeData;
  cfg: OpeConfig;
  nb: Neighbourhoods;
  edges: number[][];
  weights: Record<string, number>;
  behavior: Evaluated;
  baseline: Evaluated | null;
  /** PDWIS with all weights 1 (= the empirical discounted return over isHorizon steps) */
  behaviorIs: number;
}

function policyResult(e: Evaluated, c: Context): OpePolicyResult {
  const { d, cfg } = c;
  const v = e.fit.value[0];
  const iv = bootstrapInterval(v, e.replicates.map((x) => x[0]));
  const isBehavior = e.policy.kind === 'behavior';
  const lift = isBehavior ? null : difference(e, c.behavior);
  const vsBaseline = c.baseline && e !== c.baseline ? difference(e, c.baseline) : null;
  const perResponse = d.heads.slice(1).map((name, k) => {
    const h = k + 1;
    return { name, weight: c.weights[name] ?? 1, v_hat: e.fit.value[h], ci95: bootstrapInterval(e.fit.value[h], e.replicates.map((x) => x[h])).ci95 };
  });
  const ood = oodSummary(d, c.nb, e.acts.pi);
  // The reference's value under the same estimator: the live model's WDR, or for the behavior policy
  // (weights all 1) its empirical return over the same horizon.
  const ref = vsBaseline ? c.baseline! : c.behavior;
  const refWdr = ref.policy.kind === 'behavior' ? c.behaviorIs : (ref.importance?.wdr.mean ?? null);
  const wdr = e.importance && refWdr !== null ? { ...e.importance.wdr, reference: refWdr } : null;
  const assessment = assess({ lift, vs_baseline: vsBaseline, ood: { share: ood.share } }, cfg.shipMaxOod, c.baseline?.policy.name ?? null);
  const { verdict, reasons } = isBehavior
    ? { verdict: 'reference' as const, reasons: ['the logged behavior policy: the reference of every lift'] }
    : decide(vsBaseline ?? lift!, vsBaseline ? 'the live model' : 'the behavior policy', ood.share, cfg.shipMaxOod, wdr);
  const r: OpePolicyResult = {
    name: e.policy.name,
    source: e.policy.source,
    kind: isBehavior ? 'behavior' : 'policy',
    ...(e.policy.kind === 'fn' && e.policy.latentSeed !== undefined ? { latent_seed: e.policy.latentSeed } : {}),
    stochastic: isBehavior || e.acts.stochastic,
    action_samples: e.acts.samples,
    v_hat: v,
    ci95: iv.ci95,
    se: iv.se,
    bootstrap: { resamples: e.replicates.length, iterations: cfg.bootstrapIterations ?? cfg.fqe.iterations, values: e.replicates.map((x) => x[0]), percentile95: iv.percentile95 },
    lift,
    vs_baseline: vsBaseline,
    per_response: perResponse,
    per_response_weighted_sum: perResponse.length ? perResponse.reduce((s, r) => s + r.weight * r.v_hat, 0) : null,
    importance: e.importance,
    importance_note: e.importance ? null : e.importanceNote,
    ood,
    actions: summarizeActions(e.acts.raw, d.actionDim, c.edges),
    fqe: { iterations: e.fit.iterations, seconds: e.fit.seconds, curves: { step: e.fit.curves.step, td_loss: e.fit.curves.tdLoss, penalty: e.fit.curves.penalty, v_hat: e.fit.curves.vHat } },
    verdict,
    reasons,
    assessment,
    flags: [],
  };
  r.flags = policyFlags(r, cfg);
  return r;
}

/** V̂(a) − V̂(b) with the paired bootstrap interval (the resamples are shared). */
function difference(a: Evaluated, b: Evaluated): NonNullable<OpePolicyResult['lift']> {
  const base = b.fit.value[0];
  const abs = a.fit.value[0] - base;
  const iv = bootstrapInterval(abs, a.replicates.map((x, i) => x[0] - b.replicates[i][0]));
  if (!(Math.abs(base) > 0)) return { abs, rel: null, ci95: iv.ci95, rel_ci95: null };
  const s = 1 / Math.abs(base);
  return { abs, rel: abs * s, ci95: iv.ci95, rel_ci95: [iv.ci95[0] * s, iv.ci95[1] * s] };
}

/**
 * ship: better than the reference with 95% confidence and in distribution; reject: worse with 95%
 * confidence; hold: everything else, with the reasons. A doubly robust estimate whose whole interval
 * lies below the reference's turns ship into hold.
 */
export function decide(
  diff: { abs: number; ci95: [number, number]; rel: number | null },
  reference: string,
  oodShare: number,
  maxOod: number,
  /** the policy's WDR estimate and the same estimator's value of the reference (null without action_logp) */
  wdr: { mean: number; ci95: [number, number]; reference: number } | null,
): { verdict: 'ship' | 'hold' | 'reject'; reasons: string[] } {
  const reasons: string[] = [];
  const pct = (x: number | null) => (x === null ? `${diff.abs >= 0 ? '+' : ''}${diff.abs.toPrecision(3)}` : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
  if (diff.ci95[1] < 0) return { verdict: 'reject', reasons: [`worse than ${reference} (${pct(diff.rel)}, 95% interval below 0)`] };
  let verdict: 'ship' | 'hold' = diff.ci95[0] > 0 ? 'ship' : 'hold';
  reasons.push(diff.ci95[0] > 0 ? `better than ${reference} (${pct(diff.rel)}, 95% interval above 0)` : `no difference from ${reference} at 95% (${pct(diff.rel)}, interval includes 0)`);
  if (oodShare > maxOod) {
    verdict = 'hold';
    reasons.push(`${(100 * oodShare).toFixed(0)}% of its actions are out of the logged distribution (limit ${(100 * maxOod).toFixed(0)}%): FQE extrapolates there`);
  }
  if (wdr && verdict === 'ship' && wdr.ci95[1] < wdr.reference) {
    verdict = 'hold';
    reasons.push(`the doubly robust estimate disagrees: ${wdr.mean.toPrecision(4)} [${wdr.ci95[0].toPrecision(4)}, ${wdr.ci95[1].toPrecision(4)}] is below ${reference}'s ${wdr.reference.toPrecision(4)}`);
  }
  return { verdict, reasons };
}

/** log π_h(a|s) − log μ(a|s) per row. */
function logRatios(d: OpeData, acts: PolicyActions, h: number[]): Float64Array {
  const { n, actionDim: A, batch } = d;
  const raw = acts.samples === 1 ? acts.raw : denormalizeAll(d, acts);
  const lp = kernelLogDensity(batch.action, raw, n, A, acts.samples, h);
  for (let i = 0; i < n; i++) lp[i] -= batch.actionLogp[i];
  return lp;
}

function denormalizeAll(d: OpeData, acts: PolicyActions): Float32Array {
  const A = d.actionDim;
  const out = new Float32Array(acts.pi.length);
  for (let i = 0; i < out.length; i++) {
    const j = i % A;
    const [lo, hi] = [d.norm.actionMin[j], d.norm.actionMax[j]];
    out[i] = lo + ((acts.pi[i] + 1) / 2) * (hi - lo);
  }
  return out;
}

/**
 * null when importance sampling can run: every row has a finite action_logp, or the rows without one
 * make up whole sessions (a σ = 0 control arm logs null: a point mass has no density), which
 * weightedEstimates leaves out — arms are assigned from the session id, so the others are still a
 * random sample. Else the reason it is skipped.
 */
function importanceUnavailable(b: TransitionBatch): string | null {
  let missing = 0;
  const missingIn = new Map<number, number>();
  const rowsIn = new Map<number, number>();
  for (let i = 0; i < b.n; i++) {
    const s = b.sessionIndex[i];
    rowsIn.set(s, (rowsIn.get(s) ?? 0) + 1);
    if (Number.isFinite(b.actionLogp[i])) continue;
    missing++;
    missingIn.set(s, (missingIn.get(s) ?? 0) + 1);
  }
  if (missing === 0) return null;
  if (missing === b.n) return 'the log has no action_logp';
  let mixed = 0;
  for (const [s, m] of missingIn) if (m !== rowsIn.get(s)) mixed++;
  return mixed === 0 ? null : `action_logp is missing on ${missing} of ${b.n} rows, in ${mixed} sessions that have it on other rows`;
}

function stdOf(x: Float32Array, A: number): number[] {
  const n = x.length / A;
  return Array.from({ length: A }, (_, j) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * A + j] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * A + j] - m) ** 2 / n;
    return Math.sqrt(v);
  });
}

function count(x: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < x.length; i++) c += x[i] ? 1 : 0;
  return c;
}
