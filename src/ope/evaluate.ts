/**
 * Off-policy evaluation of several policies on one evaluation split: the conservative FQE estimate of
 * each (Algorithm 2, Eq. 10) with session-bootstrap intervals, paired lifts over the behavior policy
 * (and over the live model when given), per-response values, importance-sampling estimates when the
 * log carries action_logp, the out-of-distribution share and the action distributions — everything
 * ope-report.json holds. Pure computation: the CLI reads the data and writes the files.
 */
import type { TrajectoryMetadata } from '../data/index.ts';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { bootstrapInterval, meanInterval, mean } from './bootstrap.ts';
import { OpeConfigSchema, type OpeConfig, type OpeConfigInput } from './config.ts';
import { discountedReturns, opeDataOptions, prepareOpeData, type OpeData } from './data.ts';
import { chooseWorkers, inlineFitPool, workerFitPool, type FitPool } from './fitPool.ts';
import { evaluationOrder, evaluationResample, fullDataStarts, fullFitRequest, refitRequest } from './fitRequests.ts';
import { kernelBandwidth, kernelLogDensity, weightedEstimates } from './importance.ts';
import { buildNeighbourhoods, buildNeighbourhoodsAsync, histogramEdges, summarizeActions, supportWeights, type Neighbourhoods } from './ood.ts';
import { policyActions, type EvalPolicy, type PolicyActions } from './policies.ts';
import { decide, policyResult, type Evaluated } from './policyResult.ts';
import { controlGroups } from './control.ts';
import { pairwiseComparisons, tieAwareRanks } from './ranking.ts';
import { initBackend } from './rl.ts';
import { nativeKnn } from './gram.ts';
import { phaseClock } from '../io/phases.ts';
import { OPE_REPORT_FORMAT, type OpePolicyResult, type OpeReport } from './schemas.ts';

export { decide };
export type { Evaluated };

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

/** The evaluation's data and settings, prepared once: what the fits and the report are computed from. */
export interface Prepared {
  o: EvaluateOptions;
  cfg: OpeConfig;
  say: (line: string) => void;
  phase: ReturnType<typeof phaseClock>;
  backend: Awaited<ReturnType<typeof initBackend>>;
  md: TrajectoryMetadata | null;
  d: OpeData;
  starts: Int32Array;
  resamples: { counts: Int32Array; pool: Int32Array; starts: Int32Array }[];
  knn: ReturnType<typeof nativeKnn>;
  searchMethod: string;
  /** the out-of-distribution neighbourhoods of the report */
  nb: Neighbourhoods;
  logpNote: string | null;
  bandwidth: number[];
  t0: number;
}

export async function prepareEvaluation(o: EvaluateOptions): Promise<Prepared> {
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
  const starts = fullDataStarts(d, cfg);
  const resamples = Array.from({ length: cfg.bootstrap }, (_, i) => evaluationResample(d, cfg, i));
  phase(`drew ${cfg.bootstrap} bootstrap resamples of the sessions`);
  // the exact neighbour search, through BLAS when the native addon loads (src/ope/neighbours.ts)
  const knn = nativeKnn(cfg.threads);
  const p: Prepared = { o, cfg, say, phase, backend, md, d, starts, resamples, knn, searchMethod: knn.kernels ? 'BLAS' : `exact scalar scan: ${knn.reason}`, nb: null!, logpNote: null, bandwidth: [], t0 };
  p.nb = buildNeighbourhoods(d, searchOptions(p, 'out-of-distribution neighbourhoods', cfg.oodStates, cfg.oodNeighbours, cfg.oodReference));
  p.logpNote = importanceUnavailable(o.batch);
  p.bandwidth = kernelBandwidth(md?.action_stats.std ?? stdOf(o.batch.action, o.batch.actionDim), d.n, cfg.isBandwidth);
  say(`data: ${d.sessions} sessions, ${d.n} transitions, ${starts.length} initial states; ${cfg.bootstrap} bootstrap refits of ${cfg.bootstrapIterations ?? cfg.fqe.iterations} steps per policy`);
  return p;
}

function searchOptions(p: Prepared, what: string, states: number, neighbours: number, reference: number) {
  return { states, neighbours, reference, quantile: p.cfg.oodQuantile, seed: p.cfg.fqe.seed, knn: p.knn.kernels, onProgress: p.phase.progress(what) };
}

