/**
 * FusionScorer on a real store with real onnxruntime: scores = the reference computation; it follows
 * CURRENT (poll and file-system events) and swaps only a verified, working version; a corrupted,
 * rejected or unloadable version leaves the old one serving and says why.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fusionModel, ReferenceModel, writeVersion } from '../../src/export/index.ts';
import { writeFileAtomic } from '../../src/io/index.ts';
import { FusionScorer } from '../../src/serving/index.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores, testManifest } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

const SPEC = { stateDim: 5, actionDim: 3 };

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** Writes a version whose manifest says 'published' (its files are 1-byte stand-ins) without moving CURRENT; `tamper` may then damage it. */
function stageVersion(store: string, name: string, seed: number, tamper?: (dir: string) => void): string {
  const model = fusionModel(randomSpec({ seed, ...SPEC }));
  const w = writeVersion({
    storeDir: store,
    name,
    files: { 'policy.onnx': new Uint8Array([1]), 'scorer.onnx': new Uint8Array([2]) },
    manifest: (ctx) => testManifest(model, name, ctx),
    publish: () => false,
  });
  tamper?.(w.dir);
  return w.version;
}

describe('FusionScorer', () => {
  test('opens CURRENT, scores as the reference computation, validates shapes', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 4, spec: SPEC });
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    try {
      assert.equal(scorer.version, 'v000001');
      const model = fusionModel(randomSpec({ seed: 4, ...SPEC }));
      const [n, C] = [3, 40];
      const states = randomStates(model, n);
      const o = randomTaskScores(n, C, 3);
      const r = await scorer.score(states, o);
      assert.equal(r.n, n);
      assert.equal(r.candidates, C);
      assert.equal(r.version, 'v000001');
      const ref = new ReferenceModel(model).score(states, o, n, C);
      for (let i = 0; i < ref.alpha.length; i++) assert.ok(Math.abs(r.fusionWeights[i] - ref.alpha[i]) <= 1e-4);
      for (let i = 0; i < ref.scores.length; i++) assert.ok(Math.abs(r.scores[i] - ref.scores[i]) <= 1e-4 * Math.max(1, Math.abs(ref.scores[i])));

      await assert.rejects(scorer.score(new Float32Array(7), o), /states: expected n × 5 values \(state_dim 5\), got 7/);
      await assert.rejects(scorer.score(states, new Float32Array(10)), /task_scores: expected 3 × C × 3 values \(3 requests, 3 tasks\), got 10/);
      await assert.rejects(scorer.score(new Float32Array(0), o), /states: expected n × 5/);
    } finally {
      await scorer.close();
    }
    await assert.rejects(FusionScorer.open(store, 'nothing', { pollMs: 0 }), /no published version of 'nothing'/);
  });

  test('follows CURRENT by polling: a new version is swapped in while requests keep being served', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 1, spec: SPEC });
    const logs: string[] = [];
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 20, watch: false, log: (l) => logs.push(l) });
    try {
      const states = randomStates(randomSpec(SPEC), 2);
      const o = randomTaskScores(2, 10, 3);
      const before = await scorer.score(states, o);
      let stop = false;
      const versions = new Set<string>();
      const load = (async () => {
        while (!stop) versions.add((await scorer.score(states, o)).version);
      })();
      publishRandom(store, 'feed', { seed: 2, spec: SPEC });
      assert.ok(await until(() => scorer.version === 'v000002', 5000), 'swapped within 5 s');
      stop = true;
      await load;
      const after = await scorer.score(states, o);
      assert.notDeepEqual(Array.from(after.scores), Array.from(before.scores), 'the new weights score differently');
      assert.ok(versions.has('v000001'));
      assert.match(logs.join('\n'), /now serving v000002 \(was v000001\)/);
    } finally {
      await scorer.close();
    }
  });

  test('follows CURRENT by file-system events without waiting for the poll', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 1, spec: SPEC });
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 60_000, watch: true, log: () => undefined });
    try {
      publishRandom(store, 'feed', { seed: 2, spec: SPEC });
      assert.ok(await until(() => scorer.version === 'v000002', 3000), 'the rename of CURRENT was noticed');
    } finally {
      await scorer.close();
    }
  });

  test('a corrupted, rejected or unloadable new version leaves the old one serving, and says why', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 1, spec: SPEC });
    const logs: string[] = [];
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0, log: (l) => logs.push(l) });
    const states = randomStates(randomSpec(SPEC), 1);
    const o = randomTaskScores(1, 5, 3);
    const point = (v: string) => writeFileAtomic(join(store, 'feed', 'CURRENT'), v + '\n');
    try {
      // 1. a byte of scorer.onnx changed after publication: SHA-256 mismatch
      const good = publishRandom(store, 'feed', { seed: 2, spec: SPEC, publish: false }); // written, CURRENT not moved
      const corrupted = stageVersion(store, 'feed', 3, (dir) => {
        writeFileSync(join(dir, 'policy.onnx'), readFileSync(join(good.dir, 'policy.onnx')));
      });
      point(corrupted);
      assert.equal(await scorer.refresh(), false);
      assert.equal(scorer.version, 'v000001');
      assert.equal(scorer.lastRejection?.version, corrupted);
      assert.match(scorer.lastRejection!.reason, /policy\.onnx: \d+ bytes, the manifest says 1|sha256 .* does not match/);
      assert.equal((await scorer.score(states, o)).version, 'v000001', 'the old model keeps serving');

      // 2. intact files, but the gate rejected it
      point(good.version);
      assert.equal(await scorer.refresh(), false);
      assert.match(scorer.lastRejection!.reason, /status is 'rejected'.*only published versions are served/);

      // 3. digests match, but the bytes are not a model onnxruntime can load
      const garbage = stageVersion(store, 'feed', 5);
      point(garbage);
      assert.equal(await scorer.refresh(), false);
      assert.match(scorer.lastRejection!.reason, /onnxruntime cannot load it/);
      assert.equal((await scorer.score(states, o)).version, 'v000001');
      assert.equal(logs.filter((l) => /kept v000001; .* cannot serve/.test(l)).length, 3, logs.join('\n'));

      // 4. CURRENT back to a working version: swapped, rejection cleared
      const next = publishRandom(store, 'feed', { seed: 6, spec: SPEC });
      assert.equal(await scorer.refresh(), true);
      assert.equal(scorer.version, next.version);
      assert.equal(scorer.lastRejection, null);
    } finally {
      await scorer.close();
    }
  });
});
