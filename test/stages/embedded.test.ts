/**
 * The embedded runner end to end on a tiny simulated log: claims the run, runs ingest (shards + merge),
 * train, evaluate and publish, publishes exactly one version, and a second call for the same date does
 * not start a second run. An interrupted training continues from its checkpoint when run again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listStages, readRunRecord, runDirs, runEmbedded, specOf } from '../../src/stages/index.ts';
import { inParallel, shardParallelism } from '../../src/stages/embedded.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from './fixtures.ts';

test('mtf run (embedded): one run per date, one model, stages recorded', { timeout: 300_000 }, async () => {
  const work = tempDir();
  const logs = await simulatedLogs(join(work, 'logs'));
  const p = tinyPipeline(work, logs);
  const lines: string[] = [];
  const r = await runEmbedded(p, END_DATE, { say: (l) => lines.push(l) });
  assert.equal(r.started, true);
  assert.equal(r.outcome.status, 'published', lines.join('\n'));
  const versions = readdirSync(join(p.paths.store, 'fusion')).filter((d) => !d.startsWith('.') && d !== 'CURRENT');
  assert.deepEqual(versions, ['nightly-2026-11-20']);
  assert.equal(readFileSync(join(p.paths.store, 'fusion', 'CURRENT'), 'utf8').trim(), 'nightly-2026-11-20');
  const stages = listStages(specOf(readRunRecord(p, END_DATE)!)).map((s) => `${s.stage}:${s.status}`);
  assert.deepEqual(stages, ['ingest-dt=2026-11-18:done', 'ingest-dt=2026-11-19:done', 'ingest-dt=2026-11-20:done', 'ingest:done', 'train:done', 'evaluate:done', 'publish:done']);
  assert.ok(lines.some((l) => /^ingest shards: 1\/3 done, ETA \d+ s$/.test(l)), lines.join('\n'));
  assert.ok(lines.includes('ingest shards: 3/3 done'), lines.join('\n'));

  // The same date again: nothing runs, nothing is published twice.
  const again = await runEmbedded(p, END_DATE, { say: (l) => lines.push(l) });
  assert.equal(again.started, false);
  assert.equal(again.outcome.status, 'published');
  assert.equal(readdirSync(join(p.paths.store, 'fusion')).filter((d) => d.startsWith('nightly-')).length, 1);

  // The next day's run evaluates against the live model and gates against it.
  const next = await runEmbedded(p, '2026-11-21', { say: (l) => lines.push(l) });
  assert.ok(['published', 'rejected'].includes(next.outcome.status), next.outcome.detail);
  const ope = JSON.parse(readFileSync(join(p.paths.artifacts, 'runs', 'nightly', '2026-11-21', 'a1', 'ope', 'ope-report.json'), 'utf8'));
  assert.equal(ope.baseline?.name, 'fusion@nightly-2026-11-20', 'the live model is the baseline');
});

test('mtf run (embedded) with ingest.merge_buckets and evaluate.sample_sessions: the buckets merged in turn, format-3 trajectories, evaluated on a sample, a published model', { timeout: 300_000 }, async () => {
  const work = tempDir();
  const logs = await simulatedLogs(join(work, 'logs'));
  const base = tinyPipeline(work, logs);
  const p = { ...base, ingest: { ...base.ingest, merge_buckets: 3 }, evaluate: { ...base.evaluate, sample_sessions: 0.5 } };
  const lines: string[] = [];
  const r = await runEmbedded(p, END_DATE, { say: (l) => lines.push(l) });
  assert.equal(r.outcome.status, 'published', lines.join('\n'));
  const spec = specOf(r.record);
  const meta = JSON.parse(readFileSync(join(runDirs(spec).trajectories, 'metadata.json'), 'utf8'));
  assert.equal(meta.format_version, 3);
  assert.deepEqual(meta.parts.train.map((x: { bucket: number }) => x.bucket), [0, 1, 2]);
  assert.ok(lines.some((l) => /^ingest: bucket 2: \d+ sessions, \d+ transitions/.test(l)), lines.join('\n'));
  assert.ok(!existsSync(join(runDirs(spec).parts, 'b00000')), 'the parts are removed once placed');
  // the evaluation read a sample of the test sessions: fewer than the split holds, and said so
  const ope = JSON.parse(readFileSync(join(runDirs(spec).ope, 'ope-report.json'), 'utf8'));
  const m = lines.map((l) => /^evaluate: a sample of (\d+) of (\d+) test sessions \((\d+) of (\d+) transitions\)$/.exec(l)).find(Boolean);
  assert.ok(m, lines.join('\n'));
  assert.equal(Number(m[2]), meta.counts.test.sessions);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < Number(m[2]));
  assert.equal(ope.data.transitions, Number(m[3]));
  assert.ok(ope.data.transitions < meta.counts.test.transitions);
});

test('mtf run (embedded): an interrupted training continues from its checkpoint', { timeout: 300_000 }, async () => {
  const work = tempDir();
  const logs = await simulatedLogs(join(work, 'logs'));
  // Long enough that training reports progress (once a second) before it ends, on any backend (the
  // fused native step runs this tiny net at several hundred steps a second).
  const STEPS = 5000;
  const p = tinyPipeline(work, logs, { steps: STEPS, checkpointEvery: 10 });
  const abort = new AbortController();
  const first = await runEmbedded(p, END_DATE, {
    signal: abort.signal,
    say: (l) => {
      const m = /^train: (\d+)%/.exec(l);
      if (m && Number(m[1]) < 100) abort.abort(); // Ctrl-C at the first progress line
    },
  });
  assert.equal(first.outcome.status, 'running', 'stopped in training');
  const spec = specOf(first.record);
  const stopped = listStages(spec).find((s) => s.stage === 'train')!;
  assert.equal(stopped.status, 'interrupted');
  const stepAtStop = Number(stopped.result!.steps);
  assert.ok(stepAtStop > 0 && stepAtStop < STEPS, `stopped at ${stepAtStop}`);
  const lines: string[] = [];
  const second = await runEmbedded(p, END_DATE, { say: (l) => lines.push(l) });
  assert.equal(second.outcome.status, 'published', lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('ingest: done earlier, skipped')), 'ingest is not redone');
  const train = listStages(spec).find((s) => s.stage === 'train')!;
  assert.equal(train.result!.resumed, true);
  assert.equal(train.result!.steps, STEPS);
  assert.equal(train.tries, 2);
  assert.ok(existsSync(join(p.paths.store, 'fusion', 'nightly-2026-11-20', 'policy.onnx')));
});

test('inParallel: at most `limit` at once, every item once; the first failure is thrown after the running ones settle, nothing new starts', async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await inParallel([1, 2, 3, 4, 5], 2, async (x) => {
    most = Math.max(most, ++running);
    await sleep(x % 2 ? 15 : 5);
    running--;
    done.push(x);
  });
  assert.equal(most, 2);
  assert.deepEqual(done.toSorted(), [1, 2, 3, 4, 5]);
  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    inParallel([1, 2, 3, 4], 2, async (x) => {
      started.push(x);
      if (x === 1) throw new Error('shard 1 failed');
      await sleep(20);
      settled++;
    }),
    /shard 1 failed/,
  );
  assert.deepEqual(started, [1, 2], 'nothing started after the failure');
  assert.equal(settled, 1, 'the running one finished before the error was thrown');
  assert.equal(shardParallelism(1, 3), 1);
  assert.equal(shardParallelism(8, 3), 3);
  assert.ok(shardParallelism('auto', 3) >= 1 && shardParallelism('auto', 1) === 1);
});
