/**
 * Job data as a processor receives it from Redis: checked before anything is read or written —
 * schema, run id, shard keys, and every path inside the worker's roots (after `..` and symlinks).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isInside, parseFitJob, parseStageJob, parseTriggerJob, rootsFromEnv, rootsToEnv, workerRoots } from '../../jobs/jobData.ts';
import { QUEUES } from '../../jobs/queues.ts';
import { InputError } from '../../src/errors/index.ts';
import { runIdOf } from '../../src/stages/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, tinyPipeline } from '../stages/fixtures.ts';
import { NO_REDIS, SHARED_REDIS, startWorker, testConnection, testQueue, waitFor } from './harness.ts';

function setup() {
  const work = tempDir();
  const p = tinyPipeline(work, join(work, 'logs'));
  const roots = workerRoots([p]);
  const job = (over: Record<string, unknown> = {}, pipeline = p) => ({ run: { runId: runIdOf(pipeline.name, END_DATE, 1), pipeline, date: END_DATE, attempt: 1 }, ...over });
  return { work, p, roots, job };
}

const refused = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message) && /job refused|not set/.test(e.message);

test('a stage job of the worker\'s pipeline is accepted as it is', () => {
  const { p, roots, job } = setup();
  const d = parseStageJob(job({ shard: 'dt=2026-11-19' }), roots, 'job 1');
  assert.equal(d.shard, 'dt=2026-11-19');
  assert.deepEqual(d.run.pipeline, p);
  assert.deepEqual(parseStageJob(job({ shards: ['dt=2026-11-18', 'dt=2026-11-18-2', 'file-0'] }), roots, 'job 2').shards, ['dt=2026-11-18', 'dt=2026-11-18-2', 'file-0']);
  assert.deepEqual(parseTriggerJob({ pipeline: p }, roots, 'job 3').pipeline, p);
  // a bucket job of the bucketed merge: one of the pipeline's merge_buckets (none without buckets)
  const bucketed = { ...p, ingest: { ...p.ingest, merge_buckets: 4 } };
  assert.equal(parseStageJob(job({ shards: ['dt=2026-11-18'], bucket: 3 }, bucketed), roots, 'job 4').bucket, 3);
  assert.throws(() => parseStageJob(job({ shards: ['dt=2026-11-18'], bucket: 4 }, bucketed), roots, 'job 4'), refused(/field 'bucket': 4 is not a bucket of the pipeline's merge \(ingest\.merge_buckets 4\)/));
  assert.throws(() => parseStageJob(job({ bucket: 0 }), roots, 'job 4'), refused(/field 'bucket': 0 is not a bucket of the pipeline's merge \(ingest\.merge_buckets 1\)/));
});

test('a fit job names its policy by key and its refit by number: never a path; its run is checked as a stage job\'s', () => {
  const { p, roots, job } = setup();
  const d = parseFitJob(job({ policy: 'p1', refit: 3 }), roots, 'job 4');
  assert.deepEqual([d.policy, d.refit], ['p1', 3]);
  for (const [over, re] of [
    [{ policy: '../../etc/passwd', refit: 0 }, /job data field 'policy': a policy key/],
    [{ policy: 'bcq', refit: 0 }, /job data field 'policy'/],
    [{ policy: 'p1', refit: -1 }, /job data field 'refit'/],
    [{ policy: 'p1', refit: 1.5 }, /job data field 'refit'/],
    [{ policy: 'p1' }, /job data field 'refit'/],
    [{ policy: 'p1', refit: 0, path: '/tmp/x' }, /job data field '\(root\)'|Unrecognized key/],
  ] as const) assert.throws(() => parseFitJob(job(over), roots, 'job 5'), refused(re), JSON.stringify(over));
  const outside = { ...p, paths: { ...p.paths, artifacts: join(tempDir(), 'artifacts') } };
  assert.throws(() => parseFitJob(job({ policy: 'p0', refit: 0 }, outside), roots, 'job 6'), refused(/paths.artifacts .* is outside this worker's artifacts roots/));
});

test('paths outside the roots are refused, whatever the queue held', () => {
  const { work, p, roots, job } = setup();
  const elsewhere = tempDir();
  const moved = (paths: Partial<typeof p.paths>) => ({ ...p, paths: { ...p.paths, ...paths } });
  const cases: [ReturnType<typeof moved>, RegExp][] = [
    [moved({ artifacts: join(elsewhere, 'artifacts') }), /paths\.artifacts '.*' is outside this worker's artifacts roots/],
    [moved({ store: '/etc' }), /paths\.store '\/etc' is outside this worker's store roots/],
    [moved({ logs: join(elsewhere, 'logs') }), /paths\.logs .* outside this worker's logs roots/],
    // `..` walks out of a root
    [moved({ artifacts: join(work, 'artifacts', '..', '..', 'x') }), /paths\.artifacts .* outside/],
    // the logs root is read-only ground: artifacts may not be written into it
    [moved({ artifacts: join(work, 'logs', 'artifacts') }), /paths\.artifacts .* outside this worker's artifacts roots/],
    [moved({ artifacts: 'relative/artifacts' }), /paths\.artifacts 'relative\/artifacts' is not absolute/],
    [{ ...p, evaluate: { ...p.evaluate, policies: ['behavior', 'mine=/etc/passwd'] } }, /evaluate\.policies\[1\] 'mine=\/etc\/passwd' names a file outside/],
  ];
  for (const [pipeline, re] of cases) {
    assert.throws(() => parseStageJob(job({}, pipeline), roots, 'job 9'), refused(re), JSON.stringify(pipeline.paths));
    assert.throws(() => parseTriggerJob({ pipeline }, roots, 'job 9'), refused(re));
  }
  // --allow-root widens all three kinds
  const wide = workerRoots([p], [elsewhere]);
  assert.doesNotThrow(() => parseStageJob(job({}, moved({ artifacts: join(elsewhere, 'artifacts') })), wide, 'job 10'));
  // named policies are not paths
  assert.doesNotThrow(() => parseStageJob(job({}, { ...p, evaluate: { ...p.evaluate, policies: ['behavior', 'logged', 'const:1,2,3,4,5,6,7,8', 'c=const:1,2,3,4,5,6,7,8'] } }), roots, 'job 11'));
});

test('a symbolic link inside a root that points outside it does not lead out', () => {
  const { work, p, roots, job } = setup();
  const elsewhere = tempDir();
  mkdirSync(join(work, 'artifacts'), { recursive: true });
  symlinkSync(elsewhere, join(work, 'artifacts', 'link'));
  assert.equal(isInside(join(work, 'artifacts', 'link', 'runs'), join(work, 'artifacts')), false);
  assert.throws(() => parseStageJob(job({}, { ...p, paths: { ...p.paths, artifacts: join(work, 'artifacts', 'link') } }), roots, 'job 4'), refused(/outside/));
  assert.equal(isInside(join(work, 'artifacts', 'not-yet', 'deeper'), join(work, 'artifacts')), true, 'paths that do not exist yet');
});

test('malformed job data: wrong shapes, run ids that do not match, shard keys that are paths', () => {
  const { roots, job } = setup();
  const cases: [unknown, RegExp][] = [
    [null, /field '\(root\)'/],
    [{ run: { runId: 'x' } }, /field 'run\.pipeline'/],
    [job({ extra: 1 }), /field '\(root\)'|extra/],
    [job({ shard: '../../etc' }), /field 'shard'/],
    [job({ shards: ['dt=2026-11-18', '/abs'] }), /field 'shards\.1'/],
    [job({ bucket: -1 }), /field 'bucket'/],
    [job({ bucket: '../0' }), /field 'bucket'/],
    [{ ...job(), run: { ...job().run, runId: 'nightly-2026-11-19' } }, /'run\.runId': 'nightly-2026-11-19' is not the id of nightly 2026-11-20 attempt 1/],
    [{ ...job(), run: { ...job().run, date: '2026-11-20/../..' } }, /field 'run\.date'/],
  ];
  for (const [data, re] of cases) assert.throws(() => parseStageJob(data, roots, 'job 5'), refused(re), JSON.stringify(data));
});

test('the roots travel to the sandboxed children in the environment; without them every job is refused', () => {
  const { roots } = setup();
  assert.deepEqual(rootsFromEnv({ MTF_WORKER_ROOTS: rootsToEnv(roots) }), roots);
  assert.throws(() => rootsFromEnv({}), refused(/MTF_WORKER_ROOTS is not set/));
  assert.throws(() => rootsFromEnv({ MTF_WORKER_ROOTS: '{"logs":1}' }), (e: unknown) => e instanceof InputError && /MTF_WORKER_ROOTS: not a valid/.test(e.message));
});

test('a real worker refuses a job whose paths lie outside its roots and writes nothing there', { skip: NO_REDIS, timeout: 120_000 }, async () => {
  const work = tempDir();
  const evil = tempDir();
  const conn = testConnection();
  const p = tinyPipeline(work, join(work, 'logs'));
  const outside = { ...p, paths: { logs: join(work, 'logs'), artifacts: join(evil, 'artifacts'), store: join(evil, 'models') } };
  const w = startWorker(conn, SHARED_REDIS, ['--allow-root', work, '--queues', 'trigger,ingest']);
  const ingest = testQueue(conn, QUEUES.ingest);
  const trigger = testQueue(conn, QUEUES.trigger);
  try {
    const stage = await ingest.add('shard', { run: { runId: runIdOf('nightly', END_DATE, 1), pipeline: outside, date: END_DATE, attempt: 1 }, shard: 'dt=2026-11-20' }, { attempts: 3 });
    const trig = await trigger.add('trigger', { pipeline: outside });
    const failed = async (q: ReturnType<typeof testQueue>, id: string) => (await q.getJob(id))?.failedReason ?? '';
    await waitFor(async () => (await failed(ingest, stage.id!)) !== '' && (await failed(trigger, trig.id!)) !== '', 90_000, `both jobs to fail\n${w.output()}`);
    assert.match(await failed(ingest, stage.id!), /paths\.artifacts '.*' is outside this worker's artifacts roots .*job refused/);
    assert.match(await failed(trigger, trig.id!), /paths\.artifacts '.*' is outside/);
    assert.equal((await ingest.getJob(stage.id!))!.attemptsMade, 1, 'refused for good: no retry');
    assert.deepEqual(readdirSync(evil), [], 'nothing was written outside the roots');
  } finally {
    await ingest.close();
    await trigger.close();
    w.proc.kill('SIGTERM');
    await w.exited;
  }
});
