/**
 * β of Eq. (1) in the log contract (issue 16 §5): the parquet footer key `mtf.beta` (or the ingest setting)
 * → metadata.json `beta`, through the single-process and the sharded ingest; files or a setting that
 * disagree are refused naming them; logs and metadata from before β was recorded still work (β null).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { IngestConfig } from '../../src/config/index.ts';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { mergeShards, planShards, readShard } from '../../src/data/shards.ts';
import { InputError } from '../../src/errors/index.ts';
import { REWARD_SPEC, simulateLogs } from '../../src/sim/index.ts';
import { runMtf } from '../helpers/cli.ts';
import { duckdbRun } from '../helpers/duckdbWriter.ts';
import { tempDir } from '../helpers/tmp.ts';
import { smallWorld } from '../sim/helpers.ts';

const reward = parseRewardWeights('play_time_s=1');
const DAYS = ['2026-05-01', '2026-05-02'] as const;

/** 10 sessions × 3 steps per day, written by DuckDB (a writer other than ours), each day with its own footer β (null: none). */
async function writeLog(dir: string, betas: readonly (string | null)[]): Promise<void> {
  for (const [day, dt] of DAYS.entries()) {
    mkdirSync(join(dir, `dt=${dt}`), { recursive: true });
    const kv = betas[day] === null ? '' : `, KV_METADATA {'mtf.beta': '${betas[day]}'}`;
    await duckdbRun(`COPY (
      SELECT 's' || (sess + ${day * 10})::VARCHAR AS session_id, sess::BIGINT AS user_id,
             make_timestamptz(${Date.UTC(2026, 4, 1 + day) * 1000}::BIGINT + sess * 600000000 + step * 30000000) AS request_ts,
             [sess::FLOAT, step::FLOAT] AS state, [0.5::FLOAT, 1::FLOAT] AS action, step::FLOAT AS play_time_s
      FROM range(10) a(sess), range(3) b(step)
    ) TO '${join(dir, `dt=${dt}`, 'part-0.parquet')}' (FORMAT parquet${kv})`);
  }
}

const window = { endDate: DAYS[1], days: 2 };

