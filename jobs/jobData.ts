/**
 * What a job may ask a worker to do. Job data comes from Redis, and whoever can write to Redis — a
 * dashboard, a script, a compromised service — can put any job in a queue; so every processor parses
 * its job's data here before acting on it, and refuses:
 *
 * - data that is not a stage or trigger job of ours (zod: the run spec, the pipeline, the shard keys);
 * - a run id that is not the one its pipeline, date and attempt give (ids name files and job ids);
 * - a path outside the worker's **roots**: each pipeline the worker was started with (`mtf worker
 *   --config`, default pipelines/nightly.yaml) contributes its `paths.logs` (read), `paths.artifacts`
 *   and `paths.store` (written); `--allow-root <dir>` adds a folder any of the three may lie in. Paths
 *   are compared after resolving `..` and symbolic links, so neither walks out of a root.
 *
 * The worker passes its roots to its sandboxed children in the environment (`MTF_WORKER_ROOTS`).
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { PipelineConfig } from '../src/config/pipeline.ts';
import { InputError } from '../src/errors/index.ts';
import { DATE_RE, runIdOf, type RunSpec } from '../src/stages/index.ts';

export const ROOTS_ENV = 'MTF_WORKER_ROOTS';

/** Where a worker may read logs and write artifacts and models. */
export const WorkerRoots = z
  .object({
    logs: z.array(z.string()).describe('folders logs may be read from'),
    artifacts: z.array(z.string()).describe('folders run artifacts may be written to'),
    store: z.array(z.string()).describe('folders model stores may be written to'),
    any: z.array(z.string()).describe('folders any of the three may lie in (--allow-root)'),
  })
  .strict();
export type WorkerRoots = z.infer<typeof WorkerRoots>;

/** The roots of a worker started with these pipelines (absolute paths) and `--allow-root` folders. */
export function workerRoots(pipelines: PipelineConfig[], allowRoots: string[] = []): WorkerRoots {
  const uniq = (xs: string[]) => [...new Set(xs.map((x) => resolve(x)))];
  return {
    logs: uniq(pipelines.map((p) => p.paths.logs)),
    artifacts: uniq(pipelines.map((p) => p.paths.artifacts)),
    store: uniq(pipelines.map((p) => p.paths.store)),
    any: uniq(allowRoots),
  };
}

export function rootsToEnv(roots: WorkerRoots): string {
  return JSON.stringify(roots);
}

/** The roots the worker process put in the environment; a child without them refuses every job. */
export function rootsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerRoots {
  const text = env[ROOTS_ENV];
  if (!text) throw new InputError(`${ROOTS_ENV} is not set: this process was not started by \`mtf worker\`, so it knows no folders it may use`, { field: ROOTS_ENV });
  try {
    return WorkerRoots.parse(JSON.parse(text));
  } catch (err) {
    throw new InputError(`${ROOTS_ENV}: not a valid list of roots (${(err as Error).message})`, { field: ROOTS_ENV });
  }
}

/** A shard key as planShards makes them (`dt=YYYY-MM-DD`, `dt=YYYY-MM-DD-2`, `dt=YYYY-MM-DD.p3`, `file-3`): never a path. */
const ShardKey = z.string().regex(/^(dt=\d{4}-\d{2}-\d{2}(-\d+)?(\.p\d+)?|file-\d+)$/, 'a shard key (dt=YYYY-MM-DD[.pN] or file-N)');

export const RunSpecSchema = z
  .object({
    runId: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only'),
    pipeline: PipelineConfig,
    date: z.string().regex(DATE_RE, 'YYYY-MM-DD'),
    attempt: z.int().min(1).max(10_000),
  })
  .strict();

export const StageJobDataSchema = z
  .object({
    run: RunSpecSchema,
    shard: ShardKey.optional(),
    shards: z.array(ShardKey).max(10_000).optional(),
    /** a bucket job of the bucketed merge (jobs/processors/mergeJobs.ts): its bucket, 0 … ingest.merge_buckets − 1 */
    bucket: z.int().min(0).max(4095).optional(),
  })
  .strict();
export type StageJobData = z.infer<typeof StageJobDataSchema>;

/**
 * A fit job of a fanned-out evaluation (jobs/processors/evaluateJobs.ts): the run, the policy's key in
 * the evaluation (p0 = behavior, p1 …; never its name or a path) and the refit (0 = the full data, 1…B).
 */
