/**
 * The hash-bucketed merge (src/data/bucketMerge.ts) gives the single-process ingest's trajectories up to
 * order — every session's transitions value for value, the same report, the same split — for every
 * fixture from real writers (sessions spanning partitions, rejected rows in one file poisoning a session
 * continued in another, duplicates across files), at several bucket counts; the part files read back
 * through readTrajectories (whole and sampled); and bad or missing parts are refused, naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { bucketOf } from '../../src/data/bucketRows.ts';
import { combineStats, finishBuckets, mergeBucket, planSplit } from '../../src/data/bucketMerge.ts';
import { mergeShards, planShards, readShard, readShardMeta } from '../../src/data/shards.ts';
import { InputError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bySession } from '../helpers/trajectories.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'logs');
const cases = readdirSync(FIXTURES).filter((c) => existsSync(join(FIXTURES, c, 'expected.json')));

interface Expected {
  args: { logs: string; endDate: string | null; days: number | null; rewardWeights: string };
  expect: { ok: boolean };
}

async function viaBuckets(logs: string, window: { endDate: string; days: number } | null, weights: string, work: string, buckets: number, shardBytes?: number) {
  const reward = parseRewardWeights(weights);
  const shards: string[] = [];
  for (const shard of planShards(logs, window, { shardBytes })) {
    const dir = join(work, 'shards', shard.key);
    await readShard({ shard, window, reward, out: dir, buckets });
    shards.push(dir);
  }
  const plan = planSplit(shards.map(readShardMeta), 0.1);
  const parts: string[] = [];
  for (let b = 0; b < buckets; b++) {
    const out = join(work, 'parts', `b${b}`);
    await mergeBucket({ logs, window, reward, shards, bucket: b, plan, out });
    parts.push(out);
  }
  const result = await finishBuckets({ logs, shards, parts, out: join(work, 'bucketed'), removeParts: true });
  return { shards, plan, result };
}

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${what}: ${a} vs ${b}`);

for (const name of cases) {
  const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
  if (!exp.expect.ok) continue;
  test(`bucketed merge = single-process ingest up to order: ${name}`, async () => {
    const logs = join(FIXTURES, name, exp.args.logs);
    const window = exp.args.endDate ? { endDate: exp.args.endDate, days: exp.args.days ?? 3 } : null;
    const work = tempDir();
    const a = await ingest({ logs, window, reward: parseRewardWeights(exp.args.rewardWeights), out: join(work, 'single') });
    const single = { train: await readTrajectories(join(work, 'single'), 'train'), test: await readTrajectories(join(work, 'single'), 'test') };
    for (const buckets of [2, 5]) {
      const w = join(work, `B${buckets}`);
      const { result: b, plan } = await viaBuckets(logs, window, exp.args.rewardWeights, w, buckets, 1);
      assert.equal(plan.buckets, buckets);
      const { seconds: _s1, reward_sum: rs1, ...ra } = a.report;
      const { seconds: _s2, reward_sum: rs2, ...rb } = b.report;
      assert.deepEqual(rb, ra, `B=${buckets}: same ingest report`);
      near(rs2, rs1, 'reward_sum');
      assert.equal(b.metadata.format_version, 3);
      assert.ok(!existsSync(join(w, 'parts', 'b0')), 'the parts are removed once linked into place');
      for (const split of ['train', 'test'] as const) {
        assert.deepEqual({ ...b.metadata.counts[split], reward_sum: 0 }, { ...a.metadata.counts[split], reward_sum: 0 }, `${split} counts`);
        const got = await readTrajectories(join(w, 'bucketed'), split);
        const want = single[split];
        assert.equal(got.batch.n, want.batch.n);
        assert.deepEqual(bySession(got.batch), bySession(want.batch), `B=${buckets} ${split}: every session's transitions`);
        // each part holds only its bucket's sessions
        for (const p of b.metadata.parts![split]) assert.ok(p.sessions > 0);
        const ids = got.batch.sessionIds;
        let at = 0;
        for (const p of b.metadata.parts![split]) {
          for (const id of ids.slice(at, at + p.sessions)) assert.equal(bucketOf(id, buckets), p.bucket, `${id} in part ${p.bucket}`);
          at += p.sessions;
        }
      }
      for (const key of ['state_stats', 'action_stats'] as const) {
        for (const stat of ['mean', 'std', 'min', 'max'] as const) {
          a.metadata[key][stat].forEach((v, j) => assert.ok(Math.abs(v - b.metadata[key][stat][j]) <= 1e-6 * Math.max(1, Math.abs(v)), `${key}.${stat}[${j}]: ${v} vs ${b.metadata[key][stat][j]}`));
        }
      }
      // a sample of sessions from the parts: exactly the sessions sampled, with their rows
      const whole = await readTrajectories(join(w, 'bucketed'), 'train');
      const half = await readTrajectories(join(w, 'bucketed'), 'train', { sessionShare: 0.5, sampleSeed: 3 });
      const all = bySession(whole.batch);
      const some = bySession(half.batch);
      assert.ok(some.size < all.size || all.size < 4, 'a sample');
      for (const [id, rows] of some) assert.equal(rows, all.get(id), `sampled session ${id}`);
    }
  });
}

test('bucketed merge: a session spanning shards lands in one bucket; the split plan is the single merge\'s time split', async () => {
  const logs = join(FIXTURES, 'duckdb-hive-spark-window');
  const window = { endDate: '2026-11-20', days: 3 };
  const work = tempDir();
  const { shards, plan } = await viaBuckets(logs, window, 'play_time_s=1,like=2,share=4', work, 3, 1);
  const metas = shards.map(readShardMeta);
  assert.ok(metas.every((m) => m.buckets === 3 && m.bucket_rows.reduce((s, x) => s + x, 0) === m.rows));
  // each bucket file holds only its sessions' rows (bucketOf by id)
  for (const m of metas) assert.equal(m.session_start.length, m.sessions.length);
  const spanning = metas[0].sessions.filter((id) => metas.slice(1).some((m) => m.sessions.includes(id)));
  assert.ok(spanning.length > 0, 'the fixture has sessions across shards');
  assert.ok(plan.sessions > 0 && plan.test_sessions === Math.floor(0.1 * plan.sessions + 1e-9));
  // the single merge refuses bucketed shards, naming the setting
  await assert.rejects(mergeShards({ logs, window, reward: parseRewardWeights('play_time_s=1,like=2,share=4'), out: join(work, 'x'), shards }), /merge_buckets/);
});

test('bucketed merge: a missing or damaged part is refused naming it, and nothing is written', async () => {
  const logs = join(FIXTURES, 'duckdb-hive-spark-window');
  const window = { endDate: '2026-11-20', days: 3 };
  const reward = parseRewardWeights('play_time_s=1,like=2,share=4');
  const work = tempDir();
  const shards: string[] = [];
  for (const shard of planShards(logs, window)) {
    const dir = join(work, 'shards', shard.key);
    await readShard({ shard, window, reward, out: dir, buckets: 2 });
    shards.push(dir);
  }
  const plan = planSplit(shards.map(readShardMeta), 0.1);
  const parts = [join(work, 'b0'), join(work, 'b1')];
  await mergeBucket({ logs, window, reward, shards, bucket: 0, plan, out: parts[0] });
  const out = join(work, 'out');
  await assert.rejects(finishBuckets({ logs, shards, parts, out }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /b1: not a merged bucket/);
    return true;
  });
  await mergeBucket({ logs, window, reward, shards, bucket: 1, plan, out: parts[1] });
  writeFileSync(join(parts[1], 'metadata.json'), '{"format_version": 3}');
  await assert.rejects(finishBuckets({ logs, shards, parts, out }), /b1\/metadata\.json: field/);
  assert.ok(!existsSync(out), 'nothing half-written');
  // a damaged bucket rows file: the bucket's merge names it
  const rowsFile = readdirSync(shards[0]).find((f) => f.startsWith('rows-b'))!;
  writeFileSync(join(shards[0], rowsFile), 'not arrow');
  rmSync(parts[0], { recursive: true });
  const b = Number(rowsFile.slice(6, 11));
  await assert.rejects(mergeBucket({ logs, window, reward, shards, bucket: b, plan, out: parts[0] }), (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.ok(err.message.includes(rowsFile), err.message);
    return true;
  });
  assert.ok(!existsSync(parts[0]));
});

test('combineStats: parts combined = the statistics of all rows', () => {
  const rows = [[1, 5], [2, -1], [3, 0], [10, 2], [-4, 7]];
  const stats = (r: number[][]) => {
    const n = r.length;
    const mean = [0, 1].map((j) => r.reduce((s, x) => s + x[j], 0) / n);
    const std = [0, 1].map((j) => Math.sqrt(r.reduce((s, x) => s + (x[j] - mean[j]) ** 2, 0) / n));
    return { mean, std, min: [0, 1].map((j) => Math.min(...r.map((x) => x[j]))), max: [0, 1].map((j) => Math.max(...r.map((x) => x[j]))) };
  };
  const c = combineStats([{ n: 2, stats: stats(rows.slice(0, 2)) }, { n: 0, stats: { mean: [0, 0], std: [0, 0], min: [0, 0], max: [0, 0] } }, { n: 3, stats: stats(rows.slice(2)) }], 2);
  const want = stats(rows);
  for (const k of ['mean', 'std', 'min', 'max'] as const) c[k].forEach((v, j) => assert.ok(Math.abs(v - want[k][j]) < 1e-12, `${k}[${j}]`));
});
