/**
 * training-report.json and curves.csv: what a run did and how its quantities moved (the paper's
 * Fig. 5: losses and Q; Fig. 6: mean and spread of the policy's actions), written atomically.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPORT_FORMAT = 'batchrl-mtf/training-report@1';

/** Means over each logging interval of the step scalars, plus probes of π on fixed train states. */
export interface Curves {
  step: number[];
  /**
   * step scalars (vaeLoss, criticLoss, actorLoss, qMean, qStd, …) averaged over the interval; null = not
   * computed. With per-response critics also `qMean.<name>`, `targetMean.<name>` (minibatch Q1_i and y_i)
   * and `policyQMean.<name>` (Q1_i(s, π(s)) on the probe states), in response units (README §7).
   */
  scalars: Record<string, (number | null)[]>;
  /** mean of π(s) per action dim on the probe states, logged units */
  actionMean: number[][];
  /** std of π(s) per action dim on the probe states, logged units */
  actionStd: number[][];
  /** mean and std of Q1(s, π(s)) on the probe states (null without a critic) */
  policyQMean: (number | null)[];
  policyQStd: (number | null)[];
}

export function emptyCurves(): Curves {
  return { step: [], scalars: {}, actionMean: [], actionStd: [], policyQMean: [], policyQStd: [] };
}

/** Running sums of one logging interval. */
export class IntervalMeans {
  sums: Record<string, number> = {};
  counts: Record<string, number> = {};

  add(stats: Record<string, number>): void {
    for (const [k, v] of Object.entries(stats)) {
      this.sums[k] = (this.sums[k] ?? 0) + v;
      this.counts[k] = (this.counts[k] ?? 0) + 1;
    }
  }

  means(): Record<string, number> {
    return Object.fromEntries(Object.keys(this.sums).map((k) => [k, this.sums[k] / this.counts[k]]));
  }

  reset(): void {
    this.sums = {};
    this.counts = {};
  }
}

export function appendRecord(
  curves: Curves,
  step: number,
  means: Record<string, number>,
  probe: { actionMean: number[]; actionStd: number[]; qMean: number | null; qStd: number | null },
): void {
  const n = curves.step.length;
  curves.step.push(step);
  for (const k of new Set([...Object.keys(curves.scalars), ...Object.keys(means)])) {
    const col = (curves.scalars[k] ??= new Array<number | null>(n).fill(null));
    col.push(k in means ? means[k] : null);
  }
  curves.actionMean.push(probe.actionMean);
  curves.actionStd.push(probe.actionStd);
  curves.policyQMean.push(probe.qMean);
  curves.policyQStd.push(probe.qStd);
}

export interface TrainingReport {
  format: typeof REPORT_FORMAT;
  status: 'running' | 'completed' | 'stopped' | 'diverged';
  /** for 'diverged': the message naming the quantity and step */
  error?: string;
  algo: string;
  backend: string;
  config: Record<string, unknown>;
  dataset: { rows: number; terminalRows: number; truncatedRows: number; stateDim: number; actionDim: number; fingerprint: string };
  actionNames?: string[];
  /** β of Eq. (1) of the training data's ranking stack (metadata.json `beta`; null = unknown; absent before it was recorded) */
  beta?: number[] | null;
  /** the factor rewards were multiplied by for training (config rewardScale, 'auto' resolved); absent in reports before it existed */
  rewardScale?: number;
  /**
   * the action interval trained in (config actionInterval resolved, logged units) and how many rows had a
   * logged α outside it (truncated to it), with the share of values outside per coordinate; absent before issue 17
   */
  actionInterval?: { min: number[]; max: number[]; rowsOutside: number; shareOutside: number[] };
  /**
   * box-aware training (config behaviorBox): h per coordinate in normalised units and the share of rows whose
   * logged action lies outside [μ(s) − h, μ(s) + h] (uniform-arm rows never do; Gaussian-arm rows may)
   */
  behaviorBox?: { half: number[]; shareOutside: number };
  stepsDone: number;
  stepsRequested: number;
  resumedFrom: number | null;
  /** seconds inside the training loop (this process), and steps per second there */
  trainSeconds: number;
  itPerSec: number;
  lastCheckpoint: string | null;
  final: Record<string, number | null>;
  curves: Curves;
}

export function writeReport(outDir: string, report: TrainingReport): void {
  writeAtomic(join(outDir, 'training-report.json'), JSON.stringify(report, null, 1) + '\n');
  writeAtomic(join(outDir, 'curves.csv'), curvesCsv(report.curves, report.actionNames));
}

export function curvesCsv(c: Curves, actionNames?: string[]): string {
  const keys = Object.keys(c.scalars);
  const dims = c.actionMean[0]?.length ?? 0;
  const names = Array.from({ length: dims }, (_, j) => actionNames?.[j] ?? `a${j}`);
  const header = ['step', ...keys, 'policyQMean', 'policyQStd', ...names.map((n) => `mean_${n}`), ...names.map((n) => `std_${n}`)];
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  const rows = c.step.map((s, i) =>
    [s, ...keys.map((k) => fmt(c.scalars[k][i])), fmt(c.policyQMean[i]), fmt(c.policyQStd[i]), ...c.actionMean[i].map(fmt), ...c.actionStd[i].map(fmt)].join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
