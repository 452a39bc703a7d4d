import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash32, Rng } from '../../src/sim/rng.ts';

test('Rng: the same seed words give the same stream, different ones a different stream', () => {
  const a = new Rng(1, 2);
  const b = new Rng(1, 2);
  const c = new Rng(1, 3);
  const xa = Array.from({ length: 8 }, () => a.u32());
  assert.deepEqual(xa, Array.from({ length: 8 }, () => b.u32()));
  assert.notDeepEqual(xa, Array.from({ length: 8 }, () => c.u32()));
  a.reseed(1, 2);
  assert.deepEqual(Array.from({ length: 8 }, () => a.u32()), xa);
});

test('Rng: uniforms in [0, 1) with mean 1/2, normals with mean 0 and variance 1', () => {
  const r = new Rng(42);
  const n = 100_000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(sn / n) < 0.02);
  assert.ok(Math.abs(sn2 / n - 1) < 0.02);
  assert.ok(r.uniformOpen() > 0);
});

test('hash32 spreads nearby inputs', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) seen.add(hash32(7, 0, i));
  assert.equal(seen.size, 10_000);
  assert.notEqual(hash32(1, 2), hash32(2, 1));
});
