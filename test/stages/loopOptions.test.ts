/**
 * The loop's options of issue 21 §3 without running a night: --exploration (the published manifests'
 * and the start constant's preset), --algo and --train-config reach the night's pipeline; a bad
 * --train-config is refused naming the field before anything is written; a resumed loop refuses a
 * changed option and accepts a loop.json from before the options (their defaults). The resume checks
 * run on a fabricated loop.json whose references and warm-up are done, with --nights 0: nothing runs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_EXPLORATION, UNIFORM_EXPLORATION } from '../../src/serving/index.ts';
import { checkLoopTrainConfig, LOOP_SIZES, loopPaths, loopPipeline, runLoop, type LoopOptions } from '../../src/stages/loop.ts';
import { LOOP_FORMAT, type LoopConfig, type LoopState, type TruthSummary } from '../../src/stages/loopRecord.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mtf-loop-options-'));
  dirs.push(d);
  return d;
}

function config(dir: string, extra: Partial<LoopConfig> = {}): LoopConfig {
  return { dir, start: 'tuned', size: 'tiny', sizes: LOOP_SIZES.tiny, stress: false, seed: 1, tolerance: 0, gate: 'paired', truthSeed: 7, firstNight: '2026-11-20', startAlpha: [1, 2, 3], ...extra };
}

/** A loop.json whose references and warm-up are done and no night yet: runLoop with nights 0 returns at once. */
function fabricate(dir: string, c: LoopConfig): void {
  const e = { mean: 1, ci95: [0, 2] as [number, number] };
  const t: TruthSummary = { name: 'x', discounted_return: e, dwell_time: e, interaction_rate: e, lift_vs_start: e };
  const state: LoopState = { format: LOOP_FORMAT, config: c, references: { start: t, tuned: t, segments: t, lookahead: t }, warmup: true, nights: [] };
  mkdirSync(dir, { recursive: true });
  writeFileSync(loopPaths(dir).state, JSON.stringify(state));
}

const base = (dir: string): LoopOptions => ({ dir, start: 'tuned', nights: 0, size: 'tiny' });

