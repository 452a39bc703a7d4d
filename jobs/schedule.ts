/**
 * The nightly schedule is a BullMQ job scheduler (upserted, so running `mtf schedule` again changes
 * it rather than adding a second one). Its jobs land on the trigger queue; scheduler-made jobs cannot
 * carry custom ids, so the trigger processor claims the run and builds the run's flow itself.
 */
import { Queue } from 'bullmq';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { InputError } from '../src/errors/index.ts';
import { checkReachable, type QueueConnection } from './connection.ts';
import { QUEUES } from './queues.ts';

/** A trigger job's data: the pipeline to run (schema: jobData.ts; the trigger processor checks it). */
export type { TriggerJobData } from './jobData.ts';

export function schedulerId(pipeline: PipelineConfig): string {
  return `${pipeline.name}-schedule`;
}

export function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new InputError(`--tz: '${tz}' is not an IANA time zone (e.g. UTC, Europe/Berlin, Asia/Shanghai)`, { field: '--tz' });
  }
}

export async function upsertSchedule(conn: QueueConnection, pipeline: PipelineConfig): Promise<{ id: string; next: number | null }> {
  checkTimeZone(pipeline.schedule.tz);
  await checkReachable(conn);
  const q = new Queue(QUEUES.trigger, { connection: conn.redis, prefix: conn.prefix });
  try {
    const id = schedulerId(pipeline);
    try {
      await q.upsertJobScheduler(
        id,
        { pattern: pipeline.schedule.cron, tz: pipeline.schedule.tz },
        { name: 'trigger', data: { pipeline }, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
      );
    } catch (err) {
      if (/cron|pattern|Invalid/i.test(String((err as Error).message))) {
        throw new InputError(`--cron: '${pipeline.schedule.cron}' is not a valid cron pattern: ${(err as Error).message}`, { field: '--cron' });
      }
      throw err;
    }
    const s = await q.getJobScheduler(id);
    return { id, next: s?.next ?? null };
  } finally {
    await q.close();
  }
}

export async function removeSchedule(conn: QueueConnection, pipeline: PipelineConfig): Promise<boolean> {
  const q = new Queue(QUEUES.trigger, { connection: conn.redis, prefix: conn.prefix });
  try {
    return await q.removeJobScheduler(schedulerId(pipeline));
  } finally {
    await q.close();
  }
}
