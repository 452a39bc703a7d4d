/**
 * The fanned-out ingest (one shard per partition or loose file, read separately, then merged) writes
 * exactly what the single-process ingest writes from the same files — for every fixture from real
 * writers, including sessions that span partitions, rejected rows in one file poisoning a session
 * continued in another, and duplicates across files — and fails on bad input the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { ingest, parseRewardWeights } from '../../src/data/index.ts';
import { mergeShards, planShards, readShard, readShardInChild } from '../../src/data/shards.ts';
import { InputError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'logs');
const cases = readdirSync(FIXTURES).filter((c) => existsSync(join(FIXTURES, c, 'expected.json')));

interface Expected {
  args: { logs: string; endDate: string | null; days: number | null; rewardWeights: string };
  expect: { ok: boolean; error_contains?: string[] };
}

async function viaShards(logs: string, window: { endDate: string; days: number } | null, weights: string, work: string, shardBytes?: number) {
  const reward = parseRewardWeights(weights);
  const plan = planShards(logs, window, { shardBytes });
  const dirs: string[] = [];
  for (const shard of plan) {
    const dir = join(work, 'shards', shard.key);
    await readShard({ shard, window, reward, out: dir });
    dirs.push(dir);
  }
  return { plan, result: await mergeShards({ logs, window, reward, out: join(work, 'merged'), shards: dirs }) };
}

for (const name of cases) {
  const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
  test(`shards = single-process ingest: ${name}`, async () => {
    const work = tempDir();
    const logs = join(FIXTURES, name, exp.args.logs);
    const window = exp.args.endDate ? { endDate: exp.args.endDate, days: exp.args.days ?? 3 } : null;
    const single = () => ingest({ logs, window, reward: parseRewardWeights(exp.args.rewardWeights), out: join(work, 'single') });
    if (!exp.expect.ok) {
      await assert.rejects(single(), InputError);
      await assert.rejects(viaShards(logs, window, exp.args.rewardWeights, work), (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        for (const part of exp.expect.error_contains ?? []) assert.ok(err.message.includes(part), `'${err.message}' names '${part}'`);
        return true;
      });
      assert.ok(!existsSync(join(work, 'merged')), 'nothing half-written');
      return;
    }
    const a = await single();
    const { plan, result: b } = await viaShards(logs, window, exp.args.rewardWeights, work);
    assert.ok(plan.length >= 1);
    sameIngest(work, a, b);
  });
}

type IngestOut = Awaited<ReturnType<typeof ingest>>;

/** The merged ingest (work/merged) says and holds what the single-process one (work/single) does. */
function sameIngest(work: string, a: IngestOut, b: IngestOut) {
  const { seconds: _s1, ...ra } = a.report;
  const { seconds: _s2, ...rb } = b.report;
  assert.deepEqual(rb, ra, 'same ingest report');
  const { created_at: _c1, ...ma } = a.metadata;
  const { created_at: _c2, ...mb } = b.metadata;
  assert.deepEqual(mb, ma, 'same metadata');
  // Same columns, same values, value for value (not byte-compared: Arrow JS numbers dictionaries
  // from a process-wide counter, so the policy_id dictionary's id differs between two writes).
  for (const f of readdirSync(join(work, 'single')).filter((x) => x.endsWith('.arrow'))) {
    const ta = tableFromIPC(readFileSync(join(work, 'single', f)));
    const tb = tableFromIPC(readFileSync(join(work, 'merged', f)));
    assert.equal(tb.schema.fields.map(String).join(), ta.schema.fields.map(String).join(), `${f}: schema`);
    assert.equal(tb.numRows, ta.numRows, `${f}: rows`);
    for (const field of ta.schema.fields) {
      const va = JSON.stringify(ta.getChild(field.name)!.toArray(), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      const vb = JSON.stringify(tb.getChild(field.name)!.toArray(), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      assert.ok(va === vb, `${f}: column ${field.name} differs`);
    }
  }
}

test('fan-out by file: a partition over the shard size is read as several shards, the merge gives the same trajectories', async () => {
  const work = tempDir();
  const logs = join(FIXTURES, 'duckdb-hive-spark-window');
  const window = { endDate: '2026-11-20', days: 3 };
  const weights = 'play_time_s=1,like=2,share=4';
  const a = await ingest({ logs, window, reward: parseRewardWeights(weights), out: join(work, 'single') });
  // 1 byte: every file is a shard of its own (two Spark part files per day)
  const { plan, result: b } = await viaShards(logs, window, weights, work, 1);
  assert.deepEqual(plan.map((s) => [s.key, s.files.length]), [
    ['dt=2026-11-18', 1], ['dt=2026-11-18.p2', 1], ['dt=2026-11-19', 1], ['dt=2026-11-19.p2', 1], ['dt=2026-11-20', 1], ['dt=2026-11-20.p2', 1],
  ]);
  sameIngest(work, a, b);
  // a shard closes once its files reach the size: at the smallest file's size every file is alone; at a
  // day's total plus one byte, one shard per day
  const days = planShards(logs, window);
  const sizes = days.flatMap((d) => d.files.map((f) => f.size));
  assert.deepEqual(planShards(logs, window, { shardBytes: Math.min(...sizes) }).map((s) => s.files.length), [1, 1, 1, 1, 1, 1]);
  const dayBytes = Math.max(...days.map((d) => d.files.reduce((t, f) => t + f.size, 0)));
  assert.deepEqual(planShards(logs, window, { shardBytes: dayBytes + 1 }).map((s) => s.key), ['dt=2026-11-18', 'dt=2026-11-19', 'dt=2026-11-20']);
  assert.throws(() => planShards(logs, window, { shardBytes: 0 }), /shardBytes must be positive/);
});

test('planShards: one shard per dt partition in the window, one per loose file', () => {
  const hive = planShards(join(FIXTURES, 'duckdb-hive-spark-window'), { endDate: '2026-11-20', days: 3 });
  assert.deepEqual(hive.map((s) => s.key), ['dt=2026-11-18', 'dt=2026-11-19', 'dt=2026-11-20']);
  const loose = planShards(join(FIXTURES, 'arrowrs-snappy-badrows'), null);
  assert.deepEqual(loose.map((s) => [s.key, s.files.length]), [['file-0', 1], ['file-1', 1]]);
});

test('a damaged shard is refused with its file named, and the output is not written', async () => {
  const work = tempDir();
  const logs = join(FIXTURES, 'duckdb-hive-spark-window');
  const window = { endDate: '2026-11-20', days: 3 };
  const reward = parseRewardWeights('play_time_s=1,like=2,share=4');
  const dirs: string[] = [];
  for (const shard of planShards(logs, window)) {
    const dir = join(work, shard.key);
    await readShard({ shard, window, reward, out: dir });
    dirs.push(dir);
  }
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dirs[1], 'shard.json'), '{"format": "batchrl-mtf/ingest-shard@1", "rows": -1}');
  await assert.rejects(mergeShards({ logs, window, reward, out: join(work, 'out'), shards: dirs }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /dt=2026-11-19\/shard\.json: field/);
    return true;
  });
  assert.ok(!existsSync(join(work, 'out')));
  await assert.rejects(mergeShards({ logs, window, reward: parseRewardWeights('play_time_s=1'), out: join(work, 'out'), shards: dirs.slice(0, 1) }), /feedback columns/);
  // rows.arrow cut short, or not Arrow at all: refused naming that file
  const rows = join(dirs[0], 'rows.arrow');
  const bytes = readFileSync(rows);
  for (const damaged of [bytes.subarray(0, Math.floor(bytes.length / 2)), Buffer.from('not arrow')]) {
    writeFileSync(rows, damaged);
    await assert.rejects(mergeShards({ logs, window, reward, out: join(work, 'out'), shards: [dirs[0]] }), (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.match(err.message, /dt=2026-11-18\/rows\.arrow: /);
      return true;
    });
    assert.ok(!existsSync(join(work, 'out')));
  }
});

