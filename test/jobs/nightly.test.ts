/**
 * The nightly system on a real Redis with `mtf worker` processes:
 * - `mtf schedule` + `mtf worker` run a whole nightly pipeline on simulated logs and publish a model;
 *   the scheduler firing again for the same data date starts no second run;
 * - duplicate triggers racing each other start one run, also after Redis lost the jobs;
 * - two workers on the same queues never run a stage of a run twice (stage records: one try each,
 *   no overlapping intervals) and share the ingest fan-out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUES, jobId } from '../../jobs/queues.ts';
import { removeSchedule, upsertSchedule } from '../../jobs/schedule.ts';
import { dataDate, triggerRun } from '../../jobs/trigger.ts';
import { listStages, readRunRecord, runOutcome, specOf } from '../../src/stages/index.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { NO_REDIS, SHARED_REDIS, startWorker, testConnection, testQueue, waitFor } from './harness.ts';

const versionsIn = (store: string) => readdirSync(join(store, 'fusion')).filter((d) => d.startsWith('nightly-'));

test('dataDate: the scheduled day in the time zone, minus the lag', () => {
  // 01:30 UTC on the 21st is still the 20th in New York
  assert.equal(dataDate(new Date('2026-11-21T01:30:00Z'), 'America/New_York', 1), '2026-11-19');
  assert.equal(dataDate(new Date('2026-11-21T01:30:00Z'), 'UTC', 1), '2026-11-20');
  assert.equal(dataDate(new Date('2026-03-01T12:00:00Z'), 'Asia/Shanghai', 1), '2026-02-28');
});

test('mtf schedule + mtf worker: the scheduled run publishes one model; later firings start nothing', { skip: NO_REDIS, timeout: 240_000 }, async () => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const pipeline = tinyPipeline(work, logs);
  // Fires every 2 s; the data date is "today minus lag" — lag chosen so that today − lag = END_DATE.
  const today = new Date().toISOString().slice(0, 10);
  const lag = Math.round((Date.parse(today) - Date.parse(END_DATE)) / 86_400_000);
  const file = join(work, 'pipeline.json');
  writeFileSync(file, JSON.stringify({ ...pipeline, schedule: { cron: '*/2 * * * * *', tz: 'UTC', lag_days: lag } }));
  const env = { REDIS_URL: SHARED_REDIS, MTF_QUEUE_PREFIX: conn.prefix };
  const sched = runMtfEnv(['schedule', '--config', file], env);
  assert.equal(sched.code, 0, sched.stderr);
  assert.match(sched.stdout, /nightly-schedule: "\*\/2 \* \* \* \* \*" \(UTC\)/);

  const w = startWorker(conn, SHARED_REDIS, [], join(work, 'worker.log'));
  // (the worker's log is written into the test's temporary folder when the test ends)
  const p = { ...pipeline, schedule: { cron: '*/2 * * * * *', tz: 'UTC', lag_days: lag } };
  await waitFor(() => {
    const r = readRunRecord(p, END_DATE);
    return r !== null && runOutcome(r).status !== 'running';
  }, 200_000, `the scheduled run to finish\n${w.output()}`);
  const record = readRunRecord(p, END_DATE)!;
  assert.equal(record.trigger, 'schedule');
  assert.equal(runOutcome(record).status, 'published', w.output());
  assert.deepEqual(versionsIn(p.paths.store), ['nightly-2026-11-20']);
  // Let the scheduler fire a few more times: each firing finds the run and adds nothing. Counted from
  // the worker's own log of every trigger it processed — not from Redis's job history, which keeps only
  // the newest firings (a slow machine lets the one that started the run fall out of any window).
  const fired = (what: string) => (w.output().match(new RegExp(`^\\[[^\\]]+\\] trigger nightly ${END_DATE}: ${what} `, 'gm')) ?? []).length;
  const before = fired('exists');
  await waitFor(() => fired('exists') >= before + 2, 60_000, `two more firings\n${w.output()}`);
  assert.equal(fired('started'), 1, `one firing started the run:\n${w.output()}`);
  assert.deepEqual(versionsIn(p.paths.store), ['nightly-2026-11-20'], 'still exactly one model');
  assert.equal(await removeSchedule(conn, p), true);

  const status = runMtfEnv(['status', '--config', file], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /CURRENT fusion: nightly-2026-11-20/);
  assert.match(status.stdout, /nightly-2026-11-20\s+PUBLISHED\s+\(schedule/);
  assert.match(status.stdout, /train\s+done/);
  w.proc.kill('SIGTERM');
  assert.equal(await w.exited, 0, 'SIGTERM: clean exit');
});

