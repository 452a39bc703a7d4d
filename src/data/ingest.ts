/**
 * The ingest stage: parquet interaction logs → session trajectories (train/test), metadata and report.
 * Everything is written into a temporary directory that replaces `out` only when complete: a failure
 * leaves `out` as it was.
 */
import { IngestConfig } from '../config/index.ts';
import { InputError } from '../errors/index.ts';
import { finishIngest, PhaseClock } from './finishIngest.ts';
import type { ReadOptions } from './logReader.ts';
import { listLogFiles, windowBounds, type LogWindow } from './partitions.ts';
import type { IngestReport, TrajectoryMetadata } from './reportSchemas.ts';
import type { RewardSpec } from './rewardSpec.ts';
import { RowStore } from './rowStore.ts';

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
  const { openDuckDB } = await import('./duckdb.ts');
  const { probeDims, readFileInto, scanFiles } = await import('./logReader.ts');
  clock.lap('load');
  const db = await openDuckDB(opts.threads ?? INGEST_DEFAULTS.threads);
  let store: RowStore;
  let scanned;
  try {
    scanned = await scanFiles(db.conn, files, readOpts(null));
    // Dims come from the data and must agree across files.
    let dims: { stateDim: number; actionDim: number; file: string } | null = null;
    for (const f of scanned) {
      if (f.rows === 0) continue;
      const d = await probeDims(db.conn, f, readOpts(f.dt));
      if (d.stateDim <= 0 || d.actionDim <= 0) continue;
      if (!dims) dims = { ...d, file: f.path };
      else if (d.stateDim !== dims.stateDim || d.actionDim !== dims.actionDim) {
        const what = d.stateDim !== dims.stateDim ? `state dim ${d.stateDim}` : `action dim ${d.actionDim}`;
        const was = d.stateDim !== dims.stateDim ? dims.stateDim : dims.actionDim;
        throw new InputError(`${f.path}: ${what} differs from ${was} in ${dims.file}`, {
          file: f.path,
          column: d.stateDim !== dims.stateDim ? 'state' : 'action',
        });
      }
    }
    if (!dims) throw new InputError(`${opts.logs}: the selected files hold no rows${bounds ? ' in the window' : ''}`, { file: opts.logs });
    clock.lap('scan');
    const capacity = scanned.reduce((s, f) => s + f.rows, 0);
    store = new RowStore(capacity, dims.stateDim, dims.actionDim, feedbackNames);
    for (const f of scanned) {
      await readFileInto(db.conn, f, readOpts(f.dt), store);
      opts.onProgress?.(`read ${f.path} (${f.rows} rows)`);
    }
  } finally {
    db.close();
  }
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
      chunkRows: opts.chunkRows,
      clock,
    },
    t0,
  );
}
