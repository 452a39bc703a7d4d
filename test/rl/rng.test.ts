import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/rl/rng.ts';

test('Rng: seeded, restorable from its state, standard normals', () => {
  const a = new Rng(5);
  const b = new Rng(5);
  assert.deepEqual(a.fillNormal(new Float32Array(100)), b.fillNormal(new Float32Array(100)));
  const saved = a.getState();
  const x = a.fillNormal(new Float32Array(1000), 0.5);
  const y = Rng.fromState(saved).fillNormal(new Float32Array(1000), 0.5);
  assert.deepEqual(x, y);
  assert.ok(x.every((v) => v >= -0.5 && v <= 0.5));
  const z = new Rng(9).fillNormal(new Float32Array(200_000));
  const mean = z.reduce((s, v) => s + v, 0) / z.length;
  const varc = z.reduce((s, v) => s + v * v, 0) / z.length - mean * mean;
  const tail = z.filter((v) => Math.abs(v) > 2).length / z.length; // P(|x| > 2) = 0.0455
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(varc - 1) < 0.02 && Math.abs(tail - 0.0455) < 0.003, `${mean} ${varc} ${tail}`);
  const idx = new Rng(1).fillIndices(new Int32Array(1000), 7);
  assert.ok(idx.every((i) => i >= 0 && i < 7));
  assert.throws(() => new Rng(1.5), /integer/);
});
