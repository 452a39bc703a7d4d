/**
 * An evaluation fanned out over jobs (jobs/processors/evaluateJobs.ts; pipeline evaluate.fan_out:
 * jobs): the evaluate job prepares everything the fits read and writes it into `<run>/a<n>/ope/fits/`
 * — the bundle — then one job per fit (policy × {full data, refit 1…B}) computes its fit and writes
 * its result file there, and the evaluate job assembles ope-report.json from those files with the same
 * code as the in-process evaluation (evaluate.ts fitPolicy, assembleReport through storedFitPool).
 *
 *   fits/data.bin            the split as the fits read it (fitPool.ts FitData) and its sessions
 *   fits/acts-<key>.bin      a policy's actions π_e(s), π_e(s′), raw, and penalty weights
 *   fits/plan.json           written last: the policies (key, name), B, the backend; the bundle is complete
 *   fits/<key>-<refit>.fit   a fit's result (fitFiles.ts), written by its job: refit 0 = the full data
 *
 * A fit reads only the bundle, so a fit job needs neither the trajectories nor the policy; its seed, rows
 * and warm start come from fitRequests.ts as in-process, so its numbers are the in-process ones.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { writeJsonAtomic } from '../io/index.ts';
import type { BackendName } from './rl.ts';
import { OpeConfigSchema, type OpeConfig } from './config.ts';
import type { OpeData } from './data.ts';
import { assembleReport, fitPolicy, policyInputs, prepareEvaluation, supportNeighbourhoods, type EvaluateOptions, type PolicyInputs } from './evaluate.ts';
import { readArraysFile, readFitResult, writeArraysFile, writeFitResult } from './fitFiles.ts';
import type { FitData, FitPool } from './fitPool.ts';
import { evaluationOrder, evaluationResample, fullDataStarts, fullFitRequest, refitRequest, type FitKey } from './fitRequests.ts';
import { fitFqe } from './fqe.ts';
import type { PolicyActions } from './policies.ts';
import { initBackend } from './rl.ts';
import type { OpeReport } from './schemas.ts';

export const FIT_PLAN_FORMAT = 'batchrl-mtf/fit-plan@1';

export interface FitPlan {
  format: typeof FIT_PLAN_FORMAT;
  /** in evaluationOrder: p0 is the behavior policy */
  policies: { key: string; name: string }[];
  bootstrap: number;
  /** the backend the evaluate job resolved ('auto' → a name): every fit job starts the same one */
  backend: string;
  threads: number;
  created_at: string;
}

export const planPath = (dir: string) => join(dir, 'plan.json');
export const fitPath = (dir: string, at: FitKey) => join(dir, `${at.policy}-${at.refit}.fit`);

/** Every fit of a plan: the full-data fits (refit 0) first, then the refits. */
export function planFits(plan: FitPlan): FitKey[] {
  const out: FitKey[] = plan.policies.map((p) => ({ policy: p.key, refit: 0 }));
  for (let b = 1; b <= plan.bootstrap; b++) for (const p of plan.policies) out.push({ policy: p.key, refit: b });
  return out;
}

export function readFitPlan(dir: string): FitPlan | null {
  const path = planPath(dir);
  if (!existsSync(path)) return null;
  let plan: FitPlan;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { file: path });
  }
  if (plan.format !== FIT_PLAN_FORMAT) throw new InputError(`${path}: format '${plan.format}', expected ${FIT_PLAN_FORMAT}`, { file: path });
  return plan;
}

/**
 * The evaluate job's first step: everything the fits read, into `dir` (plan.json last). Nothing is
 * fitted here. Skipped when plan.json exists (a retry or a later step of the same job).
 */
