import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { evaluatePolicies } from '../../src/ope/evaluate.ts';
import { decide } from '../../src/ope/evaluate.ts';
import { behaviorPolicy, constantPolicy } from '../../src/ope/policies.ts';
import { REPORT_CSV_COLUMNS, writeOpeReport } from '../../src/ope/report.ts';
import { FLAG_EXPLANATIONS } from '../../src/ope/assess.ts';
import { OpeReport } from '../../src/ope/schemas.ts';
import { initBackend } from '../../src/ope/rl.ts';
import { tempDir } from '../helpers/tmp.ts';
import { parseCsv } from '../helpers/csv.ts';
import { loggedSessions, makeBatch } from './helpers.ts';

before(async () => {
  await initBackend('cpu');
});

const tinyConfig = {
  fqe: { iterations: 60, batchSize: 32, hidden: [8], lr: 1e-3, logEvery: 20, gamma: 0.9 },
  bootstrap: 2,
  bootstrapIterations: 20,
  oodStates: 50,
  oodNeighbours: 5,
  histogramBins: 5,
  backend: 'cpu' as const,
};

test('evaluatePolicies → a report that satisfies its schema, policies in the given order, a self-contained page', async () => {
  const batch = makeBatch(loggedSessions(60, 3));
  const before = tf.memory().numTensors;
  const report = await evaluatePolicies({
    batch,
    policies: [constantPolicy([0.8, 0.5], 'good'), behaviorPolicy(), constantPolicy([3, 3], 'far')],
    baseline: constantPolicy([0.5, 0.5], 'live'),
    config: tinyConfig,
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  OpeReport.parse(report);
  assert.deepEqual(report.policies.map((p) => p.name), ['good', 'behavior', 'far']);
  for (const p of report.policies) {
    assert.ok(Number.isFinite(p.v_hat));
    assert.ok(p.ci95[0] <= p.v_hat && p.v_hat <= p.ci95[1]);
    assert.equal(p.bootstrap.values.length, 2);
    assert.deepEqual(p.per_response.map((r) => r.name), ['play', 'one']);
    assert.ok(p.vs_baseline !== null);
  }
  const [good, behavior, far] = report.policies;
  assert.equal(behavior.verdict, 'reference');
  assert.equal(behavior.lift, null);
  assert.equal(behavior.importance, null);
  assert.ok(good.importance && good.importance.ess.length > 0, 'IS estimates when action_logp is logged');
  assert.ok(far.ood.share > 0.9, `a constant far outside the logged actions is out of distribution (${far.ood.share})`);
  assert.ok(good.ood.share < far.ood.share);
  assert.equal(report.baseline!.name, 'live');
  assert.equal(report.data.sessions, 60);
  assert.equal(report.data.truncated_transitions, 6);
  assert.equal(report.logged_actions.histogram.length, 2);
  // the tie-aware order covers the policies and the live model, every pair once
  assert.deepEqual(report.ranking.ranks.map((r) => r.name), ['good', 'behavior', 'far', 'live']);
  assert.equal(report.ranking.pairs.length, 6);
  for (const r of report.ranking.ranks) assert.ok(r.rank >= 1 && r.rank <= 4 && r.wins + r.losses + r.ties.length === 3);
  // two refits of 20 steps, 60-step fits: the page must say the interval and the fit cannot be trusted
  for (const p of report.policies) {
    assert.ok(p.flags.some((f) => f.code === 'few_refits'), `${p.name}: few_refits`);
    assert.ok(p.flags.some((f) => f.code === 'fqe_curve_short'), `${p.name}: fqe_curve_short (3 curve points)`);
    assert.ok(p.assessment.statement.length > 20);
  }
  assert.ok(far.flags.some((f) => f.code === 'out_of_support'));
  assert.equal(far.assessment.out_of_support, true);
  assert.deepEqual(report.control_groups, []);

  const dir = tempDir('mtf-ope-report-');
  const files = writeOpeReport(dir, report);
  assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')).policies.map((p: { name: string }) => p.name), ['good', 'behavior', 'far']);
  const html = readFileSync(join(dir, 'ope-report.html'), 'utf8');
  assert.ok(!/<script[^>]+src=/i.test(html) && !/<link[^>]+href=/i.test(html), 'no external scripts or stylesheets');
  assert.ok(html.includes('new Chart('), 'the charting code is inline');
  assert.ok(html.includes('Chart.js v4') || html.includes('chart.js'), 'the Chart.js bundle is inline');
  for (const code of ['few_refits', 'fqe_curve_short', 'out_of_support']) assert.ok(html.includes(FLAG_EXPLANATIONS[code as 'few_refits'].replace(/'/g, '&#39;')), `the page explains ${code}`);
  assert.ok(html.includes(far.assessment.statement.replace(/'/g, '&#39;')), 'the verdict in words is on the page');
  // the table as CSV: a header and one record per policy and the live model
  const csv = parseCsv(readFileSync(files.csv, 'utf8'));
  assert.equal(csv.length, 5);
  assert.deepEqual(csv[0], [...REPORT_CSV_COLUMNS]);
  const col = (name: (typeof REPORT_CSV_COLUMNS)[number]) => REPORT_CSV_COLUMNS.indexOf(name);
  assert.equal(csv[1][col('source')], good.source);
  assert.equal(Number(csv[1][col('v_hat')]), good.v_hat);
  assert.equal(csv[3][col('statement')], far.assessment.statement);
  assert.deepEqual(csv[4].slice(0, 3), ['live', 'policy', 'true']);
});

test('without action_logp: no importance estimates, and the report says why', async () => {
  const batch = makeBatch(loggedSessions(30, 4).map((s) => ({ ...s, logp: undefined })));
  const report = await evaluatePolicies({ batch, policies: [constantPolicy([0.8, 0.5], 'good')], config: tinyConfig });
  assert.equal(report.policies[0].importance, null);
  assert.match(report.policies[0].importance_note!, /no action_logp/);
  assert.equal(report.data.has_action_logp, false);
});

test('verdicts: ship only when better with 95% confidence and in distribution', () => {
  const d = (lo: number, hi: number) => ({ abs: (lo + hi) / 2, rel: (lo + hi) / 200, ci95: [lo, hi] as [number, number] });
  assert.equal(decide(d(1, 3), 'ref', 0.05, 0.2, null).verdict, 'ship');
  assert.equal(decide(d(-1, 3), 'ref', 0.05, 0.2, null).verdict, 'hold');
  assert.equal(decide(d(-3, -1), 'ref', 0.05, 0.2, null).verdict, 'reject');
  const ood = decide(d(1, 3), 'ref', 0.5, 0.2, null);
  assert.equal(ood.verdict, 'hold');
  assert.match(ood.reasons.join(' '), /50% of its actions are out of the logged distribution/);
  // the doubly robust estimate below the reference's value vetoes a ship
  const dr = decide(d(1, 3), 'ref', 0.05, 0.2, { mean: 90, ci95: [80, 99], reference: 100 });
  assert.equal(dr.verdict, 'hold');
  assert.match(dr.reasons.join(' '), /doubly robust estimate disagrees/);
  assert.equal(decide(d(1, 3), 'ref', 0.05, 0.2, { mean: 99, ci95: [90, 108], reference: 100 }).verdict, 'ship');
});

test('a --baseline that is also a --policy is evaluated once and listed in policies (the export gate reads only policies)', async () => {
  const batch = makeBatch(loggedSessions(30, 5));
  const live = constantPolicy([0.5, 0.5], 'fusion@v3');
  const report = await evaluatePolicies({ batch, policies: [behaviorPolicy(), constantPolicy([0.8, 0.5], 'new'), live], baseline: live, config: tinyConfig });
  assert.deepEqual(report.policies.map((p) => p.name), ['behavior', 'new', 'fusion@v3']);
  assert.deepEqual(report.baseline, report.policies[2]);
  assert.equal(report.policies[2].vs_baseline, null);
  assert.ok(report.policies[1].vs_baseline !== null);
});
