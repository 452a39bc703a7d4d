/**
 * Starting runs: `mtf trigger --date D` (a backfill, or by hand) and the job scheduler's nightly job
 * both come here. A run is claimed in its run record first (src/stages/run.ts): a second trigger for
 * the same pipeline and date starts nothing, even when Redis no longer has the first run's jobs.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { claimRun, planIngest, runOutcome, specOf, type RunOutcome, type RunRecord } from '../src/stages/index.ts';
import type { QueueConnection } from './connection.ts';
import { jobId, QUEUES, runFlow } from './queues.ts';

export interface TriggerResult {
  record: RunRecord;
  /** 'started': a new run's flow was added; 'requeued': the run was claimed earlier but its flow was
   *  missing from Redis (the trigger died in between, or Redis lost it) and was added again;
   *  'exists': nothing was added */
  action: 'started' | 'requeued' | 'exists';
  outcome: RunOutcome;
  shards: string[];
}

export async function triggerRun(
  conn: QueueConnection,
  pipeline: PipelineConfig,
  date: string,
  trigger: RunRecord['trigger'],
  opts: { rerun?: boolean } = {},
): Promise<TriggerResult> {
  const claim = claimRun(pipeline, date, trigger, opts);
  const record = claim.record;
  const spec = claim.claimed ? claim.spec : specOf(record);
  if (!claim.claimed) {
    if (claim.outcome.status !== 'running') return { record, action: 'exists', outcome: claim.outcome, shards: [] };
    // Claimed but unfinished: are its jobs in Redis? (job ids are fixed per run, so this is exact)
    const q = new Queue(QUEUES.publish, { connection: conn.redis, prefix: conn.prefix });
    try {
      if (await q.getJob(jobId(spec.runId, 'publish'))) return { record, action: 'exists', outcome: claim.outcome, shards: [] };
    } finally {
      await q.close();
    }
  }
  const shards = await planIngest(spec);
  const flow = new FlowProducer({ connection: conn.redis, prefix: conn.prefix });
  try {
    await flow.add(runFlow(spec, shards));
  } finally {
    await flow.close();
  }
  return { record, action: claim.claimed ? 'started' : 'requeued', outcome: runOutcome(record), shards };
}

/** The data date a scheduled run processes: the scheduled day in `tz`, minus `lagDays`. */
export function dataDate(now: Date, tz: string, lagDays: number): string {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now); // YYYY-MM-DD
  const t = Date.parse(`${day}T00:00:00Z`) - lagDays * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}
