/**
 * The commands of the nightly system on Redis: trigger, schedule, worker, status, dashboard. They
 * wire the CLI to jobs/ (loaded only when one of them runs).
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { TransientError } from '../../errors/index.ts';
import { dateArg, examples, parseNumberFlag, timeZoneArg, UsageError } from '../flags.ts';
import { pipelineFrom, pipelineOptions } from '../pipelineArg.ts';
import { DESCRIPTIONS } from './index.ts';


async function connection(o: { redisUrl?: string; prefix?: string }) {
  const { queueConnection } = await import('../../../jobs/connection.ts');
  return queueConnection(process.env, { url: o.redisUrl, prefix: o.prefix });
}

const collect = (v: string, acc: string[] | undefined) => [...(acc ?? []), v];

/**
 * A worker's shutdown has finished (or failed): whatever ioredis still holds open (reconnect timers to
 * an unreachable Redis) must not keep the process alive. The exit code is the one main() sets.
 */
async function exitAfter<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } finally {
    setTimeout(() => process.exit(), 1000).unref();
  }
}

function redisOptions(cmd: Command): Command {
  return cmd.option('--redis-url <url>', 'overrides REDIS_URL').option('--prefix <p>', 'overrides MTF_QUEUE_PREFIX');
}

export function registerQueueCommands(program: Command): void {
  const trigger = redisOptions(
    pipelineOptions(
      program.command('trigger').description(DESCRIPTIONS.trigger),
    ),
  )
    .addOption(new Option('--date <YYYY-MM-DD>', 'the data date').argParser(dateArg).makeOptionMandatory())
    .option('--rerun', 'start a new attempt of a run that failed or was rejected')
    .action(async (o: Record<string, string | boolean | undefined> & { date: string }) => {
      const pipeline = await pipelineFrom(o as never, { logs: true });
      const conn = await connection(o as never);
      const { triggerRun } = await import('../../../jobs/trigger.ts');
      const r = await triggerRun(conn, pipeline, o.date, 'manual', { rerun: !!o.rerun });
      const what = r.action === 'exists' ? `exists (${r.outcome.status}${r.outcome.detail ? `: ${r.outcome.detail}` : ''}); nothing started` : `${r.action}: ${r.shards.length} ingest shards → train → evaluate → publish on ${conn.display}`;
      process.stdout.write(`${r.record.run_id}: ${what}\n`);
    });

  examples(trigger, ['mtf trigger --date 2026-11-18   # a backfill of one data date', 'mtf trigger --config pipelines/nightly.yaml --date 2026-11-18 --rerun']);

  const schedule = redisOptions(
    pipelineOptions(program.command('schedule').description(DESCRIPTIONS.schedule)),
  )
    .option('--cron <pattern>', 'cron pattern (default: the pipeline\'s schedule.cron, "0 3 * * *")')
    .addOption(new Option('--tz <zone>', 'IANA time zone of the pattern and the data date (default: schedule.tz)').argParser(timeZoneArg))
    .option('--remove', 'remove the scheduler instead')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const base = await pipelineFrom(o as never);
      const pipeline = { ...base, schedule: { ...base.schedule, cron: (o.cron as string) ?? base.schedule.cron, tz: (o.tz as string) ?? base.schedule.tz } };
      const conn = await connection(o as never);
      const { upsertSchedule, removeSchedule, checkTimeZone } = await import('../../../jobs/schedule.ts');
      if (o.remove) {
        const removed = await removeSchedule(conn, pipeline);
        process.stdout.write(`${pipeline.name}: scheduler ${removed ? 'removed' : 'was not there'}\n`);
        return;
      }
      checkTimeZone(pipeline.schedule.tz);
      const s = await upsertSchedule(conn, pipeline);
      process.stdout.write(
        `${s.id}: "${pipeline.schedule.cron}" (${pipeline.schedule.tz}) on ${conn.display}; next run ${s.next ? new Date(s.next).toISOString() : 'unknown'}; ` +
          `each run processes the data date ${pipeline.schedule.lag_days} day(s) before its day. Start workers with \`mtf worker\`.\n`,
      );
    });
  examples(schedule, ['mtf schedule --config pipelines/nightly.yaml --cron "0 3 * * *" --tz Europe/Berlin', 'mtf schedule --config pipelines/nightly.yaml --remove']);

  const worker = redisOptions(program.command('worker').description(DESCRIPTIONS.worker))
    .option('--queues <list>', 'comma-separated: trigger,ingest,train,evaluate,publish (default: all)')
    .option('--concurrency <n>', 'concurrent jobs per queue in this process (default: 1)')
    .option('--lock-ms <n>', 'job lock duration: a dead worker\'s job moves to another worker after this (default: 30000)')
    .option('--config <file>', 'a pipeline this worker runs jobs of, repeatable: its paths are where jobs may read logs and write artifacts and models (default: pipelines/nightly.yaml)', collect)
    .option('--allow-root <dir>', 'a folder jobs may also use for logs, artifacts and stores, repeatable', collect)
    .option('--shutdown-grace <s>', 'on SIGTERM, wait this long for running jobs to checkpoint and hand themselves back (default: 30)')
    .option('--metrics-port <port>', 'serve Prometheus metrics on <http-host>:<port>/metrics')
    .option('--dashboard-port <port>', 'serve the Bull Board dashboard on <http-host>:<port> (read-only unless --dashboard-write)')
    .option('--dashboard-write', 'let the dashboard retry, promote, clean and add jobs; needs MTF_DASHBOARD_PASSWORD in the environment (basic auth, user MTF_DASHBOARD_USER or mtf)')
    .option('--http-host <addr>', 'interface of the metrics and dashboard servers; one other than 127.0.0.1 needs MTF_DASHBOARD_PASSWORD for the dashboard (default: 127.0.0.1)')
    .option('--allowed-hosts <list>', 'comma-separated Host names the metrics and dashboard servers answer besides localhost, 127.0.0.1 and [::1] (e.g. the name a proxy forwards)')
    .action(async (o: Record<string, string | string[] | boolean | undefined>) => {
      const { QUEUES } = await import('../../../jobs/queues.ts');
      const all = Object.keys(QUEUES) as (keyof typeof QUEUES)[];
      const str = (v: unknown) => (v === undefined ? undefined : String(v));
      const queues = (o.queues ? String(o.queues).split(',').map((s) => s.trim()) : all) as (keyof typeof QUEUES)[];
      for (const q of queues) if (!all.includes(q)) throw new UsageError(`--queues: '${q}' is not one of ${all.join(', ')}`, '--queues');
      const concurrency = o.concurrency ? parseNumberFlag(String(o.concurrency), '--concurrency', { integer: true, min: 1 }) : 1;
      const lockMs = o.lockMs ? parseNumberFlag(String(o.lockMs), '--lock-ms', { integer: true, min: 1000 }) : undefined;
      const graceMs = o.shutdownGrace ? 1000 * parseNumberFlag(String(o.shutdownGrace), '--shutdown-grace', { min: 0, max: 3600 }) : undefined;
      const metricsPort = o.metricsPort ? parseNumberFlag(String(o.metricsPort), '--metrics-port', { integer: true, min: 0, max: 65535 }) : null;
      const dashboardPort = o.dashboardPort ? parseNumberFlag(String(o.dashboardPort), '--dashboard-port', { integer: true, min: 0, max: 65535 }) : null;
      const allowedHosts = o.allowedHosts ? String(o.allowedHosts).split(',').map((h) => h.trim()).filter(Boolean) : [];
      const { dashboardAuthFromEnv } = await import('../../../jobs/http.ts');
      const auth = dashboardAuthFromEnv();
      // Where jobs may read and write: the pipelines' paths and the --allow-root folders (jobs/jobData.ts).
      const { workerRoots } = await import('../../../jobs/jobData.ts');
      const configs = (o.config as string[] | undefined) ?? [undefined];
      const roots = workerRoots(
        await Promise.all(configs.map((config) => pipelineFrom({ config }))),
        ((o.allowRoot as string[] | undefined) ?? []).map((d) => resolve(d)),
      );
      const conn = await connection({ redisUrl: str(o.redisUrl), prefix: str(o.prefix) });
      const { startWorkers } = await import('../../../jobs/worker.ts');
      const say = (line: string) => process.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
      const running = startWorkers({ conn, queues, concurrency, lockDurationMs: lockMs, roots, say });
      const servers: { close(): Promise<unknown> }[] = [];
      try {
        if (metricsPort !== null || dashboardPort !== null) {
          const { startHttp } = await import('../../../jobs/http.ts');
          const s = await startHttp({
            conn,
            metrics: metricsPort !== null ? running.metrics : null,
            metricsPort,
            dashboardPort,
            host: str(o.httpHost),
            allowedHosts,
            dashboardWrite: !!o.dashboardWrite,
            auth,
          });
          for (const line of s.lines) say(line);
          servers.push(...s.servers);
        }
      } catch (err) {
        await exitAfter(running.close({ graceMs: 0 }));
        throw err;
      }
      say(`worker ${process.pid}: queues ${queues.join(', ')} on ${conn.display} (prefix ${conn.prefix}), concurrency ${concurrency}`);
      say(`roots: logs ${[...roots.logs, ...roots.any].join(', ')}; artifacts ${[...roots.artifacts, ...roots.any].join(', ')}; stores ${[...roots.store, ...roots.any].join(', ')}`);
      const sig = await new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      say(`${sig}: cancelling running jobs (training checkpoints and requeues), then closing`);
      const result = await exitAfter(
        running.close({ graceMs }).then(async (r) => {
          // The dashboard's queues talk to Redis too: bounded like the workers.
          await Promise.race([Promise.all(servers.map((s) => s.close())), new Promise((r) => setTimeout(r, 5000).unref())]);
          return r;
        }),
      );
      if (!result.clean) throw new TransientError(`worker ${process.pid} did not stop cleanly: ${result.detail}`);
      say('worker closed');
    });
  examples(worker, ['mtf worker   # every queue, the pipelines/nightly.yaml paths', 'mtf worker --queues ingest,train --concurrency 2 --metrics-port 9464 --config pipelines/nightly.yaml']);

  const status = redisOptions(pipelineOptions(program.command('status').description(DESCRIPTIONS.status)))
    .option('--runs <n>', 'how many runs (default: 10)')
    .option('--json', 'machine-readable output')
    .option('--no-redis', 'only what is on disk (run records, model store)')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const pipeline = await pipelineFrom(o as never);
      const limit = o.runs ? parseNumberFlag(String(o.runs), '--runs', { integer: true, min: 1 }) : 10;
      const { collectStatus, formatStatus } = await import('../../../jobs/status.ts');
      const conn = o.redis === false ? null : await connection(o as never);
      const s = await collectStatus(pipeline, conn, limit);
      process.stdout.write(o.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
    });
  examples(status, ['mtf status --config pipelines/nightly.yaml', 'mtf status --config out/demo/pipeline.json --no-redis --json']);
}