export const FitJobDataSchema = z
  .object({
    run: RunSpecSchema,
    policy: z.string().regex(/^p\d{1,3}$/, 'a policy key of the evaluation (p0, p1, …)'),
    refit: z.int().min(0).max(10_000),
  })
  .strict();
export type FitJobData = z.infer<typeof FitJobDataSchema>;

export const TriggerJobDataSchema = z.object({ pipeline: PipelineConfig }).strict();
export type TriggerJobData = z.infer<typeof TriggerJobDataSchema>;

function parse<T extends z.ZodType>(schema: T, data: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join('.') || '(root)';
    throw new InputError(`${what}: job data field '${field}': ${issue.message}; job refused`, { field });
  }
  return r.data;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (p need not exist yet). */
function realish(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    tail.unshift(head.slice(up.length + (up.endsWith(sep) ? 0 : 1)));
    head = up;
  }
  let real = head;
  try {
    real = realpathSync(head);
  } catch {
    // unreadable: compare as given
  }
  return tail.length ? resolve(real, ...tail) : real;
}

export function isInside(path: string, root: string): boolean {
  const rel = relative(realish(root), realish(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Policy specs that name no file (the rest are paths: model.onnx, a training or store folder), as loadEvalPolicy reads them. */
const NAMED_POLICY = /^(behavior|logged|const:.*)$/;

/** Throws InputError unless every path the pipeline reads or writes lies inside the worker's roots. */
export function checkPipelinePaths(p: PipelineConfig, roots: WorkerRoots, what: string): void {
  const check = (path: string, kind: 'logs' | 'artifacts' | 'store', field: string) => {
    if (!isAbsolute(path)) throw new InputError(`${what}: ${field} '${path}' is not absolute; job refused`, { field });
    const allowed = [...roots[kind], ...roots.any];
    if (!allowed.some((r) => isInside(path, r))) {
      throw new InputError(
        `${what}: ${field} '${path}' is outside this worker's ${kind} roots (${allowed.join(', ') || 'none'}); job refused. ` +
          'Start the worker with the pipeline (--config) or --allow-root',
        { field },
      );
    }
  };
  check(p.paths.logs, 'logs', 'paths.logs');
  check(p.paths.artifacts, 'artifacts', 'paths.artifacts');
  check(p.paths.store, 'store', 'paths.store');
  p.evaluate.policies.forEach((spec, i) => {
    const eq = /^([A-Za-z0-9_.\-]+)=(.+)$/.exec(spec);
    const s = eq && !eq[1].startsWith('const') ? eq[2].trim() : spec.trim();
    if (NAMED_POLICY.test(s)) return;
    const path = resolve(s); // relative specs resolve against the worker's directory, as loadEvalPolicy does
    const allowed = [...roots.logs, ...roots.artifacts, ...roots.store, ...roots.any];
    if (!allowed.some((r) => isInside(path, r))) throw new InputError(`${what}: evaluate.policies[${i}] '${spec}' names a file outside this worker's roots; job refused`, { field: `evaluate.policies.${i}` });
  });
}

/** A stage job's data, checked: schema, run id, paths. */
export function parseStageJob(data: unknown, roots: WorkerRoots, what: string): StageJobData {
  const d = parse(StageJobDataSchema, data, what);
  const run = d.run as RunSpec;
  const want = runIdOf(run.pipeline.name, run.date, run.attempt);
  if (run.runId !== want) throw new InputError(`${what}: job data field 'run.runId': '${run.runId}' is not the id of ${run.pipeline.name} ${run.date} attempt ${run.attempt} ('${want}'); job refused`, { field: 'run.runId' });
  const B = run.pipeline.ingest.merge_buckets;
  if (d.bucket !== undefined && (B < 2 || d.bucket >= B)) {
    throw new InputError(`${what}: job data field 'bucket': ${d.bucket} is not a bucket of the pipeline's merge (ingest.merge_buckets ${B}); job refused`, { field: 'bucket' });
  }
  checkPipelinePaths(run.pipeline, roots, what);
  return d;
}

/** A fit job's data, checked: schema, run id, paths (as a stage job's). */
export function parseFitJob(data: unknown, roots: WorkerRoots, what: string): FitJobData {
  const d = parse(FitJobDataSchema, data, what);
  parseStageJob({ run: d.run }, roots, what);
  return d;
}

/** A trigger job's data (from the job scheduler), checked: schema, paths. */
export function parseTriggerJob(data: unknown, roots: WorkerRoots, what: string): TriggerJobData {
  const d = parse(TriggerJobDataSchema, data, what);
  checkPipelinePaths(d.pipeline, roots, what);
  return d;
}
