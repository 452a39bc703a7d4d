/**
 * The ingest stage: parquet interaction logs → session trajectories (train/test), metadata and report.
 * Everything is written into a temporary directory that replaces `out` only when complete: a failure
 * leaves `out` as it was.
 */
import { IngestConfig } from '../config/index.ts';
import { InputError } from '../errors/index.ts';
import { finishIngest, PhaseClock } from './finishIngest.ts';
import type { BetaSetting } from './fusionBeta.ts';
import type { ReadOptions } from './logReader.ts';
import { listLogFiles, windowBounds, type LogWindow } from './partitions.ts';
import type { IngestReport, TrajectoryMetadata } from './reportSchemas.ts';
import type { RewardSpec } from './rewardSpec.ts';

export interface IngestOptions {
  /** a parquet file or a folder of them (Hive partitions dt=YYYY-MM-DD select the window) */
  logs: string;
  /** the data window; null = every file, and no window end (every session's last row is terminal) */
  window: LogWindow | null;
  reward: RewardSpec;
  out: string;
  /** default 30 min: a session whose last request is this close to the window's end may have been cut */
  inactivityGapMinutes?: number;
  /** default 0.1 (paper §4.1) */
  testFraction?: number;
  /** DuckDB threads; default 1 */
  threads?: number;
  /**
   * β of Eq. (1) of the ranking stack that wrote the logs, for writers that cannot set the footer key
   * `mtf.beta`: one number or one per action element; must agree with the footers where they have it
   */
  beta?: BetaSetting;
  /** transitions per written record batch (at most 65,536, the default) */
  chunkRows?: number;
  /** called with a short line per file read */
  onProgress?: (line: string) => void;
}

const defaults = IngestConfig.parse({});
/** The defaults of src/config (one place): 30 min gap, 10% test split, 1 reader thread. */
export const INGEST_DEFAULTS = {
  inactivityGapMinutes: defaults.inactivity_gap_minutes,
  testFraction: defaults.test_fraction,
  threads: defaults.threads,
  windowDays: defaults.window_days,
} as const;

export interface IngestResult {
  out: string;
  report: IngestReport;
  metadata: TrajectoryMetadata;
  /** where the time went: phase → wall and CPU seconds (for benchmarks; not part of the report) */
  phases: Record<string, { wall: number; cpu: number }>;
}

export async function ingest(opts: IngestOptions): Promise<IngestResult> {
  const t0 = performance.now();
  const clock = new PhaseClock();
  const gapMs = (opts.inactivityGapMinutes ?? INGEST_DEFAULTS.inactivityGapMinutes) * 60_000;
  const testFraction = opts.testFraction ?? INGEST_DEFAULTS.testFraction;
  if (!(testFraction >= 0 && testFraction < 1)) throw new InputError(`--test-fraction: expected a number in [0, 1), got ${testFraction}`, { field: '--test-fraction' });
  if (!(gapMs >= 0)) throw new InputError(`--gap-minutes: expected a number ≥ 0`, { field: '--gap-minutes' });
  const bounds = opts.window ? windowBounds(opts.window) : null;
  const files = listLogFiles(opts.logs, opts.window);
  const feedbackNames = Object.keys(opts.reward.weights);
  const readOpts = (dt: string | null): ReadOptions => ({
    feedbackNames,
    rowWindow: bounds && dt === null ? { startMs: bounds.startMs, endMs: bounds.endMs } : null,
  });

  // DuckDB (a native library, ~0.2 s to load) only when an ingest runs, not when `mtf` starts.
  const { readLogFiles } = await import('./logReader.ts');
  clock.lap('load');
  const { store, scanned, hasRows } = await readLogFiles(files, readOpts, {
    threads: opts.threads ?? INGEST_DEFAULTS.threads,
    onScanned: () => clock.lap('scan'),
    onProgress: opts.onProgress,
  });
  if (!hasRows) throw new InputError(`${opts.logs}: the selected files hold no rows${bounds ? ' in the window' : ''}`, { file: opts.logs });
  clock.lap('read');
  return finishIngest(
    store,
    scanned,
    {
      logs: opts.logs,
      window: opts.window,
      reward: opts.reward,
      out: opts.out,
      inactivityGapMs: gapMs,
      testFraction,
      beta: opts.beta,
      chunkRows: opts.chunkRows,
      clock,
      onProgress: opts.onProgress,
    },
    t0,
  );
}
