/**
 * Starting runs: `mtf trigger --date D` (a backfill, or by hand) and the job scheduler's nightly job
 * both come here. A run is claimed in its run record first (src/stages/run.ts): a second trigger for
 * the same pipeline and date starts nothing, even when Redis no longer has the first run's jobs.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../src/io/index.ts';
import { claimRun, planIngest, runDirs, runOutcome, specOf, workerName, type RunOutcome, type RunRecord, type RunSpec } from '../src/stages/index.ts';
import { checkReachable, type QueueConnection } from './connection.ts';
import { jobId, QUEUES, runFlow } from './queues.ts';

/** A claim this young whose flow is not in Redis yet is being added by its claimer right now. */
export const CLAIM_GRACE_MS = 60_000;

/** Written after the run's flow was added: from then on, a flow missing from Redis was lost. */
function flowMarker(spec: RunSpec): string {
  return join(runDirs(spec).work, 'flow.json');
}

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
  await checkReachable(conn); // before claiming: a claim without a flow would wait out the grace period
  const claim = claimRun(pipeline, date, trigger, opts);
  const record = claim.record;
  const spec = claim.claimed ? claim.spec : specOf(record);
  if (!claim.claimed) {
    if (claim.outcome.status !== 'running') return { record, action: 'exists', outcome: claim.outcome, shards: [] };
    // Claimed but unfinished. Its flow is in Redis (job ids are fixed per run, so this is exact), or
    // the claimer is adding it right now, or the claimer died before adding it / Redis lost it.
    const q = new Queue(QUEUES.publish, { connection: conn.redis, prefix: conn.prefix });
    try {
      if (await q.getJob(jobId(spec.runId, 'publish'))) return { record, action: 'exists', outcome: claim.outcome, shards: [] };
    } finally {
      await q.close();
    }
    const added = existsSync(flowMarker(spec));
    if (!added && Date.now() - Date.parse(record.created_at) < CLAIM_GRACE_MS) return { record, action: 'exists', outcome: claim.outcome, shards: [] };
  }
  const shards = await planIngest(spec);
  const flow = new FlowProducer({ connection: conn.redis, prefix: conn.prefix });
  try {
    await flow.add(runFlow(spec, shards));
  } finally {
    await flow.close();
  }
  writeJsonAtomic(flowMarker(spec), { added_at: new Date().toISOString(), by: workerName(), shards });
  return { record, action: claim.claimed ? 'started' : 'requeued', outcome: runOutcome(record), shards };
}

/** The data date a scheduled run processes: the scheduled day in `tz`, minus `lagDays`. */
export function dataDate(now: Date, tz: string, lagDays: number): string {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now); // YYYY-MM-DD
  const t = Date.parse(`${day}T00:00:00Z`) - lagDays * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}
