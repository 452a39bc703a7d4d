/**
 * `mtf export` end to end on real files: logs (a fixture from a real parquet writer) → ingest → train a
 * tiny BCQ → export with the OPE report → gate → store. Both branches of the gate through the CLI, and
 * the gate's rules and the OPE report reader in-process.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { decide, ManifestSchema, pickBaseline, pickCandidate, readCurrent, readOpeReport, readVersion, type ActionCheck, type ParityResult } from '../../src/export/index.ts';
import { FusionScorer } from '../../src/serving/index.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ingestAndTrainTinyBcq, onnxCheck, PYTHON_ONNX, writeOpeReport } from './helpers.ts';

function close(a: number, b: number, tol = 1e-9): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

describe('mtf export: checkpoint → ONNX → gate → store', () => {
  const dir = tempDir();
  const traj = join(dir, 'traj');
  const run = join(dir, 'run');
  const store = join(dir, 'models');
  let stateNames: string[] = [];

  before(async () => {
    stateNames = await ingestAndTrainTinyBcq(traj, run, 10);
  });

  test('published: files, manifest, CURRENT; then a worse model is rejected and CURRENT stays; the scorer follows', async () => {
    const ope1 = writeOpeReport(dir, [
      { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
      { name: 'bcq', v_hat: 1.0, ci95: [0.9, 1.1] },
    ]);
    const r = runMtf(['export', '--checkpoint', run, '--ope', ope1, '--store', store, '--name', 'feed', '--data', traj, '--beta', '0.02', '--check-states', '200']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published feed\/v000001 \(replaces nothing\): V̂ lower bound of bcq 0\.9 ≥ behavior V̂ 0\.8 − tolerance 0;/);
    assert.equal(readCurrent(store, 'feed'), 'v000001');
    const v1 = readVersion(store, 'feed', 'v000001');
    const m = ManifestSchema.parse(v1.manifest);
    assert.equal(m.status, 'published');
    assert.deepEqual(m.state.names, stateNames);
    assert.equal(m.state.dim, stateNames.length);
    assert.equal(m.source.algo, 'bcq');
    assert.equal(m.source.step, 10);
    assert.match(m.source.config_hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(m.beta, new Array(m.action.dim).fill(0.02));
    assert.equal(m.beta_source, 'option', "the fixture log records no β: --beta states it");
    assert.equal(m.exploration, null, 'mtf export writes no exploration (the pipeline\'s publish stage does)');
    assert.equal(m.onnx.latent_samples, 3);
    assert.equal(m.data.counts?.train.sessions !== undefined, true);
    assert.ok(m.gate.parity.passed && m.gate.parity.max_abs_diff <= 1e-4 && m.gate.parity.states > 200, JSON.stringify(m.gate.parity));
    assert.ok(m.gate.actions.passed);
    assert.deepEqual(m.ope.baseline, { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9], role: 'behavior' });
    if (PYTHON_ONNX) assert.ok(onnxCheck([join(v1.dir, 'policy.onnx'), join(v1.dir, 'scorer.onnx')]).ok);
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    const states = Float32Array.from(m.normalization.state_mean);
    const o = new Float32Array(5 * m.action.dim).fill(0.3);
    assert.equal((await scorer.score(states, o)).version, 'v000001');

    // The report now evaluates the current model too, and the new one's lower bound falls short of it.
    const ope2 = writeOpeReport(
      dir,
      [
        { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
        { name: 'feed@v000001', v_hat: 1.0, ci95: [0.95, 1.05] },
        { name: 'bcq-new', v_hat: 1.02, ci95: [0.6, 1.3] },
      ],
      'ope2.json',
    );
    const rej = runMtf(['export', '--checkpoint', run, '--ope', ope2, '--store', store, '--name', 'feed', '--beta', '0.02', '--check-states', '100']);
    assert.equal(rej.code, 5, rej.stdout + rej.stderr); // the gate said no: nothing published (src/cli/main.ts)
    assert.equal(rej.stderr.trim().split('\n').length, 1, rej.stderr);
    assert.match(rej.stderr, /^mtf: gate rejected feed\/v000002: value: V̂ lower bound of bcq-new 0\.6 < current feed@v000001 V̂ 1 − tolerance 0 = 1 \(CURRENT still v000001; see .*manifest\.json\)/);
    assert.equal(readCurrent(store, 'feed'), 'v000001', 'CURRENT untouched');
    const v2 = readVersion(store, 'feed', 'v000002').manifest;
    assert.equal(v2.status, 'rejected');
    assert.equal(v2.gate.decision, 'rejected');
    assert.equal(v2.ope.baseline.role, 'current');
    assert.equal(v2.replaces, 'v000001');
    assert.equal(await scorer.refresh(), false, 'nothing new to serve');

    // With a tolerance the same model passes, and replaces v000001.
    const ok = runMtf(['export', '--checkpoint', run, '--ope', ope2, '--store', store, '--name', 'feed', '--tolerance', '0.5', '--check-states', '100', '--keep', '1']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^published feed\/v000003 \(replaces v000001\).*removed old v000001/);
    // no β anywhere (no --beta, no --data, a training report without one): the default, with a warning
    assert.match(ok.stderr, /^mtf export: warning: β unknown: neither --data's metadata\.json nor the training report records the logs' β, so the scorer uses 0\.01 for every task/);
    assert.equal(readVersion(store, 'feed', 'v000003').manifest.beta_source, 'default');
    assert.equal(readCurrent(store, 'feed'), 'v000003');
    assert.deepEqual(readdirSync(join(store, 'feed')).sort(), ['CURRENT', 'v000002', 'v000003']);
    assert.equal(await scorer.refresh(), true);
    const r3 = await scorer.score(states, o);
    assert.equal(r3.version, 'v000003');
    assert.ok(r3.scores.every(Number.isFinite));
    await scorer.close();
  });

  test('bad inputs fail with one line naming the file and field', () => {
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, JSON.stringify({ policies: [{ name: 'bcq', v_hat: 'high' }] }));
    const r = runMtf(['export', '--checkpoint', run, '--ope', notJson, '--store', store, '--name', 'feed']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.json: policies\[0\]\.v_hat: .*expected number/);
    const noBase = writeOpeReport(dir, [{ name: 'bcq', v_hat: 1, ci95: [0.9, 1.1] }], 'nobase.json');
    const r2 = runMtf(['export', '--checkpoint', run, '--ope', noBase, '--store', join(dir, 'other'), '--name', 'feed']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /no baseline to gate against.*--baseline/);
    const r3 = runMtf(['export', '--checkpoint', dir, '--ope', noBase, '--store', store, '--name', 'feed', '--baseline', 'bcq']);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /--candidate and the baseline are both 'bcq'|--checkpoint: .* is neither a checkpoint/);
  });

  test('a BCQ candidate scored with other latent codes than the export bakes is refused; nothing is written', () => {
    const before = readCurrent(store, 'feed');
    const versions = readdirSync(join(store, 'feed')).sort();
    for (const [seed, said] of [[7, /scored with latent seed 7, but this export bakes latent seed 0/], [null, /scored with fresh latent codes per call, but this export bakes latent seed 0/]] as const) {
      const ope = writeOpeReport(dir, [{ name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] }, { name: 'bcq', v_hat: 9, ci95: [8.9, 9.1], latent_seed: seed }], `seed-${seed}.json`);
      const r = runMtf(['export', '--checkpoint', run, '--ope', ope, '--store', store, '--name', 'feed', '--baseline', 'behavior', '--candidate', 'bcq']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, said);
      assert.match(r.stderr, new RegExp(`seed-${seed}\\.json`));
    }
    assert.equal(readCurrent(store, 'feed'), before, 'CURRENT stays');
    assert.deepEqual(readdirSync(join(store, 'feed')).sort(), versions, 'no version written');
    // the same seed passes the check (and then the gate decides as usual)
    const same = writeOpeReport(dir, [{ name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] }, { name: 'bcq', v_hat: 0.5, ci95: [0.4, 0.6], latent_seed: 7 }], 'seed-same.json');
    const ok = runMtf(['export', '--checkpoint', run, '--ope', same, '--store', store, '--name', 'feed', '--baseline', 'behavior', '--candidate', 'bcq', '--latent-seed', '7']);
    assert.doesNotMatch(ok.stderr, /scored with/);
    assert.match(ok.stdout + ok.stderr, /rejected/, 'it reached the gate (V̂ 0.5 < behavior 0.8)');
  });
});

describe('the gate rules', () => {
  const actions: ActionCheck = { passed: true, states: 10, non_finite: 0, out_of_bounds: 0, first_problem: null };
  const parity: ParityResult = {
    passed: true,
    states: 10,
    max_abs_diff: 1e-7,
    near_ties: 0,
    near_tie_flips: 0,
    mismatches: 0,
    score_max_rel_diff: 1e-7,
    scorer_policy_diff: 0,
    tfjs_max_abs_diff: null,
    tolerance: 1e-4,
  };
  const base = { name: 'behavior', v_hat: 1, ci95: null, role: 'behavior' as const };

  test('lower bound against baseline V̂ − tolerance, inclusive', () => {
    assert.equal(decide({ candidate: { name: 'n', v_hat: 2, ci95: [1, 3] }, baseline: base, tolerance: 0, actions, parity }).decision, 'published');
    assert.equal(decide({ candidate: { name: 'n', v_hat: 2, ci95: [0.95, 3] }, baseline: base, tolerance: 0.05, actions, parity }).decision, 'published');
    const g = decide({ candidate: { name: 'n', v_hat: 2, ci95: [0.9, 3] }, baseline: base, tolerance: 0.05, actions, parity });
    assert.equal(g.decision, 'rejected');
    assert.equal(g.value.threshold, 0.95);
    assert.match(g.reason, /V̂ lower bound of n 0\.9 < behavior V̂ 1 − tolerance 0\.05 = 0\.95/);
    assert.match(decide({ candidate: { name: 'n', v_hat: 2, ci95: null }, baseline: base, tolerance: 0, actions, parity }).reason, /no ci95/);
  });

  test('non-finite or out-of-bounds actions and failed parity reject, each named', () => {
    const g = decide({
      candidate: { name: 'n', v_hat: 2, ci95: [1.5, 3] },
      baseline: base,
      tolerance: 0,
      actions: { ...actions, passed: false, non_finite: 2, first_problem: 'state 3: ctr = NaN' },
      parity: { ...parity, passed: false, mismatches: 4 },
    });
    assert.equal(g.decision, 'rejected');
    assert.equal(g.reasons.length, 2);
    assert.match(g.reasons[0], /^actions: 2 non-finite .*state 3: ctr = NaN/);
    assert.match(g.reasons[1], /^parity: .*4 mismatches/);
  });

  test('OPE report: candidate and baseline resolution', () => {
    const dir = tempDir();
    const rep = readOpeReport(
      writeOpeReport(dir, [
        { name: 'behavior', v_hat: 1, ci95: [0.9, 1.1] },
        { name: 'feed@v000004', v_hat: 1.1, ci95: null },
        { name: 'bcq', v_hat: 1.2, ci95: [1.1, 1.3] },
      ]),
    );
    assert.equal(pickBaseline(rep, 'feed', 'v000004', undefined).role, 'current');
    assert.equal(pickBaseline(rep, 'feed', 'v000003', undefined).name, 'behavior', 'no entry for the current model: behavior');
    assert.equal(pickBaseline(rep, 'feed', null, 'feed@v000004').name, 'feed@v000004');
    assert.equal(pickCandidate(rep, 'feed', undefined, ['feed@v000004', 'v000004', 'current']).name, 'bcq');
    assert.throws(() => pickCandidate(rep, 'feed', undefined, []), /cannot tell which policy.*--candidate/);
    assert.throws(() => pickCandidate(rep, 'feed', 'nope', []), /--candidate: .* has no policy 'nope'/);
    writeFileSync(join(dir, 'dup.json'), JSON.stringify({ policies: [{ name: 'a', v_hat: 1 }, { name: 'a', v_hat: 2 }] }));
    assert.throws(() => readOpeReport(join(dir, 'dup.json')), /the name 'a' appears twice/);
    assert.throws(() => readOpeReport(join(dir, 'missing.json')), /cannot read the OPE report \(ENOENT\)/);
    writeFileSync(join(dir, 'ci.json'), JSON.stringify({ policies: [{ name: 'a', v_hat: 1, ci95: [1] }] }));
    assert.throws(() => readOpeReport(join(dir, 'ci.json')), /policies\[0\]\.ci95/);
    assert.equal(readFileSync(join(dir, 'ope-report.json'), 'utf8').includes('ood_share'), true, 'extra fields are tolerated');
  });

  test("OPE report: the live model evaluated as the report's `baseline` (not among policies) is what the gate compares with", () => {
    const dir = tempDir();
    // as src/ope writes it when the nightly evaluates the live model beside the listed policies
    const live = { name: 'feed@v000004', v_hat: 1.15, ci95: [1.05, 1.25] };
    writeFileSync(join(dir, 'live.json'), JSON.stringify({ policies: [{ name: 'behavior', v_hat: 1, ci95: [0.9, 1.1] }, { name: 'bcq', v_hat: 1.2, ci95: [1.1, 1.3] }], baseline: live }));
    const rep = readOpeReport(join(dir, 'live.json'));
    const base = pickBaseline(rep, 'feed', 'v000004', undefined);
    assert.deepEqual([base.name, base.role, base.v_hat], ['feed@v000004', 'current', 1.15], 'not the behavior policy');
    const g = decide({ candidate: pickCandidate(rep, 'feed', 'bcq', []), baseline: base, tolerance: 0, actions, parity });
    assert.equal(g.decision, 'rejected', 'bcq lower bound 1.1 < live 1.15 (it beats behavior 1.0)');
  });

  test('gate rule paired: the paired interval of V̂(candidate) − V̂(live) decides; without one, the interval rule', () => {
    const dir = tempDir();
    const live = { name: 'feed@v000004', v_hat: 1.15, ci95: [1.05, 1.25] };
    // the candidate's own interval [1.1, 1.3] reaches below the live V̂ 1.15, but the paired difference [0.01, 0.09] does not
    const bcq = { name: 'bcq', v_hat: 1.2, ci95: [1.1, 1.3], vs_baseline: { abs: 0.05, rel: 0.0435, ci95: [0.01, 0.09], rel_ci95: [0.009, 0.078] } };
    writeFileSync(join(dir, 'paired.json'), JSON.stringify({ policies: [{ name: 'behavior', v_hat: 1, ci95: [0.9, 1.1] }, bcq], baseline: live }));
    const rep = readOpeReport(join(dir, 'paired.json'));
    assert.equal(rep.baselineName, 'feed@v000004');
    assert.deepEqual(rep.paired.get('bcq'), { abs: 0.05, ci95: [0.01, 0.09] });
    const base = pickBaseline(rep, 'feed', 'v000004', undefined);
    const cand = pickCandidate(rep, 'feed', 'bcq', []);
    const paired = rep.paired.get('bcq')!;
    assert.equal(decide({ candidate: cand, baseline: base, tolerance: 0, actions, parity }).decision, 'rejected', 'interval rule: 1.1 < 1.15');
    const g = decide({ candidate: cand, baseline: base, tolerance: 0, rule: 'paired', paired, actions, parity });
    assert.deepEqual([g.decision, g.rule], ['published', 'paired']);
    close(g.value.lower_bound!, 1.16);
    const worse = decide({ candidate: cand, baseline: base, tolerance: 0, rule: 'paired', paired: { abs: -0.01, ci95: [-0.04, 0.02] }, actions, parity });
    assert.equal(worse.decision, 'rejected');
    assert.match(worse.reasons[0], /paired lower bound of bcq/);
    const fallback = decide({ candidate: cand, baseline: base, tolerance: 0, rule: 'paired', paired: null, actions, parity });
    assert.deepEqual([fallback.decision, fallback.rule], ['rejected', 'interval']);
  });
});
