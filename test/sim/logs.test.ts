import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ingest, parseRewardWeights } from '../../src/data/index.ts';
import { META_ACTION_NAMES, META_STATE_NAMES, REWARD_SPEC, simulateDays, simulateLogs, STATE_NAMES, TASK_NAMES, type Engine } from '../../src/sim/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { duckdbQuery as query, smallWorld } from './helpers.ts';

const world = smallWorld();


const dir = tempDir('mtf-sim-logs-');
const out = join(dir, 'logs');
const report = await simulateLogs({ world, out, endDate: '2025-11-20', days: 3, sessionsPerDay: 300, seed: 11 });
const glob = `'${out}/**/*.parquet'`;

test('simulate writes Hive partitions dt=YYYY-MM-DD/part-NNNNN.parquet and nothing else', () => {
  const parts = readdirSync(out).sort();
  assert.deepEqual(parts.slice(0, 3), ['dt=2025-11-18', 'dt=2025-11-19', 'dt=2025-11-20']);
  assert.ok(parts.every((p) => /^dt=\d{4}-\d{2}-\d{2}$/.test(p)));
  for (const p of parts) for (const f of readdirSync(join(out, p))) assert.match(f, /^part-\d{5}\.parquet$/);
  assert.deepEqual(readdirSync(dir), ['logs'], 'no temporary folder is left behind');
  assert.equal(report.sessions, 900);
  assert.equal(report.files.reduce((a, f) => a + f.rows, 0), report.rows);
  assert.ok(readFileSync(join(out, 'dt=2025-11-19', 'part-00000.parquet')).subarray(0, 4).toString() === 'PAR1');
});

test('DuckDB reads the log with the contract’s types', async () => {
  const cols = await query(`DESCRIBE SELECT * FROM read_parquet(${glob}, hive_partitioning = false)`);
  const types = Object.fromEntries(cols.map((c) => [c.column_name, c.column_type]));
  assert.deepEqual(types, {
    session_id: 'VARCHAR',
    user_id: 'VARCHAR',
    request_ts: 'TIMESTAMP WITH TIME ZONE',
    state: 'FLOAT[]',
    action: 'FLOAT[]',
    play_time_s: 'FLOAT',
    play_ratio: 'FLOAT',
    like: 'BOOLEAN',
    share: 'BOOLEAN',
    comment: 'BOOLEAN',
    follow: 'BOOLEAN',
    action_logp: 'DOUBLE',
    policy_id: 'VARCHAR',
    item_id: 'INTEGER',
    task_scores: 'FLOAT[]',
    fused_score: 'FLOAT',
    item_completion_rate: 'FLOAT',
    item_interaction_rate: 'FLOAT',
    item_quality_score: 'FLOAT',
    item_clickbait_score: 'FLOAT',
  });
  const [s] = await query(
    `SELECT count(*)::INT n, count(DISTINCT session_id)::INT sessions, min(len(state))::INT d0, max(len(state))::INT d1,
            min(len(action))::INT k0, max(len(action))::INT k1, min(play_time_s) pt0, min(play_ratio) pr0,
            count(*) FILTER (WHERE isnan(action_logp) OR isinf(action_logp))::INT bad_logp,
            count(DISTINCT policy_id)::INT arms
       FROM read_parquet(${glob})`,
  );
  assert.equal(s.n, report.rows);
  assert.equal(s.sessions, 900);
  assert.deepEqual([s.d0, s.d1, s.k0, s.k1], [28, 28, 8, 8]);
  assert.ok((s.pt0 as number) >= 0 && (s.pr0 as number) >= 0);
  assert.equal(s.bad_logp, 0);
  assert.equal(s.arms, 2);
});

test('metadata names the state and action elements', async () => {
  const kv = await query(`SELECT decode(key) k, decode(value) v FROM parquet_kv_metadata('${join(out, 'dt=2025-11-18', 'part-00000.parquet')}')`);
  const meta = Object.fromEntries(kv.map((r) => [r.k, r.v]));
  assert.deepEqual(JSON.parse(meta[META_STATE_NAMES] as string), [...STATE_NAMES]);
  assert.deepEqual(JSON.parse(meta[META_ACTION_NAMES] as string), [...TASK_NAMES]);
});

