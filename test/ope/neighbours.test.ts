/**
 * The exact nearest-neighbour search of the evaluation (src/ope/neighbours.ts): the GEMM path with its
 * exact re-rank returns the very neighbours of the scalar scan — on data with exact duplicates, ties and
 * a query that is itself a reference row — through the JavaScript selection and through the native
 * addon's knnSelect (OpenBLAS, installed by .ci/run); and the preparation's progress lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantile, quantiles } from '../../src/ope/bootstrap.ts';
import { nativeKnn } from '../../src/ope/gram.ts';
import { knnBruteForce, knnGram, selectJs, type GramFn } from '../../src/ope/neighbours.ts';
import { buildNeighbourhoods, buildNeighbourhoodsAsync } from '../../src/ope/ood.ts';
import { phaseClock } from '../../src/io/phases.ts';
import { Rng } from '../../src/ope/rl.ts';

/** Q·Rᵀ in float32 arithmetic, by hand (the role BLAS plays in production). */
const jsGram: GramFn = (q, m, r, nr, dim, out) => {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < nr; j++) {
      let s = 0;
      for (let c = 0; c < dim; c++) s = Math.fround(s + Math.fround(q[i * dim + c] * r[j * dim + c]));
      out[i * nr + j] = s;
    }
};

/** Clustered states with exact duplicates: `dupes` copies of row 0, and pairs of equal rows. */
function states(n: number, dim: number, seed: number, dupes: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(6);
    for (let j = 0; j < dim; j++) x[i * dim + j] = Math.sin(3 * c + j) * 2 + rng.normal() * 0.3;
  }
  for (let i = 1; i <= dupes; i++) x.copyWithin(i * 3 * dim, 0, dim);
  for (let i = 0; i + 1 < n; i += 17) x.copyWithin((i + 1) * dim, i * dim, i * dim + dim);
  return x;
}

const range = (n: number, step = 1) => Int32Array.from({ length: n }, (_, i) => i * step);

test('knnGram returns the scalar scan\'s neighbours: duplicates, ties, a query inside the reference', () => {
  const n = 900;
  const dim = 7;
  const x = states(n, dim, 3, 5);
  const input = { x, dim, queries: range(n), ref: range(300, 3), k: 8 };
  const exact = knnBruteForce(input);
  const viaGram = knnGram(input, { gram: jsGram });
  assert.deepEqual(viaGram, exact);
  // every query has k distinct neighbours and never itself
  for (let q = 0; q < n; q++) {
    const row = [...exact.subarray(q * 8, q * 8 + 8)];
    assert.equal(new Set(row).size, 8);
    assert.ok(!row.includes(q), `query ${q} found itself`);
  }
});

test('knnGram: more exact duplicates than its slack → that query takes the exact scan, same answer', () => {
  const n = 400;
  const dim = 5;
  const x = states(n, dim, 9, 60); // rows 0, 3, 6, … 180: 61 identical states
  const input = { x, dim, queries: range(n), ref: range(n), k: 40 };
  const got = knnGram(input, { gram: jsGram });
  assert.ok(knnGram.lastFallbacks > 0, 'the duplicated states must overflow the slack');
  assert.deepEqual(got, knnBruteForce(input));
});

test('knnGram far from the origin: float32 cannot order the neighbours, the error bound re-ranks them exactly', () => {
  const n = 500;
  const dim = 6;
  const x = states(n, dim, 4, 0);
  // a large common offset: ‖q‖‖r‖ ~ 10⁷ makes the GEMM's rounding (~S·2⁻²⁴·‖q‖‖r‖ ≈ 4) exceed the gaps
  // between neighbours (~0.1), and mirrored pairs q ± δ tie exactly in float64
  for (let i = 0; i < x.length; i++) x[i] += 1300;
  for (let i = 0; i + 2 < n; i += 25) for (let c = 0; c < dim; c++) x[(i + 2) * dim + c] = 2 * x[i * dim + c] - x[(i + 1) * dim + c];
  const input = { x, dim, queries: range(n), ref: range(n), k: 5 };
  assert.deepEqual(knnGram(input, { gram: jsGram }), knnBruteForce(input));
});

test('knnGram: fewer reference rows than k fills what there is, nearest first, then −1', () => {
  const x = states(20, 3, 1, 0);
  const input = { x, dim: 3, queries: range(20), ref: range(4), k: 6 };
  const got = knnGram(input, { gram: jsGram });
  assert.deepEqual(got, knnBruteForce(input));
  assert.equal(got[5], -1);
});

