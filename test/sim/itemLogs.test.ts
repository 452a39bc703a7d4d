/**
 * The simulator logs what a ranking stack logs about the shown item (README §2, schemas/interaction-log.md
 * "Item columns"): its id, predicted task scores o, fused score and the item's signals — and DuckDB and
 * the ingest stage read them back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ingest, parseRewardWeights } from '../../src/data/index.ts';
import { REWARD_SPEC, simulateLogs, TASK_NAMES, type Engine } from '../../src/sim/index.ts';
import { ITEM_SIGNAL_DIM, ITEM_SIGNAL_NAMES } from '../../src/sim/itemSignals.ts';
import { tempDir } from '../helpers/tmp.ts';
import { duckdbQuery as query, smallWorld } from './helpers.ts';

const world = smallWorld();
const K = TASK_NAMES.length;
const beta = world.config.session.beta;

// What the engine knew at each logged request, by session index and step.
const seen = new Map<string, { item: number; o: number[]; alpha: number[] }>();
const o = new Float64Array(K);
const observe = {
  onStep(e: Engine, s: number) {
    e.shownPrediction(s, o);
    seen.set(`${e.session[s]}|${e.step[s]}`, { item: e.lastItem[s], o: Array.from(o), alpha: Array.from(e.alpha.subarray(s * K, (s + 1) * K)) });
  },
};
const dir = tempDir('mtf-sim-items-');
const out = join(dir, 'logs');
const report = await simulateLogs({ world, out, endDate: '2025-11-20', days: 1, sessionsPerDay: 150, seed: 4, observe });


const rows = (await query(
  `SELECT session_id, (row_number() OVER (PARTITION BY session_id ORDER BY request_ts) - 1)::INT AS step, action, item_id, task_scores, fused_score,
          ${ITEM_SIGNAL_NAMES.join(', ')}
     FROM read_parquet('${out}/**/*.parquet') ORDER BY session_id, step`,
)) as { session_id: string; step: number; action: number[]; item_id: number; task_scores: number[]; fused_score: number; [k: string]: unknown }[];

test('every row carries the shown item, its predictions as the engine made them, and the world’s signals of it', () => {
  assert.equal(rows.length, report.rows);
  assert.equal(seen.size, report.rows);
  for (const r of rows) {
    const at = seen.get(`${Number(r.session_id.split('-').at(-1))}|${r.step}`);
    assert.ok(at, `${r.session_id} step ${r.step} was served`);
    assert.equal(r.item_id, at.item);
    assert.equal(r.task_scores.length, K);
    // float32 of Engine.shownPrediction, clamped at 0 (README §2)
    for (let t = 0; t < K; t++) assert.ok(Math.abs(r.task_scores[t] - Math.max(0, at.o[t])) <= 1e-6 * Math.max(1, at.o[t]), `${r.session_id}/${r.step} o_${t}`);
    for (let m = 0; m < ITEM_SIGNAL_DIM; m++) assert.equal(r[ITEM_SIGNAL_NAMES[m]], world.itemSignal[at.item * ITEM_SIGNAL_DIM + m]);
  }
});

test('fused_score is Σ α_i log(o_i + β_i) of the row’s own α and o (Eq. 1) with the stack’s β', () => {
  let worst = 0;
  for (const r of rows) {
    let f = 0;
    for (let t = 0; t < K; t++) f += r.action[t] * Math.log(r.task_scores[t] + beta[t]);
    worst = Math.max(worst, Math.abs(f - r.fused_score));
  }
  // o comes back from the stored log(o + β) (table-interpolated, abs error < 1e-4) and as float32
  assert.ok(worst < 1e-3, `largest |f − fused_score| ${worst}`);
  assert.ok(new Set(rows.map((r) => r.fused_score)).size > rows.length / 2, 'the scores vary');
});

test('DuckDB reads the item columns with the contract’s types; the ingest stage checks and counts them', async () => {
  const cols = await query(`DESCRIBE SELECT item_id, task_scores, fused_score, ${ITEM_SIGNAL_NAMES.join(', ')} FROM read_parquet('${out}/**/*.parquet')`);
  assert.deepEqual(
    Object.fromEntries(cols.map((c) => [c.column_name, c.column_type])),
    { item_id: 'INTEGER', task_scores: 'FLOAT[]', fused_score: 'FLOAT', ...Object.fromEntries(ITEM_SIGNAL_NAMES.map((n) => [n, 'FLOAT'])) },
  );
  const r = await ingest({ logs: out, window: null, reward: parseRewardWeights(REWARD_SPEC), out: join(dir, 'traj') });
  assert.deepEqual(r.report.rows_rejected, {});
  assert.equal(r.report.sessions, 150);
  const n = report.rows;
  assert.deepEqual(r.report.item_columns, Object.fromEntries(['item_id', 'task_scores', 'fused_score', ...ITEM_SIGNAL_NAMES].map((c) => [c, n])));
});