test('rows lie in the partition of their own date; sessions start within their day, gaps are tens of seconds', async () => {
  const [p] = await query(
    `SELECT count(*) FILTER (WHERE strftime(request_ts AT TIME ZONE 'UTC', '%Y-%m-%d') <> dt::VARCHAR)::INT misplaced
       FROM read_parquet(${glob}, hive_partitioning = true, hive_types = {'dt': VARCHAR})`,
  );
  assert.equal(p.misplaced, 0);
  const [g] = await query(
    `WITH r AS (SELECT session_id, epoch_ms(request_ts) t, epoch_ms(request_ts) - lag(epoch_ms(request_ts)) OVER (PARTITION BY session_id ORDER BY request_ts) gap
                  FROM read_parquet(${glob}))
     SELECT median(gap) / 1000 med, min(gap) mn,
            (SELECT count(*) FROM (SELECT session_id FROM r GROUP BY 1 HAVING substr(session_id, 1, 8) <> strftime(make_timestamp(min(t) * 1000), '%Y%m%d')))::INT wrong_day
       FROM r`,
  );
  assert.ok((g.med as number) > 5 && (g.med as number) < 90, `median gap ${g.med} s`);
  assert.ok(Number(g.mn) > 0);
  assert.equal(g.wrong_day, 0);
});

test('a re-run with the same seed rewrites the same files; the next night adds its own', async () => {
  const again = await simulateLogs({ world, out, endDate: '2025-11-20', days: 3, sessionsPerDay: 300, seed: 11 });
  assert.deepEqual(again.files, report.files);
  const before = report.files.find((f) => f.path.startsWith('dt=2025-11-21'));
  await simulateLogs({ world, out, endDate: '2025-11-21', days: 1, sessionsPerDay: 300, seed: 12 });
  const [c] = await query(`SELECT count(*)::INT n FROM read_parquet(${glob})`);
  const [d] = await query(`SELECT count(*)::INT n FROM read_parquet('${join(out, 'dt=2025-11-21')}/*.parquet')`);
  assert.ok((c.n as number) > report.rows);
  if (before) assert.ok(existsSync(join(out, before.path)), 'the first run’s rows past midnight are kept');
  assert.ok((d.n as number) > 0);
});

test('the ingest stage reads the log cleanly with the simulator’s reward spec', async () => {
  const r = await ingest({
    logs: out,
    window: { endDate: '2025-11-20', days: 3 },
    reward: parseRewardWeights(REWARD_SPEC),
    out: join(dir, 'ingested'),
  });
  assert.equal(r.report.sessions_dropped, 0);
  assert.deepEqual(r.report.rows_rejected, {});
  assert.equal(r.report.sessions, 900);
  assert.equal(r.report.state_dim, 28);
  assert.equal(r.report.action_dim, 8);
});

test('simulateDays: an observer sees every logged step once, does not change the log, and reads the latent state', async () => {
  const opts = { world, endDate: '2025-11-20', days: 2, sessionsPerDay: 50, seed: 5 };
  const plain: number[][] = [];
  for await (const day of simulateDays(opts)) plain.push(Array.from(day.rows.state.subarray(0, day.rows.n * STATE_NAMES.length)));
  const seen: { session: number; step: number; fatigue: number }[][] = [];
  let today: { session: number; step: number; fatigue: number }[] = [];
  const observe = { onStep: (e: Engine, s: number) => void today.push({ session: e.session[s], step: e.step[s], fatigue: e.latent(s).fatigue }) };
  let d = 0;
  for await (const day of simulateDays({ ...opts, observe })) {
    assert.equal(today.length, day.rows.n, 'one call per logged row');
    assert.deepEqual(Array.from(day.rows.state.subarray(0, day.rows.n * STATE_NAMES.length)), plain[d++], 'the same log as without an observer');
    for (let i = 0; i < day.rows.n; i++) assert.equal(today[i].session, day.rows.session[i]);
    seen.push(today);
    today = [];
  }
  // fatigue only accumulates (φ_0 > 0 per view): within a session it rises strictly from step to step
  const last = new Map<number, { step: number; fatigue: number }>();
  let pairs = 0;
  for (const x of seen[1]) {
    const p = last.get(x.session);
    if (p && x.step === p.step + 1) {
      assert.ok(x.fatigue > p.fatigue, `session ${x.session} step ${x.step}: fatigue ${x.fatigue} after ${p.fatigue}`);
      pairs++;
    }
    last.set(x.session, x);
  }
  assert.ok(pairs > 100, `${pairs} consecutive steps checked`);
});
