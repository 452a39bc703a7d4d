import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CmaEs, symmetricEigen } from '../../src/sim/cmaes.ts';

function run(f: (x: number[]) => number, o: { mean: number[]; sigma: number; generations: number; seed?: number; popsize?: number }) {
  const es = new CmaEs({ mean: o.mean, sigma: o.sigma, seed: o.seed ?? 1, popsize: o.popsize });
  for (let g = 0; g < o.generations; g++) {
    const xs = es.ask();
    es.tell(xs.map(f));
  }
  return es.state();
}

test('symmetric eigen-decomposition: A v = λ v, orthonormal vectors', () => {
  const n = 5;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = Math.sin(1 + i * 3 + j * 7) + (i === j ? 3 : 0);
  const { values, vectors } = symmetricEigen(a, n);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + k];
      assert.ok(Math.abs(av - values[k] * vectors[i * n + k]) < 1e-9, `A v_${k} = λ v_${k} at ${i}`);
    }
    for (let l = 0; l < n; l++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + k] * vectors[i * n + l];
      assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-9);
    }
  }
});

test('CMA-ES finds the optimum of an ill-conditioned rotated ellipsoid and of Rosenbrock', () => {
  const n = 8;
  const target = Array.from({ length: n }, (_, i) => 0.5 * i - 1);
  // f = −Σ 10^(3i/(n−1)) (Σ_j R_ij (x_j − t_j))², R a rotation mixing the coordinates (eigenvectors of a symmetric matrix)
  const sym = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) sym[i * n + j] = sym[j * n + i] = Math.sin(2 + 5 * i + 3 * j);
  const R = symmetricEigen(sym, n).vectors;
  const ellipsoid = (x: number[]) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let u = 0;
      for (let j = 0; j < n; j++) u += R[j * n + i] * (x[j] - target[j]);
      f -= 10 ** ((3 * i) / (n - 1)) * u * u;
    }
    return f;
  };
  const e = run(ellipsoid, { mean: new Array(n).fill(0), sigma: 1, generations: 400 });
  assert.ok(e.best!.f > -1e-8, `ellipsoid: best ${e.best!.f}`);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(e.mean[i] - target[i]) < 1e-3, `coordinate ${i}: ${e.mean[i]} vs ${target[i]}`);
  const rosen = (x: number[]) => -x.slice(0, -1).reduce((s, xi, i) => s + 100 * (x[i + 1] - xi * xi) ** 2 + (1 - xi) ** 2, 0);
  const r = run(rosen, { mean: new Array(4).fill(0), sigma: 0.5, generations: 600 });
  assert.ok(r.best!.f > -1e-8, `rosenbrock: best ${r.best!.f}`);
});

test('CMA-ES under noise: the mean of the distribution settles near the optimum', () => {
  let k = 0;
  const noisy = (x: number[]) => -x.reduce((s, xi, i) => s + (xi - i) ** 2, 0) + 0.05 * Math.sin(1e3 * ++k);
  const s = run(noisy, { mean: [5, 5, 5], sigma: 2, generations: 150 });
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(s.mean[i] - i) < 0.2, `${s.mean}`);
});

test('the same seed gives the same search; bad options are refused', () => {
  const f = (x: number[]) => -(x[0] ** 2) - 3 * x[1] ** 2;
  assert.deepEqual(run(f, { mean: [1, 1], sigma: 0.3, generations: 20, seed: 9 }), run(f, { mean: [1, 1], sigma: 0.3, generations: 20, seed: 9 }));
  assert.notDeepEqual(run(f, { mean: [1, 1], sigma: 0.3, generations: 20, seed: 9 }).mean, run(f, { mean: [1, 1], sigma: 0.3, generations: 20, seed: 10 }).mean);
  assert.throws(() => new CmaEs({ mean: [], sigma: 1 }), /at least one coordinate/);
  assert.throws(() => new CmaEs({ mean: [0], sigma: 0 }), /sigma must be a positive number/);
  const es = new CmaEs({ mean: [0, 0], sigma: 1 });
  es.ask();
  assert.throws(() => es.tell([1]), /1 values for 6 candidates/);
});