test("the simulator's β travels from the footer into metadata.json, single-process and sharded", async () => {
  const dir = tempDir();
  const world = smallWorld();
  const logs = join(dir, 'logs');
  await simulateLogs({ world, out: logs, endDate: '2026-11-20', days: 2, sessionsPerDay: 30, seed: 3 });
  const simReward = parseRewardWeights(REWARD_SPEC);
  const w = { endDate: '2026-11-20', days: 2 };
  const one = await ingest({ logs, window: w, reward: simReward, out: join(dir, 'traj') });
  assert.deepEqual(one.metadata.beta, [...world.config.session.beta]);
  assert.deepEqual((await readTrajectories(join(dir, 'traj'), 'train')).metadata.beta, [...world.config.session.beta]);

  const shards = await Promise.all(
    planShards(logs, w).map(async (shard) => {
      const out = join(dir, 'shards', shard.key);
      await readShard({ shard, window: w, reward: simReward, out });
      return out;
    }),
  );
  const merged = await mergeShards({ logs, window: w, reward: simReward, out: join(dir, 'traj2'), shards });
  assert.deepEqual(merged.metadata.beta, [...world.config.session.beta]);
  // the pipeline's ingest.beta reaches the merge: a disagreeing one is refused there
  await assert.rejects(
    mergeShards({ logs, window: w, reward: simReward, out: join(dir, 'traj3'), shards, beta: 0.01 }),
    (e: unknown) => e instanceof InputError && /--beta \(ingest\.beta\) \[0\.01, .*\] disagrees with footer 'mtf\.beta' \[0\.05, 0\.05, 0\.02/.test(e.message),
  );
});

test('footers that disagree are refused naming the files; agreeing ones give β', async () => {
  const dir = tempDir();
  await writeLog(join(dir, 'same'), ['[0.05, 0.01]', '[0.05,0.01]']);
  const same = await ingest({ logs: join(dir, 'same'), window, reward, out: join(dir, 'traj-same') });
  assert.deepEqual(same.metadata.beta, [0.05, 0.01]);

  await writeLog(join(dir, 'differ'), ['[0.05, 0.01]', '[0.02, 0.01]']);
  await assert.rejects(ingest({ logs: join(dir, 'differ'), window, reward, out: join(dir, 'traj-differ') }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /the files disagree on β \(footer 'mtf\.beta'\)/);
    assert.match(e.message, /dt=2026-05-01\/part-0\.parquet has \[0\.05, 0\.01\]/);
    assert.match(e.message, /dt=2026-05-02\/part-0\.parquet has \[0\.02, 0\.01\]/);
    return true;
  });

  // some files with the key, some without: the setting must vouch for all of them
  await writeLog(join(dir, 'mixed'), ['[0.05, 0.01]', null]);
  await assert.rejects(ingest({ logs: join(dir, 'mixed'), window, reward, out: join(dir, 'traj-mixed') }), /1 files carry footer 'mtf\.beta' \[0\.05, 0\.01\] .* but 1 do not \(e\.g\. .*dt=2026-05-02\/part-0\.parquet\); give --beta/);
  const mixed = await ingest({ logs: join(dir, 'mixed'), window, reward, out: join(dir, 'traj-mixed'), beta: [0.05, 0.01] });
  assert.deepEqual(mixed.metadata.beta, [0.05, 0.01]);

  await writeLog(join(dir, 'bad'), ['{"beta": 1}', '[0.05, 0.01]']);
  await assert.rejects(ingest({ logs: join(dir, 'bad'), window, reward, out: join(dir, 'traj-bad') }), /dt=2026-05-01\/part-0\.parquet: footer key 'mtf\.beta' must be a JSON array of numbers ≥ 0/);
  await writeLog(join(dir, 'short'), ['[0.05]', '[0.05]']);
  await assert.rejects(ingest({ logs: join(dir, 'short'), window, reward, out: join(dir, 'traj-short') }), /footer key 'mtf\.beta' holds 1 values, the log's action has 2 elements/);
});

test('mtf ingest --beta: states β for logs without the footer key, must agree with it where files have it', async () => {
  const dir = tempDir();
  await writeLog(join(dir, 'old'), [null, null]);
  await writeLog(join(dir, 'new'), ['[0.05, 0.01]', '[0.05, 0.01]']);
  const args = (logs: string, out: string, ...more: string[]) => ['ingest', '--logs', join(dir, logs), '--end-date', DAYS[1], '--days', '2', '--reward-weights', 'play_time_s=1', '--out', join(dir, out), '--quiet', ...more];

  const old = runMtf(args('old', 'traj-old'));
  assert.equal(old.code, 0, old.stderr);
  assert.equal(JSON.parse(readFileSync(join(dir, 'traj-old', 'metadata.json'), 'utf8')).beta, null, 'old logs: β unknown');
  const stated = runMtf(args('old', 'traj-stated', '--beta', '0.03'));
  assert.equal(stated.code, 0, stated.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'traj-stated', 'metadata.json'), 'utf8')).beta, [0.03, 0.03]);

  const agree = runMtf(args('new', 'traj-agree', '--beta', '0.05,0.01'));
  assert.equal(agree.code, 0, agree.stderr);
  const clash = runMtf(args('new', 'traj-clash', '--beta', '0.01'));
  assert.equal(clash.code, 1, clash.stderr);
  assert.match(clash.stderr, /^mtf: --beta \(ingest\.beta\) \[0\.01, 0\.01\] disagrees with footer 'mtf\.beta' \[0\.05, 0\.01\] of .*dt=2026-05-01\/part-0\.parquet/);
  const wrongLength = runMtf(args('old', 'traj-len', '--beta', '0.1,0.2,0.3'));
  assert.equal(wrongLength.code, 1);
  assert.match(wrongLength.stderr, /--beta \(ingest\.beta\): expected 1 or 2 values \(one per action element\), got 3/);

  // the config file's ingest.beta is the same setting
  const cfg = join(dir, 'mtf.json');
  writeFileSync(cfg, JSON.stringify({ ingest: { beta: [0.02, 0.01] } }));
  const fromCfg = runMtf(['ingest', '--logs', join(dir, 'new'), '--reward-weights', 'play_time_s=1', '--out', join(dir, 'traj-cfg'), '--config', cfg, '--quiet']);
  assert.equal(fromCfg.code, 1);
  assert.match(fromCfg.stderr, /\[0\.02, 0\.01\] disagrees with footer 'mtf\.beta' \[0\.05, 0\.01\]/);
  assert.throws(() => IngestConfig.parse({ beta: [-1] }));
});

test('metadata.json written before β was recorded still reads, as β null', async () => {
  const dir = tempDir();
  await writeLog(join(dir, 'logs'), ['[0.05, 0.01]', '[0.05, 0.01]']);
  const out = join(dir, 'traj');
  await ingest({ logs: join(dir, 'logs'), window, reward, out });
  const path = join(out, 'metadata.json');
  const { beta, ...older } = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual(beta, [0.05, 0.01]);
  writeFileSync(path, JSON.stringify(older));
  const { metadata, batch } = await readTrajectories(out, 'train');
  assert.equal(metadata.beta, null);
  assert.equal(batch.actionDim, 2);
});
