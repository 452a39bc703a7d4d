/**
 * Stages that fail, on a real Redis with a real worker:
 * - bad input (a corrupt parquet file in the window) and NaN in training fail at once (no retry: a
 *   retry cannot help), with the reason on the job, in the stage record and in `mtf status`; the model
 *   published by an earlier night stays CURRENT;
 * - a gate rejection ends the run 'rejected' with the gate's reason; CURRENT does not move;
 * - an error a retry can fix (the store's folder blocked by a file, then unblocked) is retried with
 *   backoff and the run completes.
 * Also: the worker's Prometheus metrics count what happened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUES, jobId } from '../../jobs/queues.ts';
import { triggerRun } from '../../jobs/trigger.ts';
import { PipelineConfig } from '../../src/config/pipeline.ts';
import { listStages, readRunRecord, runOutcome, specOf } from '../../src/stages/index.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { freePort, NO_REDIS, SHARED_REDIS, startWorker, testConnection, testQueue, waitFor } from './harness.ts';

const current = (p: PipelineConfig) => {
  try {
    return readFileSync(join(p.paths.store, 'fusion', 'CURRENT'), 'utf8').trim();
  } catch {
    return null;
  }
};
const finished = (p: PipelineConfig, date: string) => () => {
  const r = readRunRecord(p, date);
  return r !== null && runOutcome(r).status !== 'running';
};

test('bad input and NaN fail at once with a clear reason; gate rejections end the run; CURRENT stays; metrics count it', { skip: NO_REDIS, timeout: 420_000 }, async () => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const good = tinyPipeline(work, logs, { attempts: 3, backoffMs: 500 });
  const port = await freePort();
  const w = startWorker(conn, SHARED_REDIS, ['--metrics-port', String(port)]);

  // Night 1 publishes.
  await triggerRun(conn, good, END_DATE, 'manual');
  await waitFor(finished(good, END_DATE), 200_000, `night 1\n${w.output()}`);
  assert.equal(runOutcome(readRunRecord(good, END_DATE)!).status, 'published', w.output());
  assert.equal(current(good), 'nightly-2026-11-20');

  // Night 2: a corrupt file lands in the window.
  const badLogs = join(work, 'bad-logs');
  cpSync(logs, badLogs, { recursive: true });
  mkdirSync(join(badLogs, 'dt=2026-11-21'), { recursive: true });
  const corrupt = join(badLogs, 'dt=2026-11-21', 'part-00000.parquet');
  writeFileSync(corrupt, 'PAR1 this is not a parquet file PAR1');
  const bad = { ...good, paths: { ...good.paths, logs: badLogs } };
  await triggerRun(conn, bad, '2026-11-21', 'manual');
  await waitFor(finished(bad, '2026-11-21'), 120_000, `night 2\n${w.output()}`);
  const r2 = readRunRecord(bad, '2026-11-21')!;
  const o2 = runOutcome(r2);
  assert.equal(o2.status, 'failed');
  assert.match(o2.detail, /^ingest-dt=2026-11-21: .*part-00000\.parquet/, 'the stage and the file are named');
  const failedShard = listStages(specOf(r2)).find((s) => s.stage === 'ingest-dt=2026-11-21')!;
  assert.equal(failedShard.tries, 1, 'bad input is not retried');
  const ingestQ = testQueue(conn, QUEUES.ingest);
  const job = (await ingestQ.getJob(jobId(r2.run_id, 'ingest-dt=2026-11-21')))!;
  assert.equal(await job.getState(), 'failed');
  assert.equal(job.attemptsMade, 1);
  assert.match(job.failedReason, /part-00000\.parquet/);
  await ingestQ.close();
  assert.equal(current(good), 'nightly-2026-11-20', 'CURRENT stays live');

  // Night 3: training diverges (rewards scaled past float32's range).
  const nan = { ...good, train: { ...good.train, config: { ...good.train.config, rewardScale: 1e38 } } };
  await triggerRun(conn, nan, '2026-11-22', 'manual');
  await waitFor(finished(nan, '2026-11-22'), 120_000, `night 3\n${w.output()}`);
  const o3 = runOutcome(readRunRecord(nan, '2026-11-22')!);
  assert.equal(o3.status, 'failed');
  assert.match(o3.detail, /^train: training diverged: .* is (NaN|-?Infinity) at step \d+/);
  assert.equal(listStages(specOf(readRunRecord(nan, '2026-11-22')!)).find((s) => s.stage === 'train')!.tries, 1, 'NaN is not retried');
  assert.equal(current(good), 'nightly-2026-11-20', 'CURRENT stays live');

  // status shows it all.
  const file = join(work, 'pipeline.json');
  writeFileSync(file, JSON.stringify(good));
  const st = runMtf(['status', '--config', file, '--no-redis']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /nightly-2026-11-22\s+FAILED/);
  assert.match(st.stdout, /nightly-2026-11-21\s+FAILED.*part-00000\.parquet/);
  assert.match(st.stdout, /CURRENT fusion: nightly-2026-11-20/);

  // Metrics: published once, failures counted as final.
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(text, /mtf_stage_failures_total\{stage="shard",final="true"\} 1/);
  assert.match(text, /mtf_stage_failures_total\{stage="train",final="true"\} 1/);
  assert.match(text, /mtf_last_successful_publish_timestamp_seconds \d/);
  assert.match(text, /mtf_rows_ingested_total \d+/);
  assert.match(text, /mtf_stage_duration_seconds_count\{stage="train"\} 1/);
  w.proc.kill('SIGTERM');
  assert.equal(await w.exited, 0);
});

test('gate rejection: the run ends rejected with the reason, the version is kept for diagnosis, CURRENT unset', { skip: NO_REDIS, timeout: 300_000 }, async () => {
  const work = tempDir();
  const conn = testConnection();
  const base = tinyPipeline(work, await simulatedLogs(join(work, 'logs')), { tolerance: 0 });
  // The paper's linear CQL penalty, on every row (no fading where the data cover π_e), with a weight this
  // large pushes every action the data does not hold far down (Eq. 9), while the behavior policy's own
  // actions pay no penalty: the candidate cannot pass.
  const p = { ...base, evaluate: { ...base.evaluate, config: { ...base.evaluate.config, fqe: { ...(base.evaluate.config.fqe as object), alpha: 1e4, penalty: 'linear', penaltySupport: 'off' } } } };
  const w = startWorker(conn, SHARED_REDIS);
  await triggerRun(conn, p, END_DATE, 'manual');
  await waitFor(finished(p, END_DATE), 200_000, w.output());
  const o = runOutcome(readRunRecord(p, END_DATE)!);
  assert.equal(o.status, 'rejected', o.detail);
  assert.match(o.detail, /value: paired lower bound of bcq \(V̂ [0-9.]+ \+ -?[0-9.e-]+\) .* < behavior V̂/, "the default paired rule, against behavior (the report's baseline before any publish)");
  assert.equal(current(p), null, 'CURRENT did not move');
  const manifest = JSON.parse(readFileSync(join(p.paths.store, 'fusion', 'nightly-2026-11-20', 'manifest.json'), 'utf8'));
  assert.equal(manifest.status, 'rejected');
  const q = testQueue(conn, QUEUES.publish);
  const job = (await q.getJob(jobId('nightly-2026-11-20', 'publish')))!;
  assert.equal(await job.getState(), 'failed');
  assert.match(job.failedReason, /gate rejected nightly-2026-11-20/);
  await q.close();
  w.proc.kill('SIGTERM');
  assert.equal(await w.exited, 0);
});

test('an error a retry can fix is retried with backoff, and the run completes', { skip: NO_REDIS, timeout: 300_000 }, async () => {
  const work = tempDir();
  const conn = testConnection();
  const p = tinyPipeline(work, await simulatedLogs(join(work, 'logs')), { attempts: 4, backoffMs: 2000 });
  // The model's folder is blocked by a file (a full disk, a bad mount: outside our input) …
  mkdirSync(p.paths.store, { recursive: true });
  writeFileSync(join(p.paths.store, 'fusion'), 'not a folder');
  const w = startWorker(conn, SHARED_REDIS);
  const r = await triggerRun(conn, p, END_DATE, 'manual');
  const spec = specOf(r.record);
  await waitFor(() => listStages(spec).some((s) => s.status === 'retrying'), 200_000, `a retrying stage\n${w.output()}`);
  const retrying = listStages(spec).find((s) => s.status === 'retrying')!;
  // … and is unblocked before the retry.
  rmSync(join(p.paths.store, 'fusion'));
  await waitFor(finished(p, END_DATE), 200_000, w.output());
  assert.equal(runOutcome(readRunRecord(p, END_DATE)!).status, 'published', w.output());
  const after = listStages(spec).find((s) => s.stage === retrying.stage)!;
  assert.equal(after.status, 'done');
  assert.ok(after.tries >= 2, `${after.stage} was tried ${after.tries} times`);
  assert.match(w.output(), new RegExp(`${retrying.stage}: failed, will retry`));
  assert.deepEqual(readdirSync(join(p.paths.store, 'fusion')).filter((d) => d.startsWith('nightly-')), ['nightly-2026-11-20']);
  w.proc.kill('SIGTERM');
  assert.equal(await w.exited, 0);
});
