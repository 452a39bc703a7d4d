/**
 * Evaluation as jobs (pipeline `evaluate.fan_out: jobs`; jobs/README.md "Evaluation as jobs"). The
 * evaluate job is a parent that runs in steps, each a processing of the same job:
 *
 *   1. it writes the fits' inputs (src/ope/fitBundle.ts) and adds one `fit` job per policy's full-data
 *      fit as its children (the refits start from those weights), then waits (moveToWaitingChildren:
 *      it holds no worker slot while the children run);
 *   2. back when they are done: it adds one `fit` job per policy × bootstrap refit, and waits again;
 *   3. back again: it assembles ope-report.json from the children's result files.
 *
 * Which step comes next is read from the run's directory, not from the job: a fit whose result file
 * exists is never added again, so a retried or restarted parent reuses every finished child. A child
 * that fails for good (its attempts used up) is kept as a failed dependency (ignoreDependencyOnFailure),
 * and the parent then fails at once, naming the fit and the child's error.
 *
 * The fit jobs go to the evaluate queue (job name `fit`): a worker that serves evaluate (`mtf worker
 * --queues evaluate`) serves the fits, `--concurrency` of them per process, each in its own sandboxed child.
 */
import { existsSync } from 'node:fs';
import { InputError, oneLine } from '../../src/errors/index.ts';
import { fitPath, planFits, readFitPlan, type FitPlan } from '../../src/ope/fitBundle.ts';
import type { FitKey } from '../../src/ope/fitRequests.ts';
import { assembleEvaluation, evaluateFitStage, fitsDir, planEvaluateFits, type RunSpec, type StageContext } from '../../src/stages/index.ts';
import type { QueueConnection } from '../connection.ts';
import { parseFitJob, rootsFromEnv } from '../jobData.ts';
import { LEASE_ENV } from '../lease.ts';
import { jobId, QUEUES, stageJobOptions } from '../queues.ts';
import type { SandboxedJob } from './stage.ts';

/** The parent's part of BullMQ's sandboxed job (BullMQ ≥ 5.x proxies these to the worker process). */
export interface ParentJob extends SandboxedJob {
  queueQualifiedName: string;
  moveToWaitingChildren(token?: string): Promise<boolean>;
  /** failed children kept as dependencies: job key → failed reason */
  getIgnoredChildrenFailures(): Promise<Record<string, string>>;
}

export interface FanOutDeps {
  /** adds these fits as fit jobs, children of `parent` */
  addFits(spec: RunSpec, fits: FitKey[], parent: { id: string; queue: string }): Promise<void>;
}

export const fitName = (at: FitKey) => `${at.policy}-${at.refit}`;
export const fitJobId = (spec: RunSpec, at: FitKey) => jobId(spec.runId, `fit-${fitName(at)}`);

/** The worker's Redis connection, passed to its sandboxed children in LEASE_ENV (jobs/worker.ts). */
function connectionFromEnv(): QueueConnection {
  const text = process.env[LEASE_ENV];
  if (!text) throw new InputError(`${LEASE_ENV} is not set: this process was not started by \`mtf worker\`, so it cannot add the evaluation's fit jobs`, { field: LEASE_ENV });
  const c = JSON.parse(text) as QueueConnection;
  return { redis: { ...c.redis, maxRetriesPerRequest: null }, prefix: c.prefix, display: c.display };
}

/** Adds jobs to a queue of the worker's Redis (as children of a parent, by their opts), through the worker's connection. */
export async function addJobs(queue: string, jobs: { name: string; data: unknown; opts: Record<string, unknown> }[]): Promise<void> {
  const { Queue } = await import('bullmq');
  const conn = connectionFromEnv();
  const q = new Queue(queue, { connection: conn.redis, prefix: conn.prefix });
  try {
    await q.addBulk(jobs);
  } finally {
    await q.close();
  }
}

export const bullmqDeps: FanOutDeps = {
  async addFits(spec, fits, parent) {
    const opts = stageJobOptions(spec);
    await addJobs(
      QUEUES.evaluate,
      fits.map((at) => ({
        name: 'fit',
        data: { run: spec, policy: at.policy, refit: at.refit },
        // a child that fails for good stays a (failed) dependency: the parent wakes and names it
        opts: { ...opts, jobId: fitJobId(spec, at), parent, ignoreDependencyOnFailure: true },
      })),
    );
  },
};

