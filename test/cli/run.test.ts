/**
 * `mtf run`, `trigger`, `schedule`, `status` and `worker --dashboard-port` as an operator types them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { freePort, NO_REDIS, SHARED_REDIS, startWorker, testConnection, waitFor } from '../jobs/harness.ts';

test('mtf run: the pipeline for one date, in process; again: nothing to do', { timeout: 300_000 }, async () => {
  const work = tempDir();
  const logs = await simulatedLogs(join(work, 'logs'));
  const file = join(work, 'pipeline.json');
  const p = tinyPipeline('.', 'unused');
  // relative paths resolve against the directory the command runs in; flags override the file
  writeFileSync(file, JSON.stringify({ ...p, paths: { logs: 'unused', artifacts: 'artifacts', store: 'models' } }));
  const r = runMtf(['run', '--config', file, '--logs', logs, '--end-date', END_DATE], { cwd: work, timeoutMs: 240_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nightly-2026-11-20: published/m);
  assert.match(r.stderr, /train: 100%/);
  assert.deepEqual(readdirSync(join(work, 'models', 'fusion')).filter((d) => d.startsWith('nightly')), ['nightly-2026-11-20']);
  const again = runMtf(['run', '--config', file, '--logs', logs, '--end-date', END_DATE], { cwd: work });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already published/);
  const st = runMtf(['status', '--config', file, '--no-redis'], { cwd: work });
  assert.match(st.stdout, /nightly-2026-11-20\s+PUBLISHED\s+\(embedded/);
});

test('bad flags: exit 2, bad files: exit 1, one line naming the field; Redis unreachable: exit 4', () => {
  const work = tempDir();
  const cases: [string[], RegExp, number][] = [
    [['run', '--end-date', '20-11-2026'], /^mtf: --end-date: expected a date YYYY-MM-DD, got '20-11-2026'/, 2],
    [['run', '--end-date', '2026-11-20', '--logs', join(work, 'nope')], /^mtf: --logs: .*nope does not exist/, 1],
    [['run', '--end-date', '2026-11-20', '--config', join(work, 'missing.yaml')], /^mtf: .*missing\.yaml: cannot read the config file/, 1],
    [['trigger', '--date', '2026-11-20', '--logs', work, '--redis-url', 'localhost:6379'], /^mtf: REDIS_URL: expected redis:\/\/ or rediss:\/\//, 1],
    [['schedule', '--tz', 'Mars/Olympus', '--redis-url', 'redis://127.0.0.1:1'], /^mtf: --tz: 'Mars\/Olympus' is not an IANA time zone/, 2],
    [['worker', '--queues', 'ingest,bogus'], /^mtf: --queues: 'bogus' is not one of/, 2],
    [['worker', '--concurrency', '0'], /^mtf: --concurrency: expected a whole number ≥ 1/, 2],
    // Redis down: exit 4 (try again), and no run was claimed
    [['trigger', '--date', '2026-11-20', '--logs', work, '--artifacts', join(work, 'artifacts'), '--redis-url', 'redis://127.0.0.1:1'], /^mtf: REDIS_URL redis:\/\/127\.0\.0\.1:1: unreachable \(connect ECONNREFUSED/, 4],
  ];
  for (const [args, msg, code] of cases) {
    const r = runMtf(args, { cwd: work });
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  assert.ok(!existsSync(join(work, 'artifacts')), 'an unreachable Redis claims no run');
});

test('mtf worker --dashboard-port serves Bull Board with the mtf queues on 127.0.0.1', { skip: NO_REDIS, timeout: 120_000 }, async () => {
  const conn = testConnection();
  const port = await freePort();
  const w = startWorker(conn, SHARED_REDIS, ['--queues', 'trigger', '--dashboard-port', String(port)]);
  await waitFor(() => /dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(w.output()), 60_000, `the dashboard\n${w.output()}`);
  const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  assert.match(page, /<html/i);
  const api = (await (await fetch(`http://127.0.0.1:${port}/api/queues`)).json()) as { queues: { name: string }[] };
  assert.deepEqual(api.queues.map((q) => q.name).sort(), ['mtf-evaluate', 'mtf-ingest', 'mtf-publish', 'mtf-train', 'mtf-trigger']);
  w.proc.kill('SIGTERM');
  assert.equal(await w.exited, 0, w.output());
});
