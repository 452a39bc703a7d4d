/**
 * Evaluation as jobs (pipeline evaluate.fan_out: jobs; jobs/processors/evaluateJobs.ts) on a real Redis
 * with two `mtf worker` processes: the evaluate job fans out one fit job per policy fit and per
 * bootstrap refit, the fits run on both workers, and the report the parent assembles equals the one
 * the in-process evaluation (threads) computes from the same run, field by field. A retried parent
 * adds only the fits without result files; a failed fit fails the parent naming the fit and its error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateByJobs, type FanOutDeps, type ParentJob } from '../../jobs/processors/evaluateJobs.ts';
import { triggerRun } from '../../jobs/trigger.ts';
import { fitPath } from '../../src/ope/fitBundle.ts';
import { readFitResult } from '../../src/ope/fitFiles.ts';
import type { FitKey } from '../../src/ope/fitRequests.ts';
import type { OpeReport } from '../../src/ope/schemas.ts';
import { evaluateFitStage, evaluateStage, fitsDir, listStages, readRunRecord, runDirs, runOutcome, specOf, workerName, type RunSpec, type StageContext } from '../../src/stages/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { NO_REDIS, SHARED_REDIS, startWorker, testConnection, waitFor } from './harness.ts';

const quiet: StageContext = { log: () => {}, progress: () => {} };

/** The report without its clocks (created_at, seconds, each full-data fit's seconds). */
function comparable(r: OpeReport): unknown {
  const strip = (p: OpeReport['policies'][number]) => ({ ...p, fqe: { ...p.fqe, seconds: 0 } });
  return { ...r, created_at: '', seconds: 0, policies: r.policies.map(strip), baseline: r.baseline ? strip(r.baseline) : null };
}

/** A stand-in for BullMQ's sandboxed parent job: records the children it is given. */
function fakeParent(failures: Record<string, string> = {}): { job: ParentJob; added: FitKey[][]; deps: FanOutDeps } {
  const added: FitKey[][] = [];
  const job: ParentJob = {
    id: 'evaluate-job',
    name: 'evaluate',
    data: {},
    attemptsMade: 1,
    opts: { attempts: 3 },
    queueQualifiedName: 'test:mtf-evaluate',
    updateProgress: async () => {},
    log: async () => {},
    moveToDelayed: async () => {},
    moveToWaitingChildren: async () => true,
    getIgnoredChildrenFailures: async () => failures,
  };
  return { job, added, deps: { addFits: async (_spec, fits) => void added.push(fits) } };
}