export async function writeFitBundle(o: EvaluateOptions, dir: string): Promise<FitPlan> {
  const done = readFitPlan(dir);
  if (done) return done;
  const p = await prepareEvaluation(o);
  const support = Promise.resolve(await supportNeighbourhoods(p));
  const order = evaluationOrder(o.policies, o.baseline);
  const d = p.d;
  writeArraysFile(
    join(dir, 'data.bin'),
    { n: d.n, actionDim: d.actionDim, qStateDim: d.qStateDim, heads: d.heads, headScale: d.headScale, headBounds: d.headBounds, sessions: d.sessions },
    { a: d.a, mask: d.mask, notDone: d.notDone, qs: d.qs, qs2: d.qs2, y: d.y, ptr: d.ptr, order: d.order },
  );
  for (const { key, policy } of order) {
    const inp = await policyInputs(p, policy, support);
    writeArraysFile(
      join(dir, `acts-${key}.bin`),
      { key, name: policy.name, samples: inp.acts.samples, stochastic: inp.acts.stochastic, withIs: inp.withIs },
      { pi: inp.acts.pi, pi2: inp.acts.pi2, raw: inp.acts.raw, weights: inp.penaltyWeights },
    );
  }
  const plan: FitPlan = {
    format: FIT_PLAN_FORMAT,
    policies: order.map(({ key, policy }) => ({ key, name: policy.name })),
    bootstrap: p.cfg.bootstrap,
    backend: p.backend.name,
    threads: p.cfg.threads,
    created_at: new Date().toISOString(),
  };
  writeJsonAtomic(planPath(dir), plan);
  p.say(`wrote the inputs of ${planFits(plan).length} fits to ${dir}`);
  return plan;
}

type BundleData = FitData & Pick<OpeData, 'sessions' | 'ptr' | 'order'>;

/** The last bundle this process read: a worker's sandboxed child runs one fit after another of it. */
let cached: { path: string; mtimeMs: number; data: BundleData } | null = null;

function readBundleData(dir: string): BundleData {
  const path = join(dir, 'data.bin');
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new InputError(`${path}: missing (the evaluate job writes it before it adds the fit jobs)`, { file: path });
  if (cached && cached.path === path && cached.mtimeMs === st.mtimeMs) return cached.data;
  const { meta, arrays } = readArraysFile(path);
  const data = { ...(meta as unknown as Omit<BundleData, 'a'>), ...arrays } as unknown as BundleData;
  cached = { path, mtimeMs: st.mtimeMs, data };
  return data;
}

function readPolicyInputs(dir: string, key: string): { name: string; acts: PolicyActions; withIs: boolean; penaltyWeights: Float32Array | null } {
  const { meta, arrays } = readArraysFile(join(dir, `acts-${key}.bin`));
  const acts: PolicyActions = { samples: meta.samples as number, stochastic: meta.stochastic as boolean, pi: arrays.pi as Float32Array, pi2: arrays.pi2 as Float32Array, raw: (arrays.raw as Float32Array | undefined) ?? new Float32Array(0) };
  return { name: meta.name as string, acts, withIs: meta.withIs as boolean, penaltyWeights: (arrays.weights as Float32Array | undefined) ?? null };
}

