/**
 * How good an off-policy estimator is, given ground truth for a set of policies (the simulator's
 * rollouts): does it rank them right (Spearman), what does trusting its favourite cost (regret@1),
 * how far off are its values (mean relative error).
 */

/** Ranks 1…n, ties get the mean of the ranks they span. */
export function ranks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Spearman's ρ: the Pearson correlation of the ranks (ties averaged). */
export function spearman(estimate: readonly number[], truth: readonly number[]): number {
  if (estimate.length !== truth.length || estimate.length < 2) throw new RangeError(`spearman: expected two equal-length lists of at least 2 values, got ${estimate.length} and ${truth.length}`);
  return pearson(ranks(estimate), ranks(truth));
}

/** truth(best policy) − truth(the policy the estimate ranks first): the value lost by trusting it. */
export function regretAt1(estimate: readonly number[], truth: readonly number[]): number {
  let best = 0;
  let pick = 0;
  for (let i = 1; i < truth.length; i++) {
    if (truth[i] > truth[best]) best = i;
    if (estimate[i] > estimate[pick]) pick = i;
  }
  return truth[best] - truth[pick];
}

/** mean |estimate − truth| / |truth|. */
export function meanRelativeError(estimate: readonly number[], truth: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s += Math.abs(estimate[i] - truth[i]) / Math.abs(truth[i]);
  return s / truth.length;
}
