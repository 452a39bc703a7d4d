/**
 * The bucketed merge as jobs (ingest.merge_buckets > 1; jobs/processors/mergeJobs.ts) on a real Redis
 * with two `mtf worker` processes: the merge job plans the split and fans out one bucket job per
 * bucket, the buckets run on both workers, and the run's trajectories (format 3, a part per bucket)
 * hold what a single-process ingest of the same window holds, session for session; the run trains,
 * evaluates and publishes from them. A retried merge adds only the buckets without parts; a bucket that
 * failed for good fails the merge naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mergeByJobs, type MergeFanOutDeps } from '../../jobs/processors/mergeJobs.ts';
import type { ParentJob } from '../../jobs/processors/evaluateJobs.ts';
import { triggerRun } from '../../jobs/trigger.ts';
import { ingest, readTrajectories } from '../../src/data/index.ts';
import { bucketPartDir, listStages, mergeBucketStage, readRunRecord, runDirs, runOutcome, specOf, type RunSpec, type StageContext } from '../../src/stages/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bySession } from '../helpers/trajectories.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { NO_REDIS, SHARED_REDIS, startWorker, testConnection, waitFor } from './harness.ts';

const quiet: StageContext = { log: () => {}, progress: () => {} };

/** A stand-in for BullMQ's sandboxed parent job: records the buckets it is given. */
function fakeParent(failures: Record<string, string> = {}): { job: ParentJob; added: number[][]; deps: MergeFanOutDeps } {
  const added: number[][] = [];
  const job: ParentJob = {
    id: 'merge-job',
    name: 'merge',
    data: {},
    attemptsMade: 1,
    opts: { attempts: 3 },
    queueQualifiedName: 'test:mtf-ingest',
    updateProgress: async () => {},
    log: async () => {},
    moveToDelayed: async () => {},
    moveToWaitingChildren: async () => true,
    getIgnoredChildrenFailures: async () => failures,
  };
  return { job, added, deps: { addBuckets: async (_spec, _shards, buckets) => void added.push(buckets) } };
}

test('ingest.merge_buckets: bucket jobs on both workers, the single ingest\'s sessions; a retried merge adds only the missing buckets', { skip: NO_REDIS, timeout: 300_000 }, async (t) => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const base = tinyPipeline(work, logs);
  const B = 4;
  const p = { ...base, ingest: { ...base.ingest, merge_buckets: B } };
  assert.equal((await triggerRun(conn, p, END_DATE, 'manual')).action, 'started');
  const w1 = startWorker(conn, SHARED_REDIS, ['--concurrency', '1'], join(work, 'w1.log'));
  const w2 = startWorker(conn, SHARED_REDIS, ['--concurrency', '1'], join(work, 'w2.log'));
  let spec: RunSpec;
  try {
    await waitFor(() => runOutcome(readRunRecord(p, END_DATE)!).status !== 'running', 280_000, `the run\n${w1.output()}\n${w2.output()}`);
    const record = readRunRecord(p, END_DATE)!;
    assert.equal(runOutcome(record).status, 'published', w1.output() + w2.output());
    spec = specOf(record);
  } finally {
    w1.proc.kill('SIGTERM');
    w2.proc.kill('SIGTERM');
    await Promise.all([w1.exited, w2.exited]);
  }
  const stages = listStages(spec);
  const buckets = stages.filter((s) => s.stage.startsWith('ingest-bucket-'));
  assert.deepEqual(buckets.map((s) => s.stage).sort(), Array.from({ length: B }, (_, b) => `ingest-bucket-${b}`));
  assert.ok(buckets.every((s) => s.status === 'done'));
  const procs = new Set(buckets.map((s) => s.worker.split('#')[0]));
  t.diagnostic(`buckets by worker: ${buckets.map((s) => `${s.stage}@${s.worker} ${s.seconds?.toFixed(2)} s`).join(', ')}`);
  assert.equal(procs.size, 2, `the buckets ran on both worker processes: ${buckets.map((s) => s.worker).join(', ')}`);
  const merge = stages.find((s) => s.stage === 'ingest')!;
  assert.equal(merge.status, 'done');
  assert.equal(merge.tries, 1, 'plan, bucket jobs and placing the parts are one try of the merge');

  // the run's trajectories: format 3, every part placed, the parts removed; the single ingest's sessions
  const dirs = runDirs(spec);
  const single = join(work, 'single');
  await ingest({ logs, window: { endDate: END_DATE, days: 3 }, reward: { weights: { ...p.ingest.reward_weights! } }, out: single });
  for (const split of ['train', 'test'] as const) {
    const got = await readTrajectories(dirs.trajectories, split);
    assert.equal(got.metadata.format_version, 3);
    assert.ok(got.metadata.parts![split].length >= 2, `${split}: several parts`);
    assert.deepEqual(bySession(got.batch), bySession((await readTrajectories(single, split)).batch), `${split}: the single ingest's sessions`);
  }
  assert.ok(!existsSync(bucketPartDir(spec, 0)), 'parts removed once placed');

  // A retried merge (a new attempt with the same shards): it plans, adds every bucket; with bucket 1
  // merged it adds only the others; with all merged it places them — never re-merging a part.
  const again: RunSpec = { ...spec, attempt: spec.attempt + 1 };
  cpSync(dirs.shards, runDirs(again).shards, { recursive: true });
  const keys = (await import('../../src/stages/index.ts')).planIngest;
  const shards = await keys(again);
  const r1 = fakeParent();
  assert.equal((await mergeByJobs(r1.job, 'token', again, shards, quiet, r1.deps)).status, 'waiting');
  assert.deepEqual(r1.added, [[0, 1, 2, 3]]);
  assert.ok(existsSync(join(runDirs(again).parts, 'split.json')));
  await mergeBucketStage(again, shards, 1, quiet);
  const r2 = fakeParent();
  assert.equal((await mergeByJobs(r2.job, 'token', again, shards, quiet, r2.deps)).status, 'waiting');
  assert.deepEqual(r2.added, [[0, 2, 3]]);
  for (const b of [0, 2, 3]) await mergeBucketStage(again, shards, b, quiet);
  const r3 = fakeParent();
  const done = await mergeByJobs(r3.job, 'token', again, shards, quiet, r3.deps);
  assert.deepEqual(r3.added, []);
  assert.equal(done.sessions, (stages.find((s) => s.stage === 'ingest')!.result as { sessions: number }).sessions);
  // A bucket that failed for good: the merge fails naming it; nothing is placed.
  rmSync(runDirs(again).trajectories, { recursive: true });
  const failed = fakeParent({ [`bull:mtf-ingest:${again.runId}__ingest-bucket-2`]: 'disk full' });
  await assert.rejects(mergeByJobs(failed.job, 'token', again, shards, quiet, failed.deps), (err: Error) => {
    assert.equal(err.name, 'UnrecoverableError');
    assert.match(err.message, /^bucket 2 of the merge failed: disk full$/);
    return true;
  });
  assert.ok(!existsSync(runDirs(again).trajectories));
});