/**
 * fqe.penaltySupport 'nearest': every row's logged neighbourhood (computed once, shared by every
 * policy and refit), searched on this thread in blocks (it yields between them); else null.
 */
export async function supportNeighbourhoods(p: Prepared): Promise<Neighbourhoods | null> {
  if (p.cfg.fqe.penaltySupport !== 'nearest') return null;
  const found = await buildNeighbourhoodsAsync(p.d, searchOptions(p, 'support neighbourhoods of every row', p.d.n, p.cfg.fqe.supportNeighbours, p.cfg.fqe.supportReference));
  p.phase(`found the logged neighbours (${p.searchMethod})`);
  return found;
}

/** What a policy's fits are computed from: its actions on the split and its penalty weights. */
export interface PolicyInputs {
  policy: EvalPolicy;
  acts: PolicyActions;
  /** importance sampling runs for it (not behavior, and the log has action_logp) */
  withIs: boolean;
  penaltyWeights: Float32Array | null;
}

export async function policyInputs(p: Prepared, policy: EvalPolicy, support: Promise<Neighbourhoods | null>): Promise<PolicyInputs> {
  const { d, cfg } = p;
  const acts = await policyActions(policy, d, cfg.fqe.actionSamples);
  const withIs = policy.kind !== 'behavior' && p.logpNote === null;
  // the behavior policy's penalty has no gradient (π_e(s) = a): no weights needed, so its fits start
  // while this thread still searches the neighbourhoods the other policies' weights come from
  const supportNb = policy.kind !== 'behavior' ? await support : null;
  const penaltyWeights = supportNb ? supportWeights(d, supportNb, acts.pi, acts.samples, cfg.fqe.supportRamp, cfg.fqe.supportFloor) : null;
  if (penaltyWeights) p.say(`${policy.name}: penalty weight mean ${(penaltyWeights.reduce((x, y) => x + y, 0) / penaltyWeights.length).toFixed(3)}, zero on ${((100 * penaltyWeights.filter((x) => x === 0).length) / penaltyWeights.length).toFixed(1)}% of rows`);
  return { policy, acts, withIs, penaltyWeights };
}

/**
 * A policy's full-data fit and its B refits through `pool` (this thread, worker threads, or the
 * results of fit jobs: fitBundle.ts storedFitPool), with the importance-sampling estimates.
 */
