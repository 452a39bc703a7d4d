/**
 * src/stages/demo.ts's Table 1 for tools (table1.json, table1.csv) from the rows the terminal table is
 * built from; the whole demo writing them is test/cli/demo.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsv } from '../helpers/csv.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEMO_TABLE1_COLUMNS,
  DEMO_TABLE1_FORMAT,
  demoTable1Csv,
  demoTable1Json,
  formatDemoTable,
  writeDemoTable1,
  type DemoRow,
} from '../../src/stages/demo.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROWS: DemoRow[] = [
  { policy: 'production', vHat: 373.4123, ci95: [357.41, 389.42], trueDiscounted: 383.25, trueDiscountedCi: [376.5, 389.9], dwellTime: 606.1, interactionRate: 0.1761, liftVsProduction: null },
  { policy: 'bcq', vHat: 425.4, ci95: [403.4, 447.5], trueDiscounted: 390.9, trueDiscountedCi: [383.8, 398], dwellTime: 607.3, interactionRate: 0.175, liftVsProduction: { mean: 0.0201, ci95: [0.0158, 0.0245] } },
  { policy: 'odd, "name"', vHat: null, ci95: null, trueDiscounted: 1, trueDiscountedCi: [0.5, 1.5], dwellTime: 2, interactionRate: 0, liftVsProduction: { mean: -0.5, ci95: [-0.6, -0.4] } },
];


test('table1.json: the format, when, the truth sessions, and one flat snake_case row per policy, unrounded', () => {
  const j = demoTable1Json(ROWS, { truthSessions: 600, createdAt: new Date('2026-11-21T03:00:00Z') });
  assert.equal(j.format, 'batchrl-mtf/demo-table1@1');
  assert.equal(j.format, DEMO_TABLE1_FORMAT);
  assert.equal(j.created_at, '2026-11-21T03:00:00.000Z');
  assert.equal(j.truth_sessions, 600);
  assert.equal(j.rows.length, ROWS.length);
  for (const r of j.rows) assert.deepEqual(Object.keys(r), [...DEMO_TABLE1_COLUMNS]);
  assert.deepEqual(j.rows[0], {
    policy: 'production',
    v_hat: 373.4123,
    v_hat_ci95_low: 357.41,
    v_hat_ci95_high: 389.42,
    true_discounted_return: 383.25,
    true_discounted_return_ci95_low: 376.5,
    true_discounted_return_ci95_high: 389.9,
    dwell_time_s: 606.1,
    interaction_rate: 0.1761,
    // the reference row: the terminal's "— (reference)"
    true_lift_vs_production: null,
    true_lift_vs_production_ci95_low: null,
    true_lift_vs_production_ci95_high: null,
  });
  // relative, as a fraction: the terminal's +2.01% [1.58, 2.45]
  assert.equal(j.rows[1].true_lift_vs_production, 0.0201);
  assert.deepEqual([j.rows[1].true_lift_vs_production_ci95_low, j.rows[1].true_lift_vs_production_ci95_high], [0.0158, 0.0245]);
  // no OPE estimate: the terminal's —
  assert.deepEqual([j.rows[2].v_hat, j.rows[2].v_hat_ci95_low, j.rows[2].v_hat_ci95_high], [null, null, null]);
});

test('table1.csv: the JSON rows as a header + one record per policy, numbers plain, empty where JSON has null, names quoted when needed', () => {
  const csv = demoTable1Csv(ROWS);
  assert.ok(csv.startsWith(DEMO_TABLE1_COLUMNS.join(',') + '\r\n'));
  assert.match(csv, /\r\n"odd, ""name""",,,,1,/);
  const [header, ...records] = parseCsv(csv);
  assert.deepEqual(header, [...DEMO_TABLE1_COLUMNS]);
  const json = demoTable1Json(ROWS, { truthSessions: 600 }).rows;
  assert.equal(records.length, json.length);
  for (const [k, rec] of records.entries()) {
    for (const [c, col] of DEMO_TABLE1_COLUMNS.entries()) {
      const v = json[k][col];
      assert.equal(rec[c], v === null ? '' : String(v), `${json[k].policy}.${col}`);
      if (typeof v === 'number') assert.equal(Number(rec[c]), v);
    }
  }
});

test('writeDemoTable1 writes table1.md (the terminal table), table1.json and table1.csv, and no temporary beside them', () => {
  const out = tempDir();
  const p = writeDemoTable1(out, ROWS, { truthSessions: 600 });
  assert.deepEqual(readdirSync(out).sort(), ['table1.csv', 'table1.json', 'table1.md']);
  assert.deepEqual(p, { md: join(out, 'table1.md'), json: join(out, 'table1.json'), csv: join(out, 'table1.csv') });
  assert.equal(readFileSync(p.md, 'utf8'), formatDemoTable(ROWS) + '\n');
  assert.equal(readFileSync(p.csv, 'utf8'), demoTable1Csv(ROWS));
  const j = JSON.parse(readFileSync(p.json, 'utf8'));
  assert.equal(j.format, DEMO_TABLE1_FORMAT);
  assert.ok(!Number.isNaN(Date.parse(j.created_at)));
  assert.deepEqual(j.rows, demoTable1Json(ROWS, { truthSessions: 600 }).rows);
});