test('duplicate triggers start one run, also after Redis lost its jobs; two workers run each stage once', { skip: NO_REDIS, timeout: 240_000 }, async (t) => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const p = tinyPipeline(work, logs);
  // Five triggers racing: one claim wins.
  const results = await Promise.all(Array.from({ length: 5 }, () => triggerRun(conn, p, END_DATE, 'manual')));
  assert.deepEqual(results.map((r) => r.action).sort(), ['exists', 'exists', 'exists', 'exists', 'started']);
  const w1 = startWorker(conn, SHARED_REDIS, ['--concurrency', '2'], join(work, 'w1.log'));
  const w2 = startWorker(conn, SHARED_REDIS, ['--concurrency', '2'], join(work, 'w2.log'));
  await waitFor(() => runOutcome(readRunRecord(p, END_DATE)!).status !== 'running', 200_000, `the run\n${w1.output()}\n${w2.output()}`);
  const record = readRunRecord(p, END_DATE)!;
  assert.equal(runOutcome(record).status, 'published', w1.output() + w2.output());
  const stages = listStages(specOf(record));
  assert.equal(stages.length, 7, stages.map((s) => s.stage).join());
  for (const s of stages) assert.equal(s.tries, 1, `${s.stage} ran once`);
  // No stage overlaps another run of itself (trivially, with one try each) and the chain is ordered.
  const at = (k: string) => stages.find((s) => s.stage === k)!;
  for (const [a, b] of [['ingest', 'train'], ['train', 'evaluate'], ['evaluate', 'publish']]) {
    assert.ok(Date.parse(at(a).finished_at!) <= Date.parse(at(b).started_at), `${a} finished before ${b} started`);
  }
  // Where the work went (worker process # sandbox child): reported, not asserted — which worker takes
  // a job first is up to the race for it.
  const procs = new Set(stages.map((s) => s.worker.split('#')[0]));
  t.diagnostic(`stages by worker: ${stages.map((s) => `${s.stage}@${s.worker}`).join(', ')} (${procs.size} worker processes)`);
  for (const s of stages) assert.match(s.worker, /^[^#]+\/\d+#\d+$/, 'the worker process and its sandbox child');

  // Progress (percent, ETA) and stage logs are on the jobs.
  const trainQ = testQueue(conn, QUEUES.train);
  const trainJob = (await trainQ.getJob(jobId(record.run_id, 'train')))!;
  assert.deepEqual({ ...(trainJob.progress as object), eta_s: undefined }, { stage: 'train', percent: 100, eta_s: undefined });
  const jobLogs = await trainQ.getJobLogs(trainJob.id!);
  assert.ok(jobLogs.logs.some((l) => /^train bcq: completed at step 60\/60/.test(l)), jobLogs.logs.join('\n'));
  await trainQ.close();

  // Redis forgets the run's jobs (flushed, or removed by retention): a new trigger still starts nothing.
  for (const name of Object.values(QUEUES)) {
    const q = testQueue(conn, name);
    await q.obliterate({ force: true });
    await q.close();
  }
  const again = await triggerRun(conn, p, END_DATE, 'manual');
  assert.equal(again.action, 'exists');
  assert.equal(again.outcome.status, 'published');
  const q = testQueue(conn, QUEUES.publish);
  assert.equal(await q.getJob(jobId(record.run_id, 'publish')), undefined, 'no job was added');
  await q.close();
  assert.deepEqual(versionsIn(p.paths.store), ['nightly-2026-11-20']);
  w1.proc.kill('SIGTERM');
  w2.proc.kill('SIGTERM');
  assert.equal(await w1.exited, 0);
  assert.equal(await w2.exited, 0);
});

function runMtfEnv(args: string[], env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return runMtf(args);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

test('sweeps: two variants of a pipeline for the same date run as parallel flows, each gated on its own', { skip: NO_REDIS, timeout: 300_000 }, async (t) => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const base = tinyPipeline(work, logs, { steps: 150 });
  const variants = [16, 32].map((h) => ({
    ...base,
    name: `nightly-h${h}`,
    train: { ...base.train, config: { ...base.train.config, actorHidden: [h, h], criticHidden: [h, h], vaeHidden: [h, h] } },
    publish: { ...base.publish, model: `fusion-h${h}` },
  }));
  for (const v of variants) assert.equal((await triggerRun(conn, v, END_DATE, 'manual')).action, 'started');
  const w1 = startWorker(conn, SHARED_REDIS);
  const w2 = startWorker(conn, SHARED_REDIS);
  for (const v of variants) await waitFor(() => runOutcome(readRunRecord(v, END_DATE)!).status !== 'running', 240_000, `${v.name}\n${w1.output()}\n${w2.output()}`);
  const trains = variants.map((v) => listStages(specOf(readRunRecord(v, END_DATE)!)).find((s) => s.stage === 'train')!);
  for (const [i, v] of variants.entries()) {
    assert.equal(runOutcome(readRunRecord(v, END_DATE)!).status, 'published');
    assert.deepEqual(readdirSync(join(v.paths.store, v.publish.model)).filter((d) => d.startsWith('nightly')), [`${v.name}-2026-11-20`]);
    assert.equal(trains[i].tries, 1);
  }
  const [a, b] = trains.map((s) => [Date.parse(s.started_at), Date.parse(s.finished_at!)]);
  const overlap = Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0])) / 1000;
  t.diagnostic(`the two training jobs overlapped for ${overlap.toFixed(1)} s (${trains.map((s) => s.worker).join(' and ')})`);
  w1.proc.kill('SIGTERM');
  w2.proc.kill('SIGTERM');
  assert.equal(await w1.exited, 0);
  assert.equal(await w2.exited, 0);
});
