/**
 * The nightly loop's mechanics at tiny size (issue 18 §3 "a small test"): 2 nights. The gate's
 * tolerance is opened wide so that night 1 publishes and night 2's traffic is served by that version
 * through FusionScorer; the figures of the loop are a study (`npm run study:nights`), not a test.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readVersion } from '../../src/export/index.ts';
import { actionLogp, assignArm, DEFAULT_EXPLORATION } from '../../src/serving/index.ts';
import { loopPaths, runLoop } from '../../src/stages/loop.ts';
import type { LoopState } from '../../src/stages/loopRecord.ts';
import { duckdbQuery } from '../sim/helpers.ts';

const SIGMA = Object.fromEntries(DEFAULT_EXPLORATION.arms.map((a) => [a.name, a.sigma]));

interface LogRow {
  session_id: string;
  state: number[];
  action: number[];
  action_logp: number | null;
  policy_id: string;
}

async function dayRows(logs: string, date: string): Promise<LogRow[]> {
  const rows = await duckdbQuery(`SELECT session_id, state, action, action_logp, policy_id FROM read_parquet('${join(logs, `dt=${date}`, 'part-00000.parquet')}')`);
  return rows as unknown as LogRow[];
}

describe('mtf loop: two nights at tiny size', () => {
  let dir: string;
  let state: LoopState;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mtf-loop-'));
    state = await runLoop({ dir, start: 'tuned', nights: 2, size: 'tiny', tolerance: 1e9 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each night is recorded with the gate decision, OPE figures and truth; loop.html is written', () => {
    assert.equal(state.nights.length, 2);
    const [n1, n2] = state.nights;
    assert.equal(n1.served.version, null, 'night 1 is served by the start constant');
    assert.equal(n1.baseline?.name, 'production', 'before the first publish the gate compares with the constant the stack runs');
    assert.equal(n1.gate.decision, 'published', 'tolerance 1e9: the value check cannot fail');
    assert.ok(n1.candidate.v_hat && Number.isFinite(n1.candidate.v_hat.v_hat));
    assert.ok(n1.candidate.truth && n1.candidate.lift_vs_served);
    assert.equal(n2.served.version, n1.candidate.version, 'night 2 is served by what night 1 published');
    assert.ok(n2.baseline?.name.includes(n1.candidate.version!), `night 2's gate compares with the live model, got ${n2.baseline?.name}`);
    assert.ok(n1.online && n1.online.control_sessions > 0, 'the control group is read out');
    const p = loopPaths(dir);
    assert.ok(readFileSync(p.html, 'utf8').includes('Nightly loop from the tuned constant'));
    const manifest = readVersion(p.store, 'fusion', n1.candidate.version!).manifest;
    assert.deepEqual(manifest.exploration?.arms, DEFAULT_EXPLORATION.arms, 'the published version carries its exploration settings');
  });

  test("night 2's logs come from the served version through FusionScorer: policy_id, α and action_logp per arm", async () => {
    const p = loopPaths(dir);
    const version = state.nights[0].candidate.version!;
    const v = readVersion(p.store, 'fusion', version);
    const key = v.manifest.exploration!.key;
    const rows = await dayRows(p.logs, state.nights[1].date);
    assert.ok(rows.length > 100);
    // μ = the served scorer's α for each logged state (its own graph, run here)
    const session = await ort.InferenceSession.create(v.files['scorer.onnx']);
    try {
      const d = rows[0].state.length;
      const k = rows[0].action.length;
      const states = new Float32Array(rows.length * d);
      rows.forEach((r, i) => states.set(r.state, i * d));
      const out = await session.run({ state: new ort.Tensor('float32', states, [rows.length, d]), task_scores: new ort.Tensor('float32', new Float32Array(rows.length * k).fill(1), [rows.length, 1, k]) });
      const mu = out.fusion_weights.data as Float32Array;
      const armOf = new Map<string, string>();
      const seen = new Set<string>();
      rows.forEach((r, i) => {
        const [arm, ver] = r.policy_id.split(':');
        assert.equal(ver, version, `row ${i}: policy_id ${r.policy_id} names the served version`);
        assert.equal(arm, assignArm(r.session_id, key, v.manifest.exploration!).name, `row ${i}: the arm is the session id's keyed hash`);
        if (armOf.has(r.session_id)) assert.equal(armOf.get(r.session_id), arm, `session ${r.session_id} keeps its arm`);
        armOf.set(r.session_id, arm);
        seen.add(arm);
        const m = mu.subarray(i * k, (i + 1) * k);
        if (SIGMA[arm] === 0) {
          assert.deepEqual(Array.from(r.action), Array.from(m), `row ${i}: the control arm applies μ`);
          assert.equal(r.action_logp, null, `row ${i}: the control arm logs no density`);
        } else {
          const want = actionLogp(r.action, m, SIGMA[arm]!)!;
          assert.ok(r.action_logp !== null && Math.abs(r.action_logp - want) < 1e-6, `row ${i}: action_logp ${r.action_logp} vs the arm's density ${want}`);
        }
      });
      assert.deepEqual([...seen].sort(), ['action_noise', 'control', 'random_explore']);
    } finally {
      await session.release();
    }
  });

  test("night 1's logs come from the start constant through the same contract", async () => {
    const rows = await dayRows(loopPaths(dir).logs, state.nights[0].date);
    const ids = new Set(rows.map((r) => r.policy_id));
    assert.deepEqual([...ids].sort(), ['action_noise:tuned-constant', 'control:tuned-constant', 'random_explore:tuned-constant']);
  });

  test('run again: the nights done are kept, nothing is redone', async () => {
    const t0 = performance.now();
    const again = await runLoop({ dir, start: 'tuned', nights: 2, size: 'tiny', tolerance: 1e9 });
    assert.deepEqual(again.nights, state.nights);
    assert.ok(performance.now() - t0 < 20_000);
    await assert.rejects(runLoop({ dir, start: 'hand-tuned', nights: 2, size: 'tiny' }), /started with --start tuned/);
    assert.ok(existsSync(loopPaths(dir).state));
  });
});
