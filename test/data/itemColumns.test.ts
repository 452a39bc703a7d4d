/**
 * The optional item columns of the log contract (schemas/interaction-log.md, "Item columns";
 * src/data/itemColumns.ts): a log with them ingests to the same trajectories as without them, bad values
 * reject their row with a counted reason (in a single process and through shards alike), and a column of
 * the wrong type fails with the file and column named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { mergeShards, planShards, readShard } from '../../src/data/shards.ts';
import { InputError } from '../../src/errors/index.ts';
import { duckdbRun } from '../helpers/duckdbWriter.ts';
import { tempDir } from '../helpers/tmp.ts';

const reward = parseRewardWeights('play_time_s=1');
const T0 = Date.UTC(2026, 4, 1) * 1000;

/** 12 sessions × 4 steps; `items` adds item columns (SQL select items, given sess and step), `playTime` overrides the feedback. */
async function writeLog(file: string, items: string, playTime = '(step * 2)::FLOAT'): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  await duckdbRun(`COPY (
    SELECT 's' || sess::VARCHAR AS session_id, 'u' || (sess % 3)::VARCHAR AS user_id,
           make_timestamptz(${T0}::BIGINT + sess * 600000000 + step * 30000000) AS request_ts,
           [sess::FLOAT, step::FLOAT, 1::FLOAT] AS state, [0.5::FLOAT, 1.5::FLOAT] AS action,
           ${playTime} AS play_time_s ${items ? ', ' + items : ''}
    FROM range(12) a(sess), range(4) b(step) ORDER BY sess, step
  ) TO '${file}' (FORMAT parquet)`);
}

const GOOD_ITEMS = `(sess * 10 + step)::VARCHAR AS item_id, [0.1, 0.2]::DOUBLE[2] AS task_scores,
  (0.5 * ln(0.15) + 1.5 * ln(0.25))::DOUBLE AS fused_score, 0.3::FLOAT AS item_completion_rate,
  0.1::FLOAT AS item_interaction_rate, 0.6::DOUBLE AS item_quality_score, 0.2::FLOAT AS item_clickbait_score`;

test('a log with valid item columns ingests to exactly the trajectories of the same log without them, and the report counts them', async () => {
  const dir = tempDir();
  await writeLog(join(dir, 'plain', 'log.parquet'), '');
  await writeLog(join(dir, 'items', 'log.parquet'), GOOD_ITEMS);
  const a = await ingest({ logs: join(dir, 'plain'), window: null, reward, out: join(dir, 'ta') });
  const b = await ingest({ logs: join(dir, 'items'), window: null, reward, out: join(dir, 'tb') });
  const { seconds: _1, item_columns: ia, ...ra } = a.report;
  const { seconds: _2, item_columns: ib, ...rb } = b.report;
  assert.deepEqual(rb, ra);
  assert.deepEqual(ia, {}, 'a log without item columns counts none');
  const all = ['item_id', 'task_scores', 'fused_score', 'item_completion_rate', 'item_interaction_rate', 'item_quality_score', 'item_clickbait_score'];
  assert.deepEqual(ib, Object.fromEntries(all.map((c) => [c, 48])));
  assert.deepEqual(b.metadata.state_names, a.metadata.state_names);
  for (const split of ['train', 'test'] as const) {
    const ta = (await readTrajectories(join(dir, 'ta'), split)).batch;
    const tb = (await readTrajectories(join(dir, 'tb'), split)).batch;
    assert.deepEqual(tb.state, ta.state);
    assert.deepEqual(tb.action, ta.action);
    assert.deepEqual(tb.reward, ta.reward);
    assert.deepEqual(tb.sessionIds, ta.sessionIds);
  }
});

