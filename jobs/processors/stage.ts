/**
 * The processor of every stage queue, run sandboxed (a child process per concurrent job, see
 * jobs/sandbox.mjs): training and evaluation keep a core busy for minutes, and in the worker's own
 * process they would starve its lock renewals until BullMQ declared the job stalled.
 *
 * Per job: skip it if its stage record says done (a re-added flow never redoes work); record the
 * start; run the stage function; record the outcome. Errors decide what BullMQ does next:
 *   InputError (bad file, bad config), NonFiniteError (NaN in training: a retry from the same
 *   checkpoint diverges again) → UnrecoverableError: failed at once, reason on the job;
 *   anything else → thrown as is: retried with exponential backoff up to `jobs.attempts`.
 * Cancellation (the worker got SIGTERM): training checkpoints and the job goes back to the queue
 * without using up an attempt (moveToDelayed + DelayedError), to resume on any worker.
 */
import { InputError, oneLine } from '../../src/errors/index.ts';
import {
  evaluateStage,
  ingestShardStage,
  mergeBucketStage,
  mergeStage,
  publishStage,
  readStage,
  stageFinished,
  stageStarted,
  trainStage,
  type StageContext,
} from '../../src/stages/index.ts';
import { parseStageJob, rootsFromEnv, type StageJobData } from '../jobData.ts';
import type { StageJobName } from '../queues.ts';
import type { ParentJob } from './evaluateJobs.ts';

/** The part of BullMQ's sandboxed job this processor uses. */
export interface SandboxedJob {
  id?: string;
  name: string;
  /** unchecked: whatever is in Redis (parseStageJob checks it) */
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number };
  updateProgress(progress: object | number): Promise<void>;
  log(row: string): Promise<void>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
  /** a parent's (the fanned-out evaluation's): evaluateJobs.ts ParentJob */
  queueQualifiedName?: string;
  moveToWaitingChildren?(token?: string): Promise<boolean>;
  getIgnoredChildrenFailures?(): Promise<Record<string, string>>;
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

const isUnrecoverable = (err: unknown) =>
  err instanceof InputError || (err instanceof Error && (err.name === 'NonFiniteError' || err.name === 'InputError' || err.name === 'GateRejectedError' || err.name === 'UnrecoverableError'));