test('a shard read in a child process is the shard read in this one; its errors come back as InputErrors naming the file; an abort kills it', async () => {
  const work = tempDir();
  const logs = join(FIXTURES, 'duckdb-hive-spark-window');
  const window = { endDate: '2026-11-20', days: 3 };
  const reward = parseRewardWeights('play_time_s=1,like=2,share=4');
  const shard = planShards(logs, window)[1];
  const lines: string[] = [];
  await readShard({ shard, window, reward, out: join(work, 'here') });
  const meta = await readShardInChild({ shard, window, reward, out: join(work, 'worker'), onProgress: (l) => lines.push(l) });
  assert.equal(meta.key, shard.key);
  assert.ok(meta.rows > 0);
  assert.ok(meta.peak_rss_mib > 10 && meta.peak_rss_mib < 4096, `the child's own peak RSS: ${meta.peak_rss_mib} MiB`);
  assert.deepEqual(readFileSync(join(work, 'worker', 'rows.arrow')), readFileSync(join(work, 'here', 'rows.arrow')), 'same rows');
  const strip = (dir: string) => {
    const { seconds: _s, files, ...rest } = JSON.parse(readFileSync(join(work, dir, 'shard.json'), 'utf8'));
    return { ...rest, files: (files as { seconds?: number }[]).map(({ seconds: _t, ...f }) => f) };
  };
  assert.deepEqual(strip('worker'), strip('here'));
  // a failing fixture: the same InputError (message, file) as on this thread, and no shard directory
  const bad = cases.map((c) => ({ c, exp: JSON.parse(readFileSync(join(FIXTURES, c, 'expected.json'), 'utf8')) as Expected })).find((x) => x.c === 'fail-not-parquet')!;
  const badLogs = join(FIXTURES, bad.c, bad.exp.args.logs);
  const badWindow = bad.exp.args.endDate ? { endDate: bad.exp.args.endDate, days: bad.exp.args.days ?? 3 } : null;
  const badReward = parseRewardWeights(bad.exp.args.rewardWeights);
  let here: InputError | null = null;
  for (const sh of planShards(badLogs, badWindow)) {
    try {
      await readShard({ shard: sh, window: badWindow, reward: badReward, out: join(work, 'bad-here', sh.key) });
    } catch (err) {
      here = err as InputError;
      await assert.rejects(readShardInChild({ shard: sh, window: badWindow, reward: badReward, out: join(work, 'bad-worker') }), (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        assert.equal(e.message, here!.message);
        assert.equal(e.file, here!.file);
        return true;
      });
      assert.ok(!existsSync(join(work, 'bad-worker')), 'nothing half-written');
      break;
    }
  }
  assert.ok(here, `${bad.c}: a shard read fails`);
  // an abort terminates the worker and leaves no shard
  const ac = new AbortController();
  const p = readShardInChild({ shard, window, reward, out: join(work, 'aborted') }, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
  assert.ok(!existsSync(join(work, 'aborted')));
});
