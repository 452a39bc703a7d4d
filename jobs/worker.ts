/**
 * `mtf worker`: BullMQ workers for the chosen queues in one process. Stage jobs run sandboxed (a child
 * process each, jobs/sandbox.mjs); trigger jobs (from the scheduler) run in-process — they only claim
 * the run and add its flow.
 *
 * Shutdown (SIGTERM/SIGINT → `close`): running jobs are cancelled — training checkpoints and requeues
 * itself, the other stages finish — then the workers close and the process exits 0. A worker that is
 * killed outright (SIGKILL, power loss) leaves its jobs active; BullMQ's stalled check hands them to
 * another worker after `lockDurationMs`, and they resume from what is on disk.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import { oneLine } from '../src/errors/index.ts';
import type { QueueConnection } from './connection.ts';
import { WorkerMetrics } from './metrics.ts';
import { QUEUES, type QueueKey } from './queues.ts';
import type { TriggerJobData } from './schedule.ts';
import { dataDate, triggerRun } from './trigger.ts';

export const SANDBOX_FILE = join(import.meta.dirname, 'sandbox.mjs');

export interface WorkerOptions {
  conn: QueueConnection;
  queues: QueueKey[];
  /** concurrent jobs per queue in this process (each stage job is its own child process) */
  concurrency: number;
  /** how long a job's lock lives without renewal: a dead worker's job is taken over after this */
  lockDurationMs?: number;
  /** how often this worker looks for stalled jobs (default: lockDurationMs) */
  stalledIntervalMs?: number;
  metrics?: WorkerMetrics;
  say?: (line: string) => void;
}

export interface RunningWorkers {
  workers: Worker[];
  metrics: WorkerMetrics;
  /** cancel running jobs (training checkpoints and requeues), wait for them, close */
  close(): Promise<void>;
}

export const DEFAULT_LOCK_MS = 30_000;

export function startWorkers(o: WorkerOptions): RunningWorkers {
  const say = o.say ?? ((line: string) => process.stdout.write(line + '\n'));
  // Inherited by the sandboxed children: stage records name the worker process and the child.
  process.env.MTF_WORKER_ID ??= `${hostname()}/${process.pid}`;
  const metrics = o.metrics ?? new WorkerMetrics();
  const lockDuration = o.lockDurationMs ?? DEFAULT_LOCK_MS;
  const common = {
    connection: o.conn.redis,
    prefix: o.conn.prefix,
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: o.stalledIntervalMs ?? lockDuration,
    // A job whose worker died twice is failed rather than retried forever.
    maxStalledCount: 2,
  };
  const workers: Worker[] = [];
  for (const key of o.queues) {
    const w =
      key === 'trigger'
        ? new Worker<TriggerJobData>(
            QUEUES.trigger,
            async (job: Job<TriggerJobData>) => {
              const p = job.data.pipeline;
              const when = new Date(job.timestamp + (job.opts.delay ?? 0));
              const date = dataDate(when, p.schedule.tz, p.schedule.lag_days);
              const r = await triggerRun(o.conn, p, date, 'schedule');
              const line = `trigger ${p.name} ${date}: ${r.action} ${r.record.run_id}${r.shards.length ? ` (${r.shards.length} ingest shards)` : ''}`;
              await job.log(line);
              say(line);
              return { run_id: r.record.run_id, action: r.action, date };
            },
            { ...common, concurrency: 1 },
          )
        : new Worker(QUEUES[key], SANDBOX_FILE, { ...common, useWorkerThreads: false });
    w.on('completed', (job, result) => {
      const seconds = job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0;
      metrics.completed(job.name, seconds, (result ?? null) as Record<string, unknown> | null);
      say(`${QUEUES[key]} ${job.id}: completed in ${seconds.toFixed(1)} s`);
    });
    w.on('failed', (job, err) => {
      if (!job) return;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      // A parent failed because its child did ("child <key> failed"): counted once, at the child.
      if (!/^child .+ failed$/.test(err.message)) metrics.failed(job.name, final, /^gate rejected/.test(err.message));
      say(`${QUEUES[key]} ${job.id}: failed${final ? '' : ', will retry'}: ${oneLine(err)}`);
    });
    w.on('stalled', (jobId) => say(`${QUEUES[key]} ${jobId}: stalled (its worker stopped renewing the lock); handed to the next worker`));
    // Connection errors are reported, not fatal: ioredis reconnects and the worker goes on.
    w.on('error', (err) => say(`${QUEUES[key]}: ${oneLine(err)}`));
    workers.push(w);
  }
  let closing: Promise<void> | null = null;
  return {
    workers,
    metrics,
    close: () =>
      (closing ??= (async () => {
        for (const w of workers) w.cancelAllJobs('worker shutdown');
        await Promise.all(workers.map((w) => w.close()));
      })()),
  };
}