const native = nativeKnn(1);
test('native knnSelect (C) selects exactly as selectJs; the BLAS path equals the scalar scan', { skip: native.kernels ? false : `native addon: ${native.reason}` }, () => {
  const k = native.kernels!;
  const rng = new Rng(5);
  const m = 37;
  const nr = 500;
  const L = 40;
  const G = Float32Array.from({ length: m * nr }, () => rng.normal());
  for (let j = 0; j < nr; j += 7) G[j] = G[3]; // ties in the first row
  const qn = Float64Array.from({ length: m }, () => 1 + rng.uniform());
  const rn = Float64Array.from({ length: nr }, (_, j) => (j % 11 === 0 ? 1 : rng.uniform()));
  const skip = Int32Array.from({ length: m }, (_, i) => (i % 3 === 0 ? -1 : i * 5));
  const a = { d: new Float64Array(m * L), j: new Int32Array(m * L) };
  const b = { d: new Float64Array(m * L), j: new Int32Array(m * L) };
  k.select!(G, m, nr, qn, rn, skip, L, a.d, a.j);
  selectJs(G, m, nr, qn, rn, skip, L, b.d, b.j);
  assert.deepEqual(a.j, b.j);
  assert.deepEqual(a.d, b.d);
  for (let q = 0; q < m; q++) if (skip[q] >= 0) assert.ok(!a.j.subarray(q * L, q * L + L).includes(skip[q]));

  const n = 3000;
  const x = states(n, 28, 11, 3);
  const input = { x, dim: 28, queries: range(n), ref: range(1000, 3), k: 50 };
  assert.deepEqual(knnGram(input, k), knnBruteForce(input));
});

test('buildNeighbourhoods: the same neighbourhoods and threshold with and without the GEMM path', () => {
  const n = 600;
  const x = states(n, 4, 2, 4);
  const rng = new Rng(8);
  const d = { n, stateDim: 4, actionDim: 2, s: x, a: Float32Array.from({ length: 2 * n }, () => rng.uniform() * 2 - 1) };
  const o = { states: 200, neighbours: 10, reference: 400, quantile: 0.9, seed: 4 };
  const seen: number[] = [];
  const plain = buildNeighbourhoods(d, o);
  const fast = buildNeighbourhoods(d, { ...o, knn: { gram: jsGram }, onProgress: (p) => seen.push(p) });
  assert.deepEqual(fast.neighbours, plain.neighbours);
  assert.deepEqual(fast.queries, plain.queries);
  assert.equal(fast.threshold, plain.threshold);
  assert.equal(seen.at(-1), 1, 'the search reports its end');
});

test('buildNeighbourhoodsAsync: the same neighbourhoods, and timers run between its blocks', async () => {
  const n = 3000; // three blocks of 1024 queries
  const x = states(n, 4, 2, 5);
  const rng = new Rng(9);
  const d = { n, stateDim: 4, actionDim: 2, s: x, a: Float32Array.from({ length: 2 * n }, () => rng.uniform() * 2 - 1) };
  const o = { states: n, neighbours: 5, reference: 500, quantile: 0.9, seed: 4, knn: { gram: jsGram } };
  const sync = buildNeighbourhoods(d, o);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const found = await buildNeighbourhoodsAsync(d, o);
  clearInterval(timer);
  assert.deepEqual(found.neighbours, sync.neighbours);
  assert.equal(found.threshold, sync.threshold);
  assert.ok(ticks >= 1, 'the event loop ran during the search');
});

test('quantiles: one sort, the same values as quantile', () => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 1001 }, () => rng.normal());
  const qs = [0, 0.001, 0.05, 0.5, 0.95, 1];
  assert.deepEqual(quantiles(x, qs), qs.map((q) => quantile(x, q)));
  assert.ok(Number.isNaN(quantiles([], [0.5])[0]));
});

test('phaseClock: a phase line with its seconds; progress with an ETA, throttled, always the end', () => {
  let t = 0;
  const lines: string[] = [];
  const clock = phaseClock((l) => lines.push(l), () => t);
  t = 1500;
  clock('prepared 10 rows');
  assert.deepEqual(lines, ['prepared 10 rows (1.5 s)']);
  const p = clock.progress('search');
  t = 2500;
  p(0.25); // 1 s for 25%: 3 s left
  t = 3000;
  p(0.5); // throttled: < 2 s since the last line
  t = 5500;
  p(1);
  assert.deepEqual(lines.slice(1), ['search: 25%, ETA 3s', 'search: 100%, ETA 0s']);
});