/** One fit of the bundle in `dir` (a fit job): skipped when its result file exists. */
export async function runBundledFit(dir: string, at: FitKey, config: unknown, worker: string): Promise<{ file: string; reused: boolean; seconds: number; value: number[] }> {
  const out = fitPath(dir, at);
  if (existsSync(out)) {
    const r = readFitResult(out);
    return { file: out, reused: true, seconds: r.fit.seconds, value: r.fit.value };
  }
  const plan = readFitPlan(dir);
  if (!plan) throw new InputError(`${planPath(dir)}: missing: the fit ${at.policy}-${at.refit} has no inputs (its evaluate job writes them first)`, { file: planPath(dir) });
  if (!plan.policies.some((p) => p.key === at.policy)) throw new InputError(`fit ${at.policy}-${at.refit}: policy key '${at.policy}' is not in ${planPath(dir)} (${plan.policies.map((p) => p.key).join(', ')})`, { field: 'policy' });
  if (at.refit > plan.bootstrap) throw new InputError(`fit ${at.policy}-${at.refit}: refit ${at.refit} is beyond the plan's ${plan.bootstrap} bootstrap resamples`, { field: 'refit' });
  const cfg: OpeConfig = OpeConfigSchema.parse(config ?? {});
  if (cfg.bootstrap !== plan.bootstrap) throw new InputError(`${planPath(dir)}: planned for ${plan.bootstrap} bootstrap resamples, the pipeline asks ${cfg.bootstrap}`, { file: planPath(dir) });
  await initBackend(plan.backend as BackendName, { threads: plan.threads });
  const d = readBundleData(dir);
  const inp = readPolicyInputs(dir, at.policy);
  let req;
  if (at.refit === 0) req = fullFitRequest(cfg, fullDataStarts(d, cfg), inp.penaltyWeights);
  else {
    const full = fitPath(dir, { policy: at.policy, refit: 0 });
    if (!existsSync(full)) throw new InputError(`fit ${at.policy}-${at.refit}: the full-data fit ${full} is missing (refits start from its weights)`, { file: full });
    const init = readFitResult(full).fit.weights;
    req = refitRequest(cfg, evaluationResample(d, cfg, at.refit - 1), at.refit - 1, { withIs: inp.withIs, init, penaltyWeights: inp.penaltyWeights });
  }
  const fit = fitFqe(d as unknown as OpeData, inp.acts, req);
  writeFitResult(out, fit, { policy: at.policy, refit: at.refit, seed: req.seed ?? cfg.fqe.seed, iterations: req.iterations ?? cfg.fqe.iterations, worker, finished_at: new Date().toISOString() });
  return { file: out, reused: false, seconds: fit.seconds, value: fit.value };
}

/** Fits read from the result files in `dir` (each checked: seed and steps are the ones asked for). */
export function storedFitPool(dir: string): FitPool & { workers: Map<string, string> } {
  const workers = new Map<string, string>();
  return {
    workers,
    async fit(_acts, o, at) {
      if (!at) throw new RangeError('storedFitPool: every fit needs its key');
      const path = fitPath(dir, at);
      if (!existsSync(path)) throw new InputError(`fit ${at.policy}-${at.refit}: no result file ${path} (its job did not finish)`, { file: path });
      const { fit, meta } = readFitResult(path);
      const seed = o.seed ?? o.cfg.seed;
      const iterations = o.iterations ?? o.cfg.iterations;
      if (meta.seed !== seed || meta.iterations !== iterations || meta.policy !== at.policy || meta.refit !== at.refit) {
        throw new InputError(`${path}: fit ${meta.policy}-${meta.refit} with seed ${meta.seed} and ${meta.iterations} steps, the evaluation asks ${at.policy}-${at.refit} with seed ${seed} and ${iterations} steps; remove ${dir} and evaluate again`, { file: path });
      }
      workers.set(`${at.policy}-${at.refit}`, meta.worker);
      return fit;
    },
    release() {},
    setMaxActive() {},
    close: async () => {},
  };
}

/**
 * The evaluate job's last step: ope-report.json from the bundle's actions and the fit jobs' results,
 * through the in-process code (so the numbers are the in-process ones). `workers`: who ran each fit.
 */
export async function reportFromFits(o: EvaluateOptions, dir: string): Promise<{ report: OpeReport; workers: Map<string, string> }> {
  const plan = readFitPlan(dir);
  if (!plan) throw new InputError(`${planPath(dir)}: missing: the evaluation's fits were not planned`, { file: planPath(dir) });
  const order = evaluationOrder(o.policies, o.baseline);
  const names = order.map((x) => x.policy.name).join(', ');
  const planned = plan.policies.map((x) => x.name).join(', ');
  if (names !== planned) throw new InputError(`${planPath(dir)}: planned for the policies ${planned}, the evaluation has ${names} (did the live model change during the run?)`, { file: planPath(dir) });
  const p = await prepareEvaluation(o);
  const pool = storedFitPool(dir);
  const evaluated = [];
  for (const { key, policy } of order) {
    const stored = readPolicyInputs(dir, key);
    const inp: PolicyInputs = { policy, acts: stored.acts, withIs: stored.withIs, penaltyWeights: stored.penaltyWeights };
    evaluated.push(await fitPolicy(p, inp, key, pool, () => {}));
  }
  return { report: assembleReport(p, evaluated), workers: pool.workers };
}