// One bad value per row, each in its own session (s1 … s8); s9's first row logs every item column as null
// (not logged: allowed); s8's first bad row also has a negative feedback value, which is checked first.
const BAD_ITEMS = `(sess * 10 + step)::BIGINT AS item_id,
  CASE WHEN sess = 9 AND step = 0 THEN NULL
       WHEN sess = 1 AND step = 2 THEN [0.1, 0.2, 0.3]
       WHEN sess = 2 AND step = 1 THEN [0.1, 'nan'::DOUBLE]
       WHEN sess = 3 AND step = 0 THEN [-0.1, 0.2]
       WHEN sess = 4 AND step = 3 THEN [0.1, NULL]
       ELSE [0.1, 0.2] END::FLOAT[] AS task_scores,
  CASE WHEN sess = 9 AND step = 0 THEN NULL WHEN sess = 5 AND step = 1 THEN 'inf'::FLOAT ELSE -3.0::FLOAT END AS fused_score,
  CASE WHEN sess = 9 AND step = 0 THEN NULL WHEN sess = 7 AND step = 0 THEN -0.01 ELSE 0.3 END::FLOAT AS item_completion_rate,
  CASE WHEN sess = 9 AND step = 0 THEN NULL ELSE 0.1 END::FLOAT AS item_interaction_rate,
  CASE WHEN sess = 9 AND step = 0 THEN NULL WHEN sess = 6 AND step = 2 THEN 1.5 ELSE 0.6 END::DOUBLE AS item_quality_score,
  CASE WHEN sess = 9 AND step = 0 THEN NULL WHEN sess = 8 AND step = 1 THEN 'nan'::FLOAT WHEN sess = 8 AND step = 2 THEN 'inf'::FLOAT ELSE 0.2::FLOAT END AS item_clickbait_score`;
const BAD_PLAY = `CASE WHEN sess = 8 AND step = 1 THEN -1 ELSE step * 2 END::FLOAT`;

test('bad item values reject their row with a counted reason and drop the session; nulls are allowed', async () => {
  const dir = tempDir();
  const logs = join(dir, 'logs');
  await writeLog(join(logs, 'log.parquet'), BAD_ITEMS, BAD_PLAY);
  const { report } = await ingest({ logs, window: null, reward, out: join(dir, 'traj') });
  assert.equal(report.rows_read, 48);
  assert.deepEqual(report.rows_rejected, {
    feedback_negative: 1,
    fused_score_nonfinite: 1,
    item_stat_nonfinite: 1,
    item_stat_range: 2,
    task_scores_length: 1,
    task_scores_negative: 1,
    task_scores_nonfinite: 1,
    task_scores_null: 1,
  });
  assert.equal(report.sessions_dropped_by_reason.rejected_row, 8);
  assert.equal(report.sessions, 4, 's0, s9 (its null row kept), s10, s11');
  assert.equal(report.transitions, 16);
  const carried = Object.fromEntries(['item_id', 'task_scores', 'fused_score', 'item_completion_rate', 'item_interaction_rate', 'item_quality_score', 'item_clickbait_score'].map((c) => [c, c === 'item_id' ? 48 : 47]));
  assert.deepEqual(report.item_columns, carried);

  // The fanned-out ingest counts the same.
  const plan = planShards(logs, null);
  const dirs: string[] = [];
  for (const shard of plan) {
    const d = join(dir, 'shards', shard.key);
    await readShard({ shard, window: null, reward, out: d });
    dirs.push(d);
  }
  const merged = await mergeShards({ logs, window: null, reward, out: join(dir, 'merged'), shards: dirs });
  const { seconds: _1, ...a } = report;
  const { seconds: _2, ...b } = merged.report;
  assert.deepEqual(b, a);
});

test('an item column of the wrong type fails with the file and column named', async () => {
  const dir = tempDir();
  const cases: [string, string][] = [
    ['task_scores', `'0.1,0.2' AS task_scores`],
    ['task_scores', `[1, 2]::INTEGER[] AS task_scores`],
    ['item_quality_score', `'high' AS item_quality_score`],
    ['item_id', `(sess * 1.5)::DOUBLE AS item_id`],
    ['fused_score', `true AS fused_score`],
  ];
  for (const [i, [column, select]] of cases.entries()) {
    const file = join(dir, `case${i}`, 'log.parquet');
    await writeLog(file, select);
    await assert.rejects(ingest({ logs: file, window: null, reward, out: join(dir, `out${i}`) }), (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.equal(err.file, file);
      assert.equal(err.column, column);
      assert.ok(err.message.startsWith(`${file}: column '${column}' has type`), err.message);
      return true;
    });
  }
});