/** Throws naming the first failed fit and its error (and how many more failed). */
async function failOnChildFailure(job: ParentJob, plan: FitPlan | null): Promise<void> {
  const failed = Object.entries(await job.getIgnoredChildrenFailures());
  if (failed.length === 0) return;
  const describe = ([key, reason]: [string, string]) => {
    const m = /__fit-(p\d+)-(\d+)$/.exec(key);
    const name = m ? plan?.policies.find((p) => p.key === m[1])?.name : undefined;
    const what = m ? `fit ${m[1]}-${m[2]}${name ? ` (${name}, ${m[2] === '0' ? 'full data' : `refit ${m[2]}`})` : ''}` : `child ${key}`;
    return `${what} failed: ${reason}`;
  };
  const e = new Error(`${describe(failed[0])}${failed.length > 1 ? ` (and ${failed.length - 1} more fit jobs failed)` : ''}`);
  e.name = 'UnrecoverableError';
  throw e;
}

/**
 * One processing of the evaluate job: `{ status: 'waiting' }` when it added fit jobs and waits for
 * them (the caller throws WaitingChildrenError), else the stage's result (as evaluateStage's).
 */
export async function evaluateByJobs(job: ParentJob, token: string | undefined, spec: RunSpec, ctx: StageContext, deps: FanOutDeps = bullmqDeps): Promise<Record<string, unknown>> {
  if (typeof job.moveToWaitingChildren !== 'function' || typeof job.getIgnoredChildrenFailures !== 'function') {
    throw new InputError('evaluate.fan_out jobs: this BullMQ does not let a sandboxed job wait for its children (needs BullMQ ≥ 5.x)', { field: 'evaluate.fan_out' });
  }
  const dir = fitsDir(spec);
  await failOnChildFailure(job, readFitPlan(dir));
  const plan = await planEvaluateFits(spec, ctx);
  const all = planFits(plan);
  for (let round = 0; round < 3; round++) {
    const missing = all.filter((at) => !existsSync(fitPath(dir, at)));
    ctx.progress((100 * (all.length - missing.length)) / all.length, null);
    if (missing.length === 0) return assembleEvaluation(spec, ctx);
    // a refit starts from its policy's full-data fit: those first
    const ready = missing.filter((at) => at.refit === 0 || existsSync(fitPath(dir, { policy: at.policy, refit: 0 })));
    await deps.addFits(spec, ready, { id: job.id!, queue: job.queueQualifiedName });
    ctx.log(`evaluate: ${ready.length} fit jobs added (${all.length - missing.length} of ${all.length} fits done): ${ready.map(fitName).join(', ')}`);
    if (await job.moveToWaitingChildren(token)) return { status: 'waiting', pending: ready.length, done: all.length - missing.length, fits: all.length };
    // nothing to wait for: the children had finished already (before the move, or earlier)
    await failOnChildFailure(job, plan);
  }
  const missing = all.filter((at) => !existsSync(fitPath(dir, at)));
  throw new Error(`evaluate: the fit jobs ${missing.map((at) => fitJobId(spec, at)).join(', ')} finished without their result files in ${dir}`);
}

/** A fit job (name `fit` on the evaluate queue): one fit of a fanned-out evaluation. */
export async function processFit(job: SandboxedJob): Promise<Record<string, unknown>> {
  let data;
  try {
    data = parseFitJob(job.data, rootsFromEnv(), `job ${job.id} (${job.name})`);
  } catch (err) {
    process.stdout.write(`[job ${job.id}] ${oneLine(err)}\n`);
    const e = new Error(oneLine(err));
    e.name = 'UnrecoverableError';
    throw e;
  }
  const spec = data.run as RunSpec;
  const at = { policy: data.policy, refit: data.refit };
  const tag = `[${spec.runId} fit ${fitName(at)}]`;
  try {
    const r = await evaluateFitStage(spec, at);
    const line = `${r.reused ? 'done earlier, not run again' : `done in ${r.seconds.toFixed(1)} s`}: V̂ ${r.v_hat.toPrecision(5)} on ${r.worker}`;
    process.stdout.write(`${tag} ${line}\n`);
    await job.log(line).catch(() => {});
    return r;
  } catch (err) {
    process.stdout.write(`${tag} failed: ${oneLine(err)}\n`);
    if (err instanceof InputError || (err instanceof Error && err.name === 'InputError')) {
      const e = new Error(oneLine(err));
      e.name = 'UnrecoverableError';
      throw e;
    }
    throw err;
  }
}
