/**
 * `npm run bench:workers`: the nightly as BullMQ jobs on N `mtf worker` processes (issue 20 §2: ten
 * times the paper across workers, no process holding all rows), stage by stage: wall time from the
 * trigger to the run's outcome, each job's seconds, worker and peak RSS, and each worker process's
 * peak RSS (GNU time: the largest of the process and its sandboxed children).
 *
 *   npm run bench:workers -- --logs <dir> [--work /tmp/mtf-workers-bench] [--workers 2]
 *                            [--buckets 16] [--shard-mib 512] [--train-sample 1] [--eval-sample 1] [--fan-out jobs]
 *                            [--config pipelines/nightly.yaml] [--redis-url redis://127.0.0.1:6379]
 *
 * The pipeline is --config with the merge in --buckets buckets, training and evaluation on the given
 * share of sessions, and evaluation fanned out as jobs (or threads). Logs are not made here: simulate
 * them (one `mtf simulate` per seed makes independent sessions; src/stages/README.md §3 shows how the
 * 10× logs were made). Redis under a key prefix of its own, removed at the end. A job's peak RSS is its
 * sandboxed child's at the job's end: BullMQ reuses a child for later jobs, so it is the largest of the
 * jobs that child ran until then. Prints one markdown table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { loadConfigFile } from '../../src/config/index.ts';
import { PipelineConfig } from '../../src/config/pipeline.ts';

const { values } = parseArgs({
  options: {
    logs: { type: 'string' },
    work: { type: 'string', default: '/tmp/mtf-workers-bench' },
    workers: { type: 'string', default: '2' },
    buckets: { type: 'string', default: '16' },
    'shard-mib': { type: 'string' },
    'train-sample': { type: 'string', default: '1' },
    'eval-sample': { type: 'string', default: '1' },
    'fan-out': { type: 'string', default: 'jobs' },
    config: { type: 'string', default: 'pipelines/nightly.yaml' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    date: { type: 'string', default: '2026-11-20' },
  },
});
if (!values.logs) throw new Error('--logs <dir>: the parquet logs (dt=YYYY-MM-DD partitions)');
if (!existsSync('/usr/bin/time')) throw new Error('bench:workers needs GNU time at /usr/bin/time (apt-get install time)');
const mtf = resolve('bin/mtf.js');
const work = resolve(values.work);
const logs = resolve(values.logs);
const N = Number(values.workers);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// the pipeline: --config with this bench's settings
const base = loadConfigFile(resolve(values.config), PipelineConfig);
const pipeline = {
  ...base,
  paths: { logs, artifacts: join(work, 'artifacts'), store: join(work, 'models') },
  ingest: { ...base.ingest, merge_buckets: Number(values.buckets), ...(values['shard-mib'] ? { shard_mib: Number(values['shard-mib']) } : {}) },
  train: { ...base.train, sample_sessions: Number(values['train-sample']) },
  evaluate: { ...base.evaluate, sample_sessions: Number(values['eval-sample']), fan_out: values['fan-out'] as 'jobs' | 'threads' },
};
const config = join(work, 'pipeline.json');
writeFileSync(config, JSON.stringify(pipeline, null, 2));
const prefix = `mtfbench-${randomBytes(3).toString('hex')}`;
const env = { ...process.env, REDIS_URL: values['redis-url'], MTF_QUEUE_PREFIX: prefix };

function start(i: number): { proc: ChildProcess; timeFile: string; done: Promise<void> } {
  const timeFile = join(work, `worker-${i}.time`);
  const log = join(work, `worker-${i}.log`);
  const out = openSync(log, 'w');
  const proc = spawn('/usr/bin/time', ['-f', '%M %e', '-o', timeFile, process.execPath, mtf, 'worker', '--config', config, '--concurrency', '1', '--shutdown-grace', '60'], {
    env: { ...env, MTF_WORKER_ID: `w${i}` },
    stdio: ['ignore', out, out],
  });
  return { proc, timeFile, done: new Promise((r) => proc.on('exit', () => r())) };
}

const workers = Array.from({ length: N }, (_, i) => start(i + 1));
const t0 = performance.now();
const trig = spawn(process.execPath, [mtf, 'trigger', '--config', config, '--date', values.date], { env, stdio: 'inherit' });
await new Promise((r) => trig.on('exit', r));
const runDir = join(work, 'artifacts', 'runs', pipeline.name, values.date);
let outcome = '';
for (;;) {
  await new Promise((r) => setTimeout(r, 2000));
  const stagesDir = join(runDir, 'a1', 'stages');
  if (!existsSync(stagesDir)) continue;
  const pub = join(stagesDir, 'publish.json');
  const records = readdirSync(stagesDir).map((f) => JSON.parse(readFileSync(join(stagesDir, f), 'utf8')) as { stage: string; status: string; error?: string | null });
  const failed = records.find((r) => r.status === 'failed');
  if (failed) {
    outcome = `failed in ${failed.stage}: ${failed.error}`;
    break;
  }
  if (existsSync(pub) && JSON.parse(readFileSync(pub, 'utf8')).status !== 'running') {
    outcome = `publish ${JSON.parse(readFileSync(pub, 'utf8')).result?.decision ?? JSON.parse(readFileSync(pub, 'utf8')).status}`;
    break;
  }
}
const wall = (performance.now() - t0) / 1000;
// SIGTERM to each worker itself (GNU time would die of it without writing its figures)
for (const w of workers) {
  const child = spawnSync('pgrep', ['-P', String(w.proc.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  if (child) process.kill(Number(child), 'SIGTERM');
  else w.proc.kill('SIGTERM');
}
await Promise.all(workers.map((w) => w.done));
// the queue's keys under this bench's prefix
const { Redis } = await import('ioredis');
const r = new Redis(values['redis-url']!);
const keys = await r.keys(`${prefix}:*`);
if (keys.length) await r.del(...keys);
r.disconnect();

interface Rec { stage: string; seconds: number; peak_rss_mib?: number; worker: string; started_at: string; result?: Record<string, unknown> | null }
const stagesDir = join(runDir, 'a1', 'stages');
const recs = readdirSync(stagesDir).map((f) => JSON.parse(readFileSync(join(stagesDir, f), 'utf8')) as Rec);
recs.sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);
const gib = (m?: number) => (m ? `${(m / 1024).toFixed(2)} GiB` : '–');
const group = (name: string, pick: (r: Rec) => boolean) => {
  const g = recs.filter(pick);
  if (!g.length) return [];
  const span = (Math.max(...g.map((x) => Date.parse(x.started_at) + x.seconds * 1000)) - Math.min(...g.map((x) => Date.parse(x.started_at)))) / 1000;
  const procs = new Set(g.map((x) => x.worker.split('#')[0]));
  return [`| ${name} (${g.length} jobs on ${procs.size} workers) | ${fmt(span)} (jobs ${fmt(Math.min(...g.map((x) => x.seconds)))} … ${fmt(Math.max(...g.map((x) => x.seconds)))}) | ${gib(Math.max(...g.map((x) => x.peak_rss_mib ?? 0)))} |`];
};
const meta = JSON.parse(readFileSync(join(runDir, 'a1', 'trajectories', 'ingest-report.json'), 'utf8')) as { rows_read: number; sessions: number; transitions: number };
const perWorker = workers.map((w, i) => {
  const [kib, secs] = readFileSync(w.timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return `w${i + 1} ${(kib / 1024 / 1024).toFixed(2)} GiB (${fmt(secs)})`;
});
const lines = [
  `${meta.rows_read.toLocaleString('en')} requests read, ${meta.sessions.toLocaleString('en')} sessions, ${meta.transitions.toLocaleString('en')} transitions; ${N} workers × concurrency 1 on ${cpus().length} cores; merge_buckets ${values.buckets}, shard_mib ${pipeline.ingest.shard_mib}, train.sample_sessions ${values['train-sample']}, evaluate.sample_sessions ${values['eval-sample']}, evaluate.fan_out ${values['fan-out']}`,
  '',
  '| stage | wall | largest job peak RSS |',
  '|---|---:|---:|',
  ...group('ingest shards', (x) => x.stage.startsWith('ingest-dt=') || x.stage.startsWith('ingest-file-')),
  ...group('merge buckets', (x) => x.stage.startsWith('ingest-bucket-')),
  ...recs.filter((x) => ['ingest', 'train', 'evaluate', 'publish'].includes(x.stage)).map((x) => `| ${x.stage === 'ingest' ? 'merge (plan the split, place the parts)' : x.stage} | ${fmt(x.seconds)} | ${gib(x.peak_rss_mib)} |`),
  `| **trigger → outcome** (${outcome}) | **${fmt(wall)}** | per worker process: ${perWorker.join(', ')} |`,
];
console.log(lines.join('\n'));
