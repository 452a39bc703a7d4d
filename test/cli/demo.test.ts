import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

test('mtf demo --quick runs the whole pipeline on the embedded default and prints Table 1', () => {
  const out = tempDir();
  const r = runMtf(['demo', '--quick', '--out', out], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  // One row per policy of the paper's Table 1, each with an OPE estimate and a true value.
  for (const p of ['behavior', 'best-constant', 'bc', 'td3', 'bcq']) assert.match(r.stdout, new RegExp(`^\\| ${p} \\| [0-9.]+ \\[`, 'm'));
  // The pipeline's stages ran under a run record (the same functions as `mtf run` and the jobs).
  const run = join(out, 'runs', 'demo', '2026-11-20', 'a1');
  const stages = readdirSync(join(run, 'stages')).sort();
  assert.deepEqual(stages, ['ingest-dt=2026-11-18.json', 'ingest-dt=2026-11-19.json', 'ingest-dt=2026-11-20.json', 'ingest.json', 'train.json', 'evaluate.json', 'publish.json'].sort());
  const ingest = JSON.parse(readFileSync(join(run, 'trajectories', 'ingest-report.json'), 'utf8'));
  assert.ok(ingest.transitions > 0 && ingest.truncated_transitions > 0, 'the window cuts some sessions');
  const ope = JSON.parse(readFileSync(join(run, 'ope', 'ope-report.json'), 'utf8'));
  assert.deepEqual(ope.policies.map((p: { name: string }) => p.name), ['bcq', 'behavior', 'best-constant', 'bc', 'td3']);
  assert.ok(existsSync(join(run, 'ope', 'ope-report.html')));
  // The gate decided and recorded its decision, whichever way it went.
  const versions = readdirSync(join(out, 'models', 'fusion')).filter((v) => !v.startsWith('.') && v !== 'CURRENT');
  assert.deepEqual(versions, ['demo-2026-11-20']);
  const manifest = JSON.parse(readFileSync(join(out, 'models', 'fusion', versions[0], 'manifest.json'), 'utf8'));
  assert.ok(['published', 'rejected'].includes(manifest.gate.decision));
  assert.equal(existsSync(join(out, 'models', 'fusion', 'CURRENT')), manifest.gate.decision === 'published');
});
