/**
 * The order the evaluation can vouch for. Every pair of policies gets a paired difference interval
 * (the bootstrap resamples are shared, so V̂_a − V̂_b is recomputed on each resample, as `lift`), and a
 * pair whose interval contains 0 is a **tie**: the log cannot tell the two apart, and the report says so
 * instead of ordering them by noise (issue 19, goal 1).
 *
 * The tie-aware rank is a Copeland score: wins (pairs it is better in with 95% confidence) minus losses.
 * Policies the log cannot separate share a score; an estimator that resolves nothing puts every policy
 * on one rank, and an ordering by noise is impossible.
 */
import { bootstrapInterval } from './bootstrap.ts';

export interface RankInput {
  name: string;
  /** full-data estimate */
  v_hat: number;
  /** V̂ on each shared bootstrap resample (same length and order for every policy) */
  replicates: number[];
}

export interface PairComparison {
  a: string;
  b: string;
  /** V̂(a) − V̂(b) */
  diff: number;
  /** paired bootstrap interval; null with fewer than 2 resamples (nothing is known: a tie) */
  ci95: [number, number] | null;
  /** 'a' / 'b': that one is better with 95% confidence; 'tie': the interval contains 0 */
  winner: 'a' | 'b' | 'tie';
}

export interface TieRank {
  name: string;
  /** 1 = best; policies with the same wins − losses share a rank */
  rank: number;
  wins: number;
  losses: number;
  /** the policies it is tied with (paired interval contains 0) */
  ties: string[];
}

/** Every pair's paired difference. Needs at least 2 resamples (else every pair is a tie: nothing is known). */
export function pairwiseComparisons(ps: readonly RankInput[]): PairComparison[] {
  const out: PairComparison[] = [];
  for (let i = 0; i < ps.length; i++) {
    for (let j = i + 1; j < ps.length; j++) {
      const [a, b] = [ps[i], ps[j]];
      const diff = a.v_hat - b.v_hat;
      const n = Math.min(a.replicates.length, b.replicates.length);
      if (n < 2) {
        out.push({ a: a.name, b: b.name, diff, ci95: null, winner: 'tie' });
        continue;
      }
      const reps = Array.from({ length: n }, (_, k) => a.replicates[k] - b.replicates[k]);
      const ci95 = bootstrapInterval(diff, reps).ci95;
      out.push({ a: a.name, b: b.name, diff, ci95, winner: ci95[0] > 0 ? 'a' : ci95[1] < 0 ? 'b' : 'tie' });
    }
  }
  return out;
}

/** Copeland ranks from the pairwise comparisons, in the input's order. */
export function tieAwareRanks(ps: readonly RankInput[], pairs: readonly PairComparison[] = pairwiseComparisons(ps)): TieRank[] {
  const by = new Map(ps.map((p) => [p.name, { name: p.name, wins: 0, losses: 0, ties: [] as string[] }]));
  for (const c of pairs) {
    const [a, b] = [by.get(c.a)!, by.get(c.b)!];
    if (c.winner === 'a') [a.wins, b.losses] = [a.wins + 1, b.losses + 1];
    else if (c.winner === 'b') [b.wins, a.losses] = [b.wins + 1, a.losses + 1];
    else {
      a.ties.push(c.b);
      b.ties.push(c.a);
    }
  }
  const score = (x: { wins: number; losses: number }) => x.wins - x.losses;
  const all = [...by.values()];
  return all.map((x) => ({ ...x, rank: 1 + all.filter((y) => score(y) > score(x)).length }));
}