describe('mtf loop options: --exploration, --algo, --train-config (issue 21 §3)', () => {
  test("the night's pipeline: the algorithm, its size's hidden widths merged with --train-config, the exploration preset", () => {
    const p = loopPipeline(config('/tmp/l', { algo: 'iql', exploration: 'uniform', trainConfig: { expectile: 0.7, temperature: 3 } }), false);
    assert.equal(p.train.algo, 'iql');
    assert.deepEqual(p.train.config, { actorHidden: [16, 16], criticHidden: [16, 16], valueHidden: [16, 16], logEvery: 50, expectile: 0.7, temperature: 3 });
    assert.deepEqual(p.publish.exploration?.arms, UNIFORM_EXPLORATION.arms);
    // box-aware training (issue 21 §2) finds the start constant's μ: the version its logs name
    assert.deepEqual(p.train.behavior_policies, { 'tuned-constant': 'const:1,2,3' });
    // a loop.json from before the options: bcq with the VAE, the paper's gaussian arms
    const old = loopPipeline(config('/tmp/l'), true);
    assert.equal(old.train.algo, 'bcq');
    assert.deepEqual(old.train.config, { actorHidden: [16, 16], criticHidden: [16, 16], vaeHidden: [16, 16], logEvery: 50 });
    assert.deepEqual(old.publish.exploration?.arms, DEFAULT_EXPLORATION.arms);
    // --train-config overrides the loop's own fields too
    assert.deepEqual(loopPipeline(config('/tmp/l', { algo: 'td3', trainConfig: { actorHidden: [8] } }), false).train.config.actorHidden, [8]);
    // TSCAC: stage one a third of the size's steps (its default 10,000 would exceed them and refuse to train)
    const tscac = loopPipeline(config('/tmp/l', { algo: 'tscac' }), false);
    assert.equal(tscac.train.config.stageOneSteps, Math.floor(LOOP_SIZES.tiny.trainSteps / 3));
    assert.ok((tscac.train.config.stageOneSteps as number) < tscac.train.steps);
    assert.equal(loopPipeline(config('/tmp/l', { algo: 'tscac', trainConfig: { stageOneSteps: 50 } }), false).train.config.stageOneSteps, 50);
  });

  test('--train-config is checked against the algorithm\'s schema, naming the field', () => {
    assert.deepEqual(checkLoopTrainConfig('iql', { expectile: 0.7 }), { expectile: 0.7 });
    assert.deepEqual(checkLoopTrainConfig('bcq', undefined), {});
    assert.throws(() => checkLoopTrainConfig('iql', { tau: 0.9 }), /--train-config: field 'tau': Unrecognized key/);
    assert.throws(() => checkLoopTrainConfig('iql', { iql: { tau: 0.9 } }), /field 'iql'/);
    assert.throws(() => checkLoopTrainConfig('bcq', { expectile: 0.7 }), /field 'expectile'.*--algo bcq/);
    assert.throws(() => checkLoopTrainConfig('iql', { expectile: 1.5 }), /field 'expectile'/);
    assert.throws(() => checkLoopTrainConfig('iql', { actorHidden: 'wide' }), /field 'actorHidden'/);
    assert.throws(() => checkLoopTrainConfig('iql', { steps: 10 }), /field 'steps' is set by --size/);
    assert.throws(() => checkLoopTrainConfig('iql', { algo: 'bcq' }), /field 'algo' is set by --algo/);
    assert.throws(() => checkLoopTrainConfig('iql', [1]), /expected a JSON object/);
  });

  test('a bad --train-config is refused before anything is written', async () => {
    const dir = join(tmp(), 'loop');
    await assert.rejects(runLoop({ ...base(dir), algo: 'iql', trainConfig: { tau: 0.9 } }), /field 'tau'/);
    assert.ok(!existsSync(dir));
  });

  test('resume: the same options continue; a changed --exploration, --algo or --train-config is refused', async () => {
    const dir = tmp();
    fabricate(dir, config(dir, { exploration: 'uniform', algo: 'iql', trainConfig: { temperature: 3, expectile: 0.7 } }));
    const same = { ...base(dir), exploration: 'uniform' as const, algo: 'iql' as const };
    const state = await runLoop({ ...same, trainConfig: { expectile: 0.7, temperature: 3 } }); // key order does not matter
    assert.equal(state.nights.length, 0);
    const refused = /this loop was started with --start tuned --size tiny --gate paired --exploration uniform --algo iql --train-config '\{"temperature":3,"expectile":0.7\}'; use another --dir/;
    await assert.rejects(runLoop({ ...same, exploration: 'gaussian', trainConfig: { expectile: 0.7, temperature: 3 } }), refused);
    await assert.rejects(runLoop({ ...same, algo: 'td3', trainConfig: {} }), refused);
    await assert.rejects(runLoop({ ...same, trainConfig: { expectile: 0.9, temperature: 3 } }), refused);
    await assert.rejects(runLoop({ ...same }), refused, 'no --train-config is a change too');
  });

  test('resume: a loop.json from before the options continues with the defaults (gaussian, bcq, no train config) and refuses others', async () => {
    const dir = tmp();
    fabricate(dir, config(dir));
    assert.equal((await runLoop({ ...base(dir), gate: 'paired' })).nights.length, 0);
    assert.equal((await runLoop({ ...base(dir), gate: 'paired', exploration: 'gaussian', algo: 'bcq', trainConfig: {} })).nights.length, 0);
    await assert.rejects(runLoop({ ...base(dir), gate: 'paired', exploration: 'uniform' }), /started with .*--exploration gaussian --algo bcq;/);
    await assert.rejects(runLoop({ ...base(dir), gate: 'paired', algo: 'iql' }), /started with .*--algo bcq/);
  });
});
