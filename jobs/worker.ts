/**
 * `mtf worker`: BullMQ workers for the chosen queues in one process. Stage jobs run sandboxed (a child
 * process each, jobs/sandbox.mjs); trigger jobs (from the scheduler) run in-process — they only claim
 * the run and add its flow. Every job's data is checked against the worker's roots first (jobData.ts).
 *
 * Shutdown (SIGTERM/SIGINT → `close`), bounded whatever Redis does:
 *   1. running jobs are cancelled — training checkpoints on disk and hands its job back to the queue,
 *      the other stages finish — and waited for up to `graceMs`;
 *   2. the workers close their Redis connections, waited for up to CLOSE_TIMEOUT_MS.
 * When either wait runs out (Redis unreachable: a job cannot be handed back, a connection cannot say
 * goodbye) `close` says so and the caller exits non-zero; what was not handed back is taken over as
 * stalled by another worker after `lockDurationMs` and resumes from what is on disk. A worker that is
 * killed outright (SIGKILL, power loss) leaves its jobs active in the same way.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker, type Job, type Processor, type WorkerOptions as BullWorkerOptions } from 'bullmq';
import { oneLine } from '../src/errors/index.ts';
import type { QueueConnection } from './connection.ts';
import { parseTriggerJob, ROOTS_ENV, rootsToEnv, type WorkerRoots } from './jobData.ts';
import { LEASE_ENV, leaseEnv } from './lease.ts';
import { WorkerMetrics } from './metrics.ts';
import { QUEUES, type QueueKey } from './queues.ts';
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
  /** where jobs may read logs and write artifacts and models (jobData.ts) */
  roots: WorkerRoots;
  metrics?: WorkerMetrics;
  say?: (line: string) => void;
}

/** How a shutdown went: clean = every running job settled and every connection closed in time. */
export interface ShutdownResult {
  clean: boolean;
  /** jobs still running when the grace period ran out (stopped; taken over as stalled later) */
  unsettledJobs: number;
  /** one line for the operator when not clean */
  detail: string;
}

export interface RunningWorkers {
  workers: Worker[];
  metrics: WorkerMetrics;
  /** cancel running jobs (training checkpoints and requeues), wait for them, close; bounded (see above) */
  close(o?: { graceMs?: number }): Promise<ShutdownResult>;
}

export const DEFAULT_LOCK_MS = 30_000;
/** How long a shutdown waits for cancelled jobs (a training checkpoint takes seconds). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
/** How long closing the Redis connections may take once the jobs are done. */
export const CLOSE_TIMEOUT_MS = 5_000;

/** A BullMQ Worker that can say which jobs it is running (BullMQ keeps that protected). */
class MtfWorker<D = unknown> extends Worker<D> {
  constructor(name: string, processor: string | Processor<D>, opts: BullWorkerOptions) {
    super(name, processor, opts);
  }
  /** the jobs this worker is running (their locks it renews) */
  activeJobIds(): string[] {
    return this.lockManager.getTrackedJobIds();
  }
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((r) => setTimeout(() => r('timeout'), ms).unref());
}

/** Says the first error of a kind at once, then at most once a minute with how often it happened meanwhile. */
function rateLimited(say: (line: string) => void, everyMs = 60_000) {
  const seen = new Map<string, { at: number; repeats: number }>();
  return (line: string) => {
    const now = Date.now();
    const s = seen.get(line);
    if (s && now - s.at < everyMs) {
      s.repeats++;
      return;
    }
    say(s && s.repeats > 0 ? `${line} (${s.repeats} more times since the last report)` : line);
    seen.set(line, { at: now, repeats: 0 });
  };
}

export function startWorkers(o: WorkerOptions): RunningWorkers {
  const say = o.say ?? ((line: string) => process.stdout.write(line + '\n'));
  // Inherited by the sandboxed children: stage records name the worker process and the child.
  process.env.MTF_WORKER_ID ??= `${hostname()}/${process.pid}`;
  // The sandboxed children check their jobs against the same roots.
  process.env[ROOTS_ENV] = rootsToEnv(o.roots);
  // ... and publish under the Redis lease of the queues' Redis (besides the store's file lease).
  process.env[LEASE_ENV] = leaseEnv(o.conn);
  const sayError = rateLimited(say);
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
  const workers: MtfWorker[] = [];
  for (const key of o.queues) {
    const w: MtfWorker =
      key === 'trigger'
        ? new MtfWorker(
            QUEUES.trigger,
            async (job: Job) => {
              let p;
              try {
                p = parseTriggerJob(job.data, o.roots, `job ${job.id} (${job.name})`).pipeline;
              } catch (err) {
                say(`${QUEUES.trigger} ${job.id}: ${oneLine(err)}`);
                throw new UnrecoverableError(oneLine(err));
              }
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
        : new MtfWorker(QUEUES[key], SANDBOX_FILE, { ...common, useWorkerThreads: false });
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
    // Connection errors are reported, not fatal: ioredis reconnects and the worker goes on. While Redis
    // is away the same error comes every couple of seconds: said once, then once a minute with a count.
    w.on('error', (err) => sayError(`${QUEUES[key]}: ${oneLine(err)}`));
    workers.push(w);
  }
  let closing: Promise<ShutdownResult> | null = null;
  return {
    workers,
    metrics,
    close: (c = {}) => (closing ??= shutdown(workers, c.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS)),
  };
}

async function shutdown(workers: MtfWorker[], graceMs: number): Promise<ShutdownResult> {
  const running = workers.flatMap((w) => w.activeJobIds());
  for (const w of workers) w.cancelAllJobs('worker shutdown');
  // 1. The cancelled jobs settle: training writes its checkpoint locally and hands its job back (a
  //    message to Redis that this process sends on its behalf); other stages run to their end.
  const active = () => workers.reduce((n, w) => n + w.activeJobIds().length, 0);
  const t0 = Date.now();
  while (active() > 0 && Date.now() - t0 < graceMs) await new Promise((r) => setTimeout(r, 100));
  const unsettled = active();
  // 2. Connections close (QUIT). A Redis that does not answer is not waited for longer than this; then
  //    it is unknown whether the hand-backs of step 1 reached it.
  const closed = await Promise.race([Promise.all(workers.map((w) => w.close(unsettled > 0))).then(() => 'closed' as const), timeout(CLOSE_TIMEOUT_MS)]);
  if (unsettled === 0 && closed === 'closed') return { clean: true, unsettledJobs: 0, detail: '' };
  const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
  const takeover = 'another worker takes them over as stalled once their lock expires, and training resumes from its last checkpoint';
  const detail =
    unsettled > 0
      ? `${jobs(unsettled)} still running after ${(graceMs / 1000).toFixed(0)} s were stopped; ${takeover}`
      : running.length > 0
        ? `Redis did not answer while the worker closed, so the ${jobs(running.length)} running at shutdown (${running.join(', ')}) may not have been handed back; ${takeover}`
        : 'Redis did not answer while the worker closed; nothing was running';
  return { clean: false, unsettledJobs: unsettled, detail };
}
