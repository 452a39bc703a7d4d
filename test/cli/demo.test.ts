import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

test('mtf demo --quick runs the whole pipeline on the embedded default and prints Table 1', () => {
  const out = tempDir();
  const r = runMtf(['demo', '--quick', '--out', out], { timeoutMs: 600_000 });
  // 0 when the gate published BCQ, 5 when it rejected it (checked against the manifest below)
  assert.ok(r.code === 0 || r.code === 5, `exit ${r.code}\n${r.stderr}`);
  // One row per policy of the paper's Table 1, each with an OPE estimate and a true value.
  for (const p of ['production', 'behavior', 'bc', 'td3', 'bcq']) assert.match(r.stdout, new RegExp(`^\\| ${p} \\| [0-9.]+ \\[`, 'm'));
  // The reference row is the tuned constant the logs' production runs; every other row's lift is paired against it.
  assert.match(r.stdout, /^\| production \| .* \| — \(reference\) \|$/m);
  assert.match(r.stdout, /^\| bcq \| .* \| [+-]\d+\.\d\d% \[-?\d+\.\d\d, -?\d+\.\d\d\] \|$/m);
  // The same table for tools beside table1.md: table1.json and table1.csv, a row per row of the terminal's.
  const termRows = r.stdout.split('\n').filter((l) => /^\| /.test(l) && !/^\| policy \|/.test(l));
  assert.equal(termRows.length, 5, r.stdout);
  assert.equal(readFileSync(join(out, 'table1.md'), 'utf8'), `${r.stdout.split('\n').filter((l) => l.startsWith('|')).join('\n')}\n`);
  const t1 = JSON.parse(readFileSync(join(out, 'table1.json'), 'utf8'));
  assert.equal(t1.format, 'batchrl-mtf/demo-table1@1');
  assert.ok(!Number.isNaN(Date.parse(t1.created_at)), t1.created_at);
  assert.equal(t1.rows.length, termRows.length);
  assert.deepEqual(t1.rows.map((x: { policy: string }) => x.policy), termRows.map((l) => l.split(' | ')[0].slice(2)));
  const bcqJson = t1.rows.find((x: { policy: string }) => x.policy === 'bcq');
  // the terminal shows the JSON's value rounded
  assert.match(termRows.find((l) => l.startsWith('| bcq |'))!, new RegExp(`^\\| bcq \\| ${bcqJson.v_hat.toFixed(1).replace('.', '\\.')} \\[`));
  const csv = readFileSync(join(out, 'table1.csv'), 'utf8').split('\r\n');
  assert.equal(csv.pop(), '', 'every record ends with CRLF');
  const header = csv[0].split(',');
  assert.equal(header[0], 'policy');
  assert.deepEqual(header, Object.keys(t1.rows[0]));
  assert.equal(csv.length - 1, t1.rows.length);
  const bcqCsv = csv.find((l) => l.startsWith('bcq,'))!.split(',');
  assert.equal(Number(bcqCsv[header.indexOf('v_hat')]), bcqJson.v_hat);
  assert.equal(Number(bcqCsv[header.indexOf('true_lift_vs_production')]), bcqJson.true_lift_vs_production);
  // The pipeline's stages ran under a run record (the same functions as `mtf run` and the jobs).
  const run = join(out, 'runs', 'demo', '2026-11-20', 'a1');
  const stages = readdirSync(join(run, 'stages')).sort();
  assert.deepEqual(stages, ['ingest-dt=2026-11-18.json', 'ingest-dt=2026-11-19.json', 'ingest-dt=2026-11-20.json', 'ingest.json', 'train.json', 'evaluate.json', 'publish.json'].sort());
  const ingest = JSON.parse(readFileSync(join(run, 'trajectories', 'ingest-report.json'), 'utf8'));
  assert.ok(ingest.transitions > 0 && ingest.truncated_transitions > 0, 'the window cuts some sessions');
  const ope = JSON.parse(readFileSync(join(run, 'ope', 'ope-report.json'), 'utf8'));
  assert.deepEqual(ope.policies.map((p: { name: string }) => p.name), ['bcq', 'production', 'behavior', 'bc', 'td3']);
  assert.ok(existsSync(join(run, 'ope', 'ope-report.html')));
  // The gate decided and recorded its decision, whichever way it went.
  const versions = readdirSync(join(out, 'models', 'fusion')).filter((v) => !v.startsWith('.') && v !== 'CURRENT');
  assert.deepEqual(versions, ['demo-2026-11-20']);
  const manifest = JSON.parse(readFileSync(join(out, 'models', 'fusion', versions[0], 'manifest.json'), 'utf8'));
  assert.ok(['published', 'rejected'].includes(manifest.gate.decision));
  assert.equal(existsSync(join(out, 'models', 'fusion', 'CURRENT')), manifest.gate.decision === 'published');
  // The output says which, and the exit code follows main.ts's rule (5: rejected, nothing published).
  if (manifest.gate.decision === 'rejected') {
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /^gate: {8}REJECTED — nothing was published, CURRENT unchanged \(exit code 5\)/m);
    assert.match(r.stderr, /^mtf: demo: the gate rejected BCQ \(demo-2026-11-20\): nothing was published, CURRENT unchanged/m);
  } else {
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /REJECTED/);
  }
  // The hint it ends with works as printed: the demo's pipeline is a file beside its run.
  const hint = /^its status: {2}npx mtf (status .*)$/m.exec(r.stdout);
  assert.ok(hint, r.stdout);
  assert.equal(hint[1], `status --config ${join(out, 'pipeline.json')} --no-redis`);
  const st = runMtf(hint[1].split(' '));
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`demo-2026-11-20\\s+${manifest.gate.decision.toUpperCase()}\\s+\\(embedded`));
});
