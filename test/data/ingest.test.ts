import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { duckdbRun } from '../helpers/duckdbWriter.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const reward = parseRewardWeights('play_time_s=1,like=2');

/** 40 sessions × 5 steps over 2 days, written by DuckDB as 2 Hive partitions. state_j = session + step/10 + j. */
async function writeLog(dir: string): Promise<void> {
  for (const [day, dt] of [[0, '2026-05-01'], [1, '2026-05-02']] as const) {
    mkdirSync(join(dir, `dt=${dt}`), { recursive: true });
    await duckdbRun(`COPY (
      SELECT 's' || (sess + ${day * 20})::VARCHAR AS session_id, (sess % 7)::BIGINT AS user_id,
             make_timestamptz(${Date.UTC(2026, 4, 1 + day) * 1000}::BIGINT + sess * 600000000 + step * 30000000) AS request_ts,
             list_transform(range(3), j -> (sess + ${day * 20} + step / 10 + j)::FLOAT) AS state,
             [0.5::FLOAT, step::FLOAT] AS action,
             (step * 2)::FLOAT AS play_time_s, (step % 2 = 0) AS "like"
      FROM range(20) a(sess), range(5) b(step) ORDER BY random()
    ) TO '${join(dir, `dt=${dt}`, 'part-0.parquet')}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16)`);
  }
}

test('a DuckDB-written log ingests, and the trajectory files read back exactly', async () => {
  const dir = tempDir();
  await writeLog(join(dir, 'logs'));
  const out = join(dir, 'traj');
  const { report, metadata } = await ingest({ logs: join(dir, 'logs'), window: { endDate: '2026-05-02', days: 2 }, reward, out });
  assert.equal(report.rows_read, 200);
  assert.equal(report.sessions, 40);
  assert.equal(report.transitions, 200);
  assert.equal(report.files, 2);
  // Σ over sessions of Σ_step (2·step + 2·[step even]) = 40 · (20 + 6)
  assert.equal(report.reward_sum, 40 * 26);
  // The last session of day 2 starts 19·10 min after midnight: all end long before the window's end.
  assert.equal(report.terminal_transitions, 40);
  assert.equal(report.train_sessions, 36);
  assert.equal(report.test_sessions, 4);
  assert.deepEqual(metadata.state_names, ['state_0', 'state_1', 'state_2']);
  assert.equal(metadata.counts.train.transitions, 180);

  const { batch: train } = await readTrajectories(out, 'train');
  const { batch: test } = await readTrajectories(out, 'test');
  assert.equal(train.n + test.n, 200);
  // Sessions are ordered by start: s0 (day 1, 00:00) first; the test split holds the 4 latest of day 2.
  assert.equal(train.sessionIds[0], 's0');
  assert.deepEqual(test.sessionIds, ['s36', 's37', 's38', 's39']);
  for (let i = 0; i < train.n; i++) {
    const sess = Number(train.sessionIds[train.sessionIndex[i]].slice(1));
    const step = train.step[i];
    assert.ok(Math.abs(train.state[i * 3 + 1] - (sess + step / 10 + 1)) < 1e-5);
    assert.equal(train.action[i * 2 + 1], step);
    if (step < 4) assert.ok(Math.abs(train.nextState[i * 3] - (sess + (step + 1) / 10)) < 1e-5);
    assert.equal(train.done[i], step === 4 ? 1 : 0);
    assert.equal(train.reward[i], 2 * step + (step % 2 === 0 ? 2 : 0));
  }
});

test('bad input fails with the file named and leaves the previous output intact', async () => {
  const dir = tempDir();
  const logs = join(dir, 'logs');
  await writeLog(logs);
  const out = join(dir, 'traj');
  await ingest({ logs, window: null, reward, out });
  const before = readdirSync(out).map((f) => [f, readFileSync(join(out, f)).length]);
  const beforeMeta = readFileSync(join(out, 'metadata.json'), 'utf8');

  // A truncated file (as a crashed copy leaves it).
  const victim = join(logs, 'dt=2026-05-02', 'part-0.parquet');
  truncateSync(victim, Math.floor(statSync(victim).size / 2));
  await assert.rejects(
    ingest({ logs, window: null, reward, out }),
    (err: unknown) => err instanceof InputError && err.message.includes(victim) && err.file === victim,
  );
  assert.deepEqual(readdirSync(out).map((f) => [f, readFileSync(join(out, f)).length]), before);
  assert.equal(readFileSync(join(out, 'metadata.json'), 'utf8'), beforeMeta);
  assert.deepEqual(readdirSync(dir).sort(), ['logs', 'traj'], 'no temporary directory is left behind');

  // The CLI: exit 1, one line naming the file.
  const r = runMtf(['ingest', '--logs', logs, '--reward-weights', 'play_time_s=1,like=2', '--out', out]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(r.stderr.includes(victim), r.stderr);
  assert.equal(readFileSync(join(out, 'metadata.json'), 'utf8'), beforeMeta);

  // A file that is not parquet at all.
  writeFileSync(victim, 'session_id,user_id\n1,2\n');
  await assert.rejects(ingest({ logs, window: null, reward, out }), new RegExp(victim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

  // A feedback column the reward spec names but the log lacks.
  await assert.rejects(
    ingest({ logs: join(logs, 'dt=2026-05-01'), window: null, reward: parseRewardWeights('comment=1'), out }),
    /missing feedback column 'comment'/,
  );
  assert.equal(readFileSync(join(out, 'metadata.json'), 'utf8'), beforeMeta);
});

test('integer request_ts in seconds (arrow-rs writes timestamp[s] as int64) is refused, naming file and column', async () => {
  const dir = tempDir();
  const file = join(dir, 'seconds.parquet');
  await duckdbRun(`COPY (SELECT 's1' AS session_id, 1 AS user_id, (1763510400 + i)::BIGINT AS request_ts,
      [1.0::FLOAT, 2.0] AS state, [0.5::FLOAT] AS action, 1.0::FLOAT AS play_time_s, true AS "like"
      FROM range(3) t(i)) TO '${file}' (FORMAT parquet)`);
  await assert.rejects(ingest({ logs: file, window: null, reward, out: join(dir, 'out') }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.column, 'request_ts');
    assert.match(err.message, /seconds\.parquet: column 'request_ts' .* look like epoch seconds/);
    return true;
  });
});

test('writing a split in many small chunks gives the same trajectories and statistics as one chunk', async () => {
  const dir = tempDir();
  const logs = join(dir, 'logs');
  await writeLog(logs);
  const one = await ingest({ logs, window: null, reward, out: join(dir, 'one') });
  const lines: string[] = [];
  const many = await ingest({ logs, window: null, reward, out: join(dir, 'many'), chunkRows: 7, onProgress: (l) => lines.push(l) });
  // every phase says what it did with its seconds; writing reports its share done, ending at 100%
  assert.ok(lines.some((l) => /^grouped \d+ rows into \d+ sessions \(\d+\.\d s\)$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('writing the trajectories: 100%')), lines.join('\n'));
  assert.ok(lines.some((l) => /^wrote and synced the trajectories \(/.test(l)), lines.join('\n'));
  assert.deepEqual(many.metadata.state_stats, one.metadata.state_stats);
  assert.deepEqual(many.metadata.counts, one.metadata.counts);
  for (const split of ['train', 'test'] as const) {
    const a = (await readTrajectories(join(dir, 'one'), split)).batch;
    const b = (await readTrajectories(join(dir, 'many'), split)).batch;
    assert.deepEqual(b, a);
  }
});