export async function fitPolicy(p: Prepared, inp: PolicyInputs, key: string, pool: FitPool, fitDone: () => void): Promise<Evaluated> {
  const { d, cfg, say, o } = p;
  const { policy, acts, withIs, penaltyWeights } = inp;
  const t = performance.now();
  const fit = await pool.fit(acts, fullFitRequest(cfg, p.starts, penaltyWeights), { policy: key, refit: 0 });
  fitDone();
  say(`${policy.name}: V̂ ${fit.value[0].toPrecision(5)} (${fit.iterations} steps, ${fit.seconds.toFixed(1)} s)`);
  const logw = withIs ? logRatios(d, acts, p.bandwidth) : null;
  // the B refits, in parallel where the pool has workers; collected in resample order
  let done = 0;
  const refits = await Promise.all(
    p.resamples.map(async (r, b) => {
      const f = await pool.fit(acts, refitRequest(cfg, r, b, { withIs, init: fit.weights, penaltyWeights }), { policy: key, refit: b + 1 });
      done++;
      fitDone();
      if (done % 5 === 0 || done === p.resamples.length) say(`${policy.name}: bootstrap ${done}/${p.resamples.length} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
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
    importance = { pdwis: est(w.pdwis, 0), wdr: est(w.wdr!, 1), bandwidth: p.bandwidth, horizon: cfg.isHorizon, ess: w.ess, observed: w.observed };
  }
  const importanceNote = policy.kind === 'behavior' ? 'the behavior policy\'s importance weights are all 1: its estimate is the empirical return' : p.logpNote;
  return { policy, acts, fit, replicates, importance, importanceNote };
}

/** The number of FQE fits of an evaluation: (1 + B) per policy in evaluationOrder. */
export function fitCount(o: Pick<EvaluateOptions, 'policies' | 'baseline'>, cfg: OpeConfig): number {
  return evaluationOrder(o.policies, o.baseline).length * (1 + cfg.bootstrap);
}

export async function evaluatePolicies(o: EvaluateOptions): Promise<OpeReport> {
  const p = await prepareEvaluation(o);
  const { d, cfg, say, phase } = p;
  // The behavior policy is always evaluated (every lift refers to it), first, and only once.
  // Every policy at once: their fits share the pool (one per core), so the cores stay busy while one
  // policy waits for its full-data fit before its refits can start.
  const order = evaluationOrder(o.policies, o.baseline);
  const fits = fitCount(o, cfg);
  const workers = chooseWorkers(cfg.workers, d.n, fits);
  // every fit of every policy, with an ETA: at the paper's scale they are minutes
  const fitProgress = phase.progress(`FQE fits (${fits})`);
  let fitsDone = 0;
  const fitDone = () => fitProgress(++fitsDone / fits);
  let pool = inlineFitPool(d);
  if (workers > 1) {
    try {
      pool = await workerFitPool(d, workers, p.backend.name, cfg.threads);
      phase(`started ${workers} fit workers`);
    } catch (err) {
      // the same numbers come out of this thread, only later
      say(`fit workers could not start (${(err as Error).message.split('\n')[0]}): fitting in this thread`);
    }
  }
  let evaluated: Evaluated[];
  try {
    // fqe.penaltySupport: searched on this thread once the behavior policy's fit is on its way
    const support: Promise<Neighbourhoods | null> =
      cfg.fqe.penaltySupport === 'nearest'
        ? (async () => {
            // one core stays with the search (it is on every other policy's path); the behavior fits take the rest
            pool.setMaxActive(workers - 1);
            await new Promise<void>((resolve) => setImmediate(resolve));
            try {
              return await supportNeighbourhoods(p);
            } finally {
              pool.setMaxActive(workers);
            }
          })()
        : Promise.resolve(null);
    const runs = order.map(async ({ key, policy }) => fitPolicy(p, await policyInputs(p, policy, support), key, pool, fitDone));
    const settled = await Promise.allSettled([support, ...runs]);
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    evaluated = await Promise.all(runs);
  } finally {
    await pool.close();
  }
  return assembleReport(p, evaluated);
}

/**
 * ope-report.json from every policy's fits, `evaluated` in evaluationOrder (behavior first; the
 * baseline last when it is not one of the policies).
 */
export function assembleReport(p: Prepared, evaluated: Evaluated[]): OpeReport {
  const { o, d, cfg, md } = p;
  const behavior = evaluated[0];
  const byPolicy = new Map(evaluated.map((e) => [e.policy, e]));
  const results: Evaluated[] = o.policies.map((x) => (x.kind === 'behavior' ? behavior : byPolicy.get(x)!));
  const baselineEval = o.baseline && !o.policies.includes(o.baseline) ? evaluated[evaluated.length - 1] : null;
  // The live model may also be one of the policies (so that tools reading only `policies`, such as the
  // export gate, find it): evaluated once.
  const baseline = o.baseline ? (results.find((r) => r.policy === o.baseline) ?? baselineEval) : null;

  // Shared histogram edges: logged actions and every evaluated policy's.
  const A = d.actionDim;
  const edges = histogramEdges([o.batch.action, ...results.map((r) => r.acts.raw), ...(baseline ? [baseline.acts.raw] : [])], A, cfg.histogramBins);
  const weights = md?.reward_weights ?? {};
  const behaviorIs = weightedEstimates(d, o.batch.reward, new Float64Array(d.n), { gamma: cfg.fqe.gamma, horizon: cfg.isHorizon }).pdwis;
  const toResult = (e: Evaluated): OpePolicyResult => policyResult(e, { d, cfg, nb: p.nb, edges, weights, behavior, baseline, behaviorIs });

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
  const rankInputs = ranked.map((x) => ({ name: x.name, v_hat: x.v_hat, replicates: x.bootstrap.values }));
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
      initial_states: p.starts.length,
      state_dim: d.stateDim,
      action_dim: A,
      action_names: md?.action_names ?? Array.from({ length: A }, (_, j) => `a${j}`),
      reward_weights: weights,
      has_action_logp: p.logpNote === null,
    },
    config: cfg,
    backend: p.backend.detail,
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
    seconds: (performance.now() - p.t0) / 1000,
  };
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