test('evaluate.fan_out jobs: fits on both workers, the report of the in-process evaluation; a retried parent adds only the missing fits', { skip: NO_REDIS, timeout: 300_000 }, async (t) => {
  const work = tempDir();
  const conn = testConnection();
  const logs = await simulatedLogs(join(work, 'logs'));
  const base = tinyPipeline(work, logs);
  const p = { ...base, evaluate: { ...base.evaluate, fan_out: 'jobs' as const, config: { ...base.evaluate.config, bootstrap: 4 } } };
  // beside it a variant whose fits diverge (FQE lr 1e12): its training is fine, its evaluation fails
  const pFail = {
    ...p,
    name: 'nightly-diverge',
    publish: { ...p.publish, model: 'fusion-diverge' },
    evaluate: { ...p.evaluate, config: { ...p.evaluate.config, fqe: { ...((p.evaluate.config as Record<string, unknown>).fqe as object), lr: 1e12 } } },
  };
  assert.equal((await triggerRun(conn, p, END_DATE, 'manual')).action, 'started');
  assert.equal((await triggerRun(conn, pFail, END_DATE, 'manual')).action, 'started');
  const w1 = startWorker(conn, SHARED_REDIS, ['--concurrency', '1'], join(work, 'w1.log'));
  const w2 = startWorker(conn, SHARED_REDIS, ['--concurrency', '1'], join(work, 'w2.log'));
  try {
    await waitFor(() => runOutcome(readRunRecord(p, END_DATE)!).status !== 'running', 280_000, `the run\n${w1.output()}\n${w2.output()}`);
    const record = readRunRecord(p, END_DATE)!;
    assert.equal(runOutcome(record).status, 'published', w1.output() + w2.output());
    // the diverging variant: its fit jobs fail (after their attempts), the parent fails naming one and its error
    await waitFor(() => runOutcome(readRunRecord(pFail, END_DATE)!).status !== 'running', 120_000, `the diverging run\n${w1.output()}\n${w2.output()}`);
    const failedRun = runOutcome(readRunRecord(pFail, END_DATE)!);
    t.diagnostic(`the diverging run: ${failedRun.status}: ${failedRun.detail}`);
    assert.equal(failedRun.status, 'failed');
    assert.match(failedRun.detail, /^evaluate: fit p\d-\d+ \((behavior|bcq), (full data|refit \d+)\) failed: FQE diverged/);
    const spec = specOf(record);
    // 2 policies (the candidate, behavior) × (1 + 4 refits), each a job whose result file names its worker
    const dir = fitsDir(spec);
    const files = readdirSync(dir).filter((f) => f.endsWith('.fit')).sort();
    assert.deepEqual(files, ['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4', 'p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4'].map((f) => `${f}.fit`));
    const results = files.map((f) => readFitResult(join(dir, f)));
    const workers = results.map((r) => r.meta.worker);
    const procs = new Set(workers.map((w) => w.split('#')[0]));
    t.diagnostic(`fits by worker: ${files.map((f, i) => `${f}@${workers[i]} ${results[i].fit.seconds.toFixed(2)} s`).join(', ')}`);
    assert.equal(procs.size, 2, `the fits ran on both worker processes: ${workers.join(', ')}`);
    const evaluate = listStages(spec).find((s) => s.stage === 'evaluate')!;
    assert.equal(evaluate.status, 'done');
    assert.equal(evaluate.tries, 1, 'the steps of the parent (plan, full fits, refits, report) are one try');
    assert.equal((evaluate.result as { fits: number }).fits, 10);
    const fanned = JSON.parse(readFileSync(join(runDirs(spec).ope, 'ope-report.json'), 'utf8')) as OpeReport;

    // The same evaluation in this process, fits on threads: the store as the evaluate job saw it
    // (no live model yet; this run has since published one).
    const inProcess: RunSpec = { ...spec, pipeline: { ...p, paths: { ...p.paths, store: join(work, 'empty-store') }, evaluate: { ...p.evaluate, fan_out: 'threads' } } };
    await evaluateStage(inProcess, quiet);
    const threads = JSON.parse(readFileSync(join(runDirs(spec).ope, 'ope-report.json'), 'utf8')) as OpeReport;
    assert.deepEqual(comparable(fanned), comparable(threads), 'the fanned-out report is the in-process one, exactly (clocks aside)');
    t.diagnostic(`${threads.data.transitions} test transitions; evaluate stage as jobs ${evaluate.seconds!.toFixed(1)} s (plan, 2 rounds of fit jobs, assembly), in this process with threads ${threads.seconds.toFixed(1)} s`);

    // A retried parent: of the fits whose files are gone, it adds the full-data fit and the refits of
    // the policy whose full-data fit is there — never a finished one.
    const again: RunSpec = { ...inProcess, pipeline: { ...inProcess.pipeline, evaluate: { ...p.evaluate, fan_out: 'jobs' } } };
    for (const f of ['p0-0', 'p0-2', 'p1-3']) rmSync(join(dir, `${f}.fit`));
    const retry = fakeParent();
    const r = await evaluateByJobs(retry.job, 'token', again, quiet, retry.deps);
    assert.equal(r.status, 'waiting');
    assert.deepEqual(retry.added, [[{ policy: 'p0', refit: 0 }, { policy: 'p1', refit: 3 }]], 'p0-2 waits for p0-0');
    for (const at of retry.added[0]) await evaluateFitStage(again, at);
    const retry2 = fakeParent();
    assert.equal((await evaluateByJobs(retry2.job, 'token', again, quiet, retry2.deps)).status, 'waiting');
    assert.deepEqual(retry2.added, [[{ policy: 'p0', refit: 2 }]]);
    await evaluateFitStage(again, { policy: 'p0', refit: 2 });
    const done = fakeParent();
    const result = await evaluateByJobs(done.job, 'token', again, quiet, done.deps);
    assert.deepEqual(done.added, [], 'every fit there: no job added, the report assembled');
    assert.equal(result.fits, 10);
    const reassembled = JSON.parse(readFileSync(join(runDirs(spec).ope, 'ope-report.json'), 'utf8')) as OpeReport;
    assert.deepEqual(comparable(reassembled), comparable(threads), 'recomputed fits: the same numbers');
    assert.equal(readFitResult(fitPath(dir, { policy: 'p0', refit: 0 })).meta.worker, workerName(), 'recomputed here');

    // A fit that failed for good (kept as a failed dependency): the parent fails, naming it and its error.
    const failed = fakeParent({ [`bull:mtf-evaluate:${spec.runId}__fit-p1-2`]: 'FQE diverged: TD loss NaN at step 3' });
    await assert.rejects(evaluateByJobs(failed.job, 'token', again, quiet, failed.deps), (err: Error) => {
      assert.equal(err.name, 'UnrecoverableError');
      assert.match(err.message, /^fit p1-2 \(bcq, refit 2\) failed: FQE diverged: TD loss NaN at step 3$/);
      return true;
    });
    assert.deepEqual(failed.added, [], 'nothing added after a failure');
  } finally {
    w1.proc.kill('SIGTERM');
    w2.proc.kill('SIGTERM');
    await Promise.all([w1.exited, w2.exited]);
  }
});
