/**
 * FusionScorer on a real store with real onnxruntime: scores = the reference computation; it follows
 * CURRENT (poll and file-system events) and swaps only a verified, working version; a corrupted,
 * rejected or unloadable version leaves the old one serving and says why.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError } from '../../src/errors/index.ts';
import { fusionModel, ReferenceModel, writeVersion } from '../../src/export/index.ts';
import { writeFileAtomic } from '../../src/io/index.ts';
import { FusionScorer, startServer } from '../../src/serving/index.ts';
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

  test('refuses what it cannot score with an InputError naming the field and index: non-finite values, o + β ≤ 0, overflowing states, wrong types and shapes, limits', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 4, spec: SPEC });
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0, limits: { maxCandidates: 50, maxScores: 60 } });
    try {
      const [n, C] = [2, 3];
      const good = randomStates(randomSpec(SPEC), n);
      const o = randomTaskScores(n, C, 3);
      const at = (x: Float32Array, i: number, v: number) => {
        const y = Float32Array.from(x);
        y[i] = v;
        return y;
      };
      const cases: [() => Promise<unknown>, string, RegExp][] = [
        [() => scorer.score(at(good, 7, NaN), o), 'states', /^states\[1\]\[2\] = NaN: expected a finite number within float32's range/],
        [() => scorer.score(at(good, 0, -Infinity), o), 'states', /^states\[0\]\[0\] = -Infinity: expected a finite number/],
        // finite in float32, but standardising it overflows inside the graph: the output check refuses it
        [() => scorer.score(at(good, 5, 3e38), o), 'states', /^states\[1\]: the model's fusion weights for this state are not finite/],
        [() => scorer.score(good, at(o, 4, -5)), 'task_scores', /^task_scores\[0\]\[1\]\[1\] = -5: o \+ β must be > 0 \(β = 0\.01\)/],
        [() => scorer.score(good, at(o, 17, Infinity)), 'task_scores', /^task_scores\[1\]\[2\]\[2\] = Infinity: expected a finite number/],
        [() => scorer.score(good, at(o, 9, NaN)), 'task_scores', /^task_scores\[1\]\[0\]\[0\] = NaN: expected a finite number/],
        [() => scorer.score(Float64Array.from(good) as unknown as Float32Array, o), 'states', /^states: expected a Float32Array of n × 5 values, got Float64Array/],
        [() => scorer.score(good, Array.from(o) as unknown as Float32Array), 'task_scores', /^task_scores: expected a Float32Array of n × C × 3 values, got Array/],
        [() => scorer.score(new Float32Array(7), o), 'states', /^states: expected n × 5 values \(state_dim 5\), got 7/],
        [() => scorer.score(good, new Float32Array(10)), 'task_scores', /^task_scores: expected 2 × C × 3 values \(2 requests, 3 tasks\), got 10/],
        [() => scorer.score(good, randomTaskScores(n, 51, 3)), 'task_scores', /^task_scores: 51 candidates, at most 50 per request/],
        [() => scorer.score(randomStates(randomSpec(SPEC), 3), randomTaskScores(3, 21, 3)), 'task_scores', /^task_scores: 3 requests × 21 candidates = 63 scores, at most 60 per call/],
      ];
      for (const [call, field, message] of cases) {
        await assert.rejects(call, (err: unknown) => {
          assert.ok(err instanceof InputError, `${message}: ${String(err)}`);
          assert.equal(err.field, field);
          assert.match(err.message, message);
          return true;
        }, `${message} was not refused`);
      }
      const r = await scorer.score(good, o); // still scores what is valid
      assert.ok(r.scores.every(Number.isFinite) && r.fusionWeights.every(Number.isFinite));
    } finally {
      await scorer.close();
    }
  });

  test('a broken CURRENT is logged once per cause, not on every poll; healthy again clears last_rejection (and /healthz)', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 1, spec: SPEC });
    const logs: string[] = [];
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0, retryMs: 0, log: (l) => logs.push(l) });
    const server = await startServer(scorer, { port: 0 });
    const point = (v: string) => writeFileAtomic(join(store, 'feed', 'CURRENT'), v + '\n');
    const health = async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { last_rejection: { version: string; reason: string } | null }).last_rejection;
    const poll = async (times: number) => {
      for (let i = 0; i < times; i++) assert.equal(await scorer.refresh(), false); // what each poll does
    };
    const rejections = () => logs.filter((l) => /cannot serve/.test(l));
    try {
      point('not a version!');
      await poll(5);
      assert.equal(rejections().length, 1, logs.join('\n'));
      assert.match(rejections()[0], /kept v000001; CURRENT cannot serve: .*not a version!.* is not a version name/);
      assert.equal(scorer.lastRejection?.version, 'CURRENT');
      assert.equal((await health())?.version, 'CURRENT');

      point('v000009'); // a new cause: a version that does not exist (retryMs 0: every poll tries to load it again)
      await poll(5);
      assert.equal(rejections().length, 2, logs.join('\n'));
      assert.match(rejections()[1], /v000009 cannot serve/);
      assert.equal(scorer.lastRejection?.version, 'v000009');

      point('v000001'); // back to the serving version: healthy, the rejection is over
      await poll(2);
      assert.equal(scorer.lastRejection, null);
      assert.equal(await health(), null);
      assert.equal(rejections().length, 2);

      point('v000009'); // the same cause again after a healthy spell is news again
      await poll(3);
      assert.equal(rejections().length, 3, logs.join('\n'));
      assert.equal(scorer.version, 'v000001');
    } finally {
      await server.close();
      await scorer.close();
    }
  });
});