export default async function processStage(job: SandboxedJob, token?: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const name = job.name as StageJobName;
  // one fit of a fanned-out evaluation (evaluateJobs.ts): its own job data, its result file its record
  if (job.name === 'fit') return (await import('./evaluateJobs.ts')).processFit(job);
  // Job data comes from Redis, whoever wrote it: checked before anything is read or written.
  let data: StageJobData;
  try {
    data = parseStageJob(job.data, rootsFromEnv(), `job ${job.id} (${job.name})`);
    if (!['shard', 'merge', 'bucket', 'train', 'evaluate', 'publish'].includes(name)) throw new InputError(`job ${job.id}: unknown stage job '${name}'; job refused`);
    if (name === 'shard' && data.shard === undefined) throw new InputError(`job ${job.id}: a shard job without job data field 'shard'; job refused`);
    if ((name === 'merge' || name === 'bucket') && data.shards === undefined) throw new InputError(`job ${job.id}: a ${name} job without job data field 'shards'; job refused`);
    if (name === 'bucket' && data.bucket === undefined) throw new InputError(`job ${job.id}: a bucket job without job data field 'bucket'; job refused`);
  } catch (err) {
    process.stdout.write(`[job ${job.id}] ${oneLine(err)}\n`);
    throw named('UnrecoverableError', oneLine(err));
  }
  const spec = data.run;
  const key = name === 'shard' ? `ingest-${data.shard}` : name === 'merge' ? 'ingest' : name === 'bucket' ? `ingest-bucket-${data.bucket}` : name;
  const prev = readStage(spec, key);
  if (prev?.status === 'done' && prev.result) {
    await job.log(`${key}: done earlier (${prev.worker}, ${prev.finished_at}); not run again`);
    return prev.result;
  }
  const rec = stageStarted(spec, key);
  const tag = `[${spec.runId} ${key}]`;
  let lastProgress = 0;
  const ctx: StageContext = {
    log: (line) => {
      process.stdout.write(`${tag} ${line}\n`);
      void job.log(line).catch(() => {});
    },
    progress: (percent, eta) => {
      const now = Date.now();
      if (now - lastProgress < 1000 && percent < 100) return;
      lastProgress = now;
      void job.updateProgress({ stage: key, percent: Math.round(percent * 10) / 10, eta_s: eta === null ? null : Math.ceil(eta) }).catch(() => {});
    },
    signal,
  };
  ctx.log(`started on ${rec.worker} (try ${rec.tries}, attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1})`);
  let result: Record<string, unknown>;
  try {
    switch (name) {
      case 'shard':
        result = await ingestShardStage(spec, data.shard!, ctx);
        break;
      case 'merge':
        if (spec.pipeline.ingest.merge_buckets > 1) {
          const { mergeByJobs } = await import('./mergeJobs.ts');
          result = await mergeByJobs(job as ParentJob, token, spec, data.shards!, ctx);
        } else result = await mergeStage(spec, data.shards!, ctx);
        break;
      case 'bucket':
        result = await mergeBucketStage(spec, data.shards!, data.bucket!, ctx);
        break;
      case 'train':
        result = await trainStage(spec, ctx);
        break;
      case 'evaluate':
        if (spec.pipeline.evaluate.fan_out === 'jobs') {
          const { evaluateByJobs } = await import('./evaluateJobs.ts');
          result = await evaluateByJobs(job as ParentJob, token, spec, ctx);
        } else result = await evaluateStage(spec, ctx);
        break;
      case 'publish': {
        // One publisher per model at a time: the Redis lease of the worker's Redis, then the store's
        // file lease inside it (so a hand-run `mtf export` still excludes this job); jobs/lease.ts.
        const { publishLockFromEnv } = await import('../lease.ts');
        result = await publishStage(spec, { ...ctx, publishLock: publishLockFromEnv() });
        break;
      }
      default:
        throw new InputError(`job ${job.id}: unknown stage job '${name}'`);
    }
  } catch (err) {
    const final = isUnrecoverable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const reason = `${key}: ${oneLine(err)}`;
    stageFinished(spec, rec, final ? 'failed' : 'retrying', null, oneLine(err));
    ctx.log(`${final ? 'failed' : 'failed, will retry'}: ${oneLine(err)}`);
    if (isUnrecoverable(err)) throw named('UnrecoverableError', reason);
    throw err;
  }
  if (result.status === 'waiting') {
    // the fanned-out evaluation added fit jobs (the bucketed merge, bucket jobs): the job waits for them, holding no worker slot, and
    // comes back (same try) when they are done
    stageFinished(spec, rec, 'waiting', result, null);
    ctx.log(`waiting for ${result.pending} ${name === 'merge' ? 'bucket' : 'fit'} jobs`);
    throw named('WaitingChildrenError', `waiting for its ${name === 'merge' ? 'bucket' : 'fit'} jobs`);
  }
  if (result.status === 'stopped') {
    // SIGTERM: the trainer wrote a checkpoint; hand the job back without spending an attempt.
    stageFinished(spec, rec, 'interrupted', result, null);
    ctx.log(`interrupted at step ${result.steps}: back to the queue, resumes from the checkpoint`);
    await job.moveToDelayed(Date.now() + 500, token);
    throw named('DelayedError', 'interrupted by worker shutdown; requeued');
  }
  stageFinished(spec, rec, 'done', result, null);
  ctx.log(`done`);
  if (name === 'publish' && result.decision !== 'published') {
    // The run ends here, rejected: CURRENT did not move. The job fails so that nobody misses it.
    throw named('UnrecoverableError', `gate rejected ${result.version}: ${result.reason}`);
  }
  return result;
}
