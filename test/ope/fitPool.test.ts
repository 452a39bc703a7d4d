/**
 * The evaluation's fit pool (src/ope/fitPool.ts): worker threads give the very report the calling
 * thread gives (the fits' numbers do not depend on where they run), a worker's failure rejects the
 * evaluation instead of hanging it, and closing the pool leaves no thread behind.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicies } from '../../src/ope/evaluate.ts';
import { chooseWorkers, workerFitPool, AUTO_MIN_ROWS } from '../../src/ope/fitPool.ts';
import { FqeConfigSchema } from '../../src/ope/config.ts';
import { sessionStarts } from '../../src/ope/data.ts';
import { behaviorPolicy, constantPolicy, policyActions } from '../../src/ope/policies.ts';
import { initBackend } from '../../src/ope/rl.ts';
import { chainSessions, identityData, loggedSessions, makeBatch } from './helpers.ts';

before(async () => {
  await initBackend('cpu');
});

const config = (workers: number) => ({
  fqe: { iterations: 40, batchSize: 32, hidden: [8], lr: 1e-3, logEvery: 20, gamma: 0.9 },
  bootstrap: 3,
  bootstrapIterations: 15,
  oodStates: 40,
  oodNeighbours: 5,
  histogramBins: 5,
  backend: 'cpu' as const,
  workers,
});

test('two fit workers give the report of the calling thread, number for number', async () => {
  const batch = makeBatch(loggedSessions(50, 4));
  const policies = () => [constantPolicy([0.8, 0.5], 'good'), behaviorPolicy(), constantPolicy([0.3, 0.6], 'other')];
  const inline = await evaluatePolicies({ batch, policies: policies(), baseline: constantPolicy([0.5, 0.5], 'live'), config: config(1) });
  const lines: string[] = [];
  const pooled = await evaluatePolicies({ batch, policies: policies(), baseline: constantPolicy([0.5, 0.5], 'live'), config: config(2), onProgress: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('started 2 fit workers')), lines.join('\n'));
  assert.ok(lines.includes('FQE fits (16): 100%, ETA 0s'), lines.join('\n')); // 4 policies × (1 + 3 refits)
  assert.deepEqual(pooled.policies.map((p) => p.name), ['good', 'behavior', 'other']);
  for (const [a, b] of pooled.policies.map((p, i) => [p, inline.policies[i]] as const)) {
    assert.equal(a.v_hat, b.v_hat, a.name);
    assert.deepEqual(a.bootstrap.values, b.bootstrap.values, a.name);
    assert.deepEqual(a.ci95, b.ci95, a.name);
    assert.deepEqual(a.importance, b.importance, a.name);
  }
  assert.equal(pooled.baseline!.v_hat, inline.baseline!.v_hat);
});

test('a fit that fails in a worker rejects the evaluation with its message; close ends the threads', async () => {
  const d = identityData(makeBatch(chainSessions(20, 3)), 0.9);
  const acts = await policyActions(constantPolicy([0.5], 'c'), d, 1);
  const pool = await workerFitPool(d, 2, 'cpu', 1);
  try {
    const cfg = FqeConfigSchema.parse({ iterations: 5, batchSize: 8, hidden: [4] });
    const ok = await pool.fit(acts, { cfg, starts: sessionStarts(d) });
    assert.ok(Number.isFinite(ok.value[0]));
    await assert.rejects(pool.fit(acts, { cfg, starts: new Int32Array(0) }), /fitFqe: needs at least one row and one initial state/);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.fit(acts, { cfg: FqeConfigSchema.parse({}), starts: sessionStarts(d) }), /closed/);
});

test('chooseWorkers: auto uses every core only on a split large enough to repay the start', () => {
  assert.equal(chooseWorkers('auto', AUTO_MIN_ROWS - 1, 30), 1);
  assert.ok(chooseWorkers('auto', AUTO_MIN_ROWS, 30) >= 1);
  assert.equal(chooseWorkers(4, 10, 3), 3, 'never more workers than fits');
  assert.equal(chooseWorkers(2, 10, 30), 2);
});

test('the queue: a full-data fit goes before queued refits (setMaxActive never goes below one fit)', async () => {
  const d = identityData(makeBatch(chainSessions(20, 3)), 0.9);
  const a = await policyActions(constantPolicy([0.5], 'a'), d, 1);
  const b = await policyActions(constantPolicy([0.2], 'b'), d, 1);
  const pool = await workerFitPool(d, 1, 'cpu', 1);
  try {
    const cfg = FqeConfigSchema.parse({ iterations: 5, batchSize: 8, hidden: [4] });
    const starts = sessionStarts(d);
    const rows = Int32Array.from({ length: d.n }, (_, i) => i);
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    pool.setMaxActive(0); // clamped to 1: never below one fit at a time
    const runs = [
      track('a', pool.fit(a, { cfg, starts })),
      track('a-refit-1', pool.fit(a, { cfg, starts, pool: rows })),
      track('a-refit-2', pool.fit(a, { cfg, starts, pool: rows })),
      track('b', pool.fit(b, { cfg, starts })),
    ];
    await Promise.all(runs);
    assert.deepEqual(order, ['a', 'b', 'a-refit-1', 'a-refit-2']);
  } finally {
    await pool.close();
  }
});
