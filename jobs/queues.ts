/**
 * Queue names, job options and the flow of one run. Each stage has its own queue so that workers can
 * specialise (`mtf worker --queues train` on the machines with the cores), and a run is one BullMQ flow
 * whose parents start only when their children completed:
 *
 *   publish ← evaluate ← train ← ingest (merge) ← ingest shard × one per dt= partition
 *
 * Job ids are derived from the run id, so adding the same run twice adds nothing twice. A child that
 * fails for good fails its parents (failParentOnFailure): the run shows as failed at the top.
 */
import type { FlowJob, JobsOptions } from 'bullmq';
import type { RunSpec } from '../src/stages/index.ts';
import type { StageJobData } from './jobData.ts';

export const QUEUES = {
  trigger: 'mtf-trigger',
  ingest: 'mtf-ingest',
  train: 'mtf-train',
  evaluate: 'mtf-evaluate',
  publish: 'mtf-publish',
} as const;
export type QueueKey = keyof typeof QUEUES;
export const STAGE_QUEUES: QueueKey[] = ['ingest', 'train', 'evaluate', 'publish'];

/**
 * Job names inside the stage queues (the sandboxed processor dispatches on them); `fit`: one fit of a
 * fanned-out evaluation, added by its evaluate job (processors/evaluateJobs.ts), not by the flow.
 */
export type StageJobName = 'shard' | 'merge' | 'bucket' | 'train' | 'evaluate' | 'publish' | 'fit';

/** A stage job's data: the run, and the shard key (shard jobs) or every key (merge jobs); schema in jobData.ts. */
export type { StageJobData };

export function jobId(runId: string, stage: string): string {
  return `${runId}__${stage}`;
}

export function stageJobOptions(spec: RunSpec): JobsOptions {
  const j = spec.pipeline.jobs;
  return {
    attempts: j.attempts,
    backoff: { type: 'exponential', delay: j.backoff_ms },
    // History for `mtf status` and the dashboard; the run record on disk outlives it.
    removeOnComplete: { age: 14 * 86_400, count: 2000 },
    removeOnFail: { age: 30 * 86_400, count: 2000 },
  };
}

export function runFlow(spec: RunSpec, shardKeys: string[]): FlowJob {
  const opts = stageJobOptions(spec);
  const child = { ...opts, failParentOnFailure: true };
  const data = (extra: Partial<StageJobData> = {}): StageJobData => ({ run: spec, ...extra });
  return {
    name: 'publish',
    queueName: QUEUES.publish,
    data: data(),
    opts: { ...opts, jobId: jobId(spec.runId, 'publish') },
    children: [
      {
        name: 'evaluate',
        queueName: QUEUES.evaluate,
        data: data(),
        opts: { ...child, jobId: jobId(spec.runId, 'evaluate') },
        children: [
          {
            name: 'train',
            queueName: QUEUES.train,
            data: data(),
            opts: { ...child, jobId: jobId(spec.runId, 'train') },
            children: [
              {
                name: 'merge',
                queueName: QUEUES.ingest,
                data: data({ shards: shardKeys }),
                opts: { ...child, jobId: jobId(spec.runId, 'ingest') },
                children: shardKeys.map((key) => ({
                  name: 'shard',
                  queueName: QUEUES.ingest,
                  data: data({ shard: key }),
                  opts: { ...child, jobId: jobId(spec.runId, `ingest-${key}`) },
                })),
              },
            ],
          },
        ],
      },
    ],
  };
}
