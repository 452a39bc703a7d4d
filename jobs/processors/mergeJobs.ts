/**
 * The bucketed merge as jobs (pipeline `ingest.merge_buckets` > 1; src/data/bucketMerge.ts). The merge
 * job, a parent of the shard jobs in the run's flow, runs in steps, each a processing of the same job:
 *
 *   1. once the shards are read: it plans the train/test split (parts/split.json, from the shards'
 *      per-session starts) and adds one `bucket` job per bucket whose part is missing, as its children
 *      on the ingest queue, then waits for them holding no worker slot (moveToWaitingChildren);
 *   2. back when they are done: it places the parts into the run's trajectories (format 3).
 *
 * A bucket job merges bucket b of every shard into its part (≈ 1/B of the rows in its process), so no
 * process holds the window's rows. Which step comes next is read from the run's directory: a part that
 * exists is never merged again. A bucket that fails for good (its attempts used up) is kept as a failed
 * dependency, and the merge then fails at once, naming the bucket and its error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors/index.ts';
import { bucketPartDir, finishMergeStage, planMergeStage, runDirs, type RunSpec, type StageContext } from '../../src/stages/index.ts';
import { addJobs, type ParentJob } from './evaluateJobs.ts';
import { jobId, QUEUES, stageJobOptions } from '../queues.ts';

export interface MergeFanOutDeps {
  /** adds these buckets as bucket jobs, children of `parent` */
  addBuckets(spec: RunSpec, shards: string[], buckets: number[], parent: { id: string; queue: string }): Promise<void>;
}

export const bucketJobId = (spec: RunSpec, b: number) => jobId(spec.runId, `ingest-bucket-${b}`);

export const bullmqMergeDeps: MergeFanOutDeps = {
  async addBuckets(spec, shards, buckets, parent) {
    const opts = stageJobOptions(spec);
    await addJobs(
      QUEUES.ingest,
      buckets.map((bucket) => ({
        name: 'bucket',
        data: { run: spec, shards, bucket },
        // a child that fails for good stays a (failed) dependency: the parent wakes and names it
        opts: { ...opts, jobId: bucketJobId(spec, bucket), parent, ignoreDependencyOnFailure: true },
      })),
    );
  },
};

async function failOnBucketFailure(job: ParentJob): Promise<void> {
  const failed = Object.entries(await job.getIgnoredChildrenFailures());
  if (failed.length === 0) return;
  const name = ([key]: [string, string]) => /ingest-bucket-(\d+)$/.exec(key)?.[1];
  const e = new Error(
    `bucket ${name(failed[0]) ?? failed[0][0]} of the merge failed: ${failed[0][1]}${failed.length > 1 ? ` (and ${failed.length - 1} more bucket jobs failed)` : ''}`,
  );
  e.name = 'UnrecoverableError';
  throw e;
}

/** One processing of the merge job: `{ status: 'waiting' }` when it added bucket jobs and waits for them, else the stage's result. */
export async function mergeByJobs(job: ParentJob, token: string | undefined, spec: RunSpec, shards: string[], ctx: StageContext, deps: MergeFanOutDeps = bullmqMergeDeps): Promise<Record<string, unknown>> {
  if (typeof job.moveToWaitingChildren !== 'function' || typeof job.getIgnoredChildrenFailures !== 'function') {
    throw new InputError('ingest.merge_buckets > 1: this BullMQ does not let a sandboxed job wait for its children (needs BullMQ ≥ 5.x)', { field: 'ingest.merge_buckets' });
  }
  await failOnBucketFailure(job);
  const B = spec.pipeline.ingest.merge_buckets;
  const merged = (b: number) => existsSync(join(bucketPartDir(spec, b), 'ingest-report.json'));
  const placed = existsSync(join(runDirs(spec).trajectories, 'ingest-report.json'));
  if (!placed) await planMergeStage(spec, shards, ctx);
  for (let round = 0; round < 2; round++) {
    const missing = placed ? [] : Array.from({ length: B }, (_, b) => b).filter((b) => !merged(b));
    ctx.progress((100 * (B - missing.length)) / B, null);
    if (missing.length === 0) return finishMergeStage(spec, shards, ctx);
    await deps.addBuckets(spec, shards, missing, { id: job.id!, queue: job.queueQualifiedName });
    ctx.log(`ingest: ${missing.length} bucket jobs added (${B - missing.length} of ${B} buckets merged)`);
    if (await job.moveToWaitingChildren(token)) return { status: 'waiting', pending: missing.length, done: B - missing.length, buckets: B };
    // nothing to wait for: the children had finished already
    await failOnBucketFailure(job);
  }
  throw new Error(`ingest: the bucket jobs finished without their parts in ${runDirs(spec).parts}`);
}
