/**
 * The second half of ingest: the rows that passed the checks (one RowStore) → sessions → train/test
 * trajectories, metadata and report, written atomically into `out`. Shared by the single-process
 * ingest (files → store) and the fanned-out one (shards → store, src/data/shards.ts).
 */
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { phaseClock, writeDirAtomic, writeJsonAtomic } from '../io/index.ts';
import { resolveBeta, type BetaSetting } from './fusionBeta.ts';
import { ITEM_COLUMNS } from './itemColumns.ts';
import { vectorNames } from './logContract.ts';
import type { ScannedFile } from './logReader.ts';
import { windowBounds, type LogWindow } from './partitions.ts';
import { IngestReport, TRAJECTORY_FORMAT_VERSION, type TrajectoryMetadata } from './reportSchemas.ts';
import type { RewardSpec } from './rewardSpec.ts';
import type { RowStore } from './rowStore.ts';
import { groupSessions, type SessionTable } from './sessions.ts';
import { splitBatches, StatsAccumulator, testSessionCount, type TransitionChunk } from './trajectories.ts';
import { writeSessions, writeTransitions } from './trajectoryStore.ts';

/** transitions per record batch (the contract: ≤ 65,536) */
const BATCH_ROWS = 65_536;

export interface FinishOptions {
  /** names the input in messages */
  logs: string;
  window: LogWindow | null;
  reward: RewardSpec;
  out: string;
  inactivityGapMs: number;
  testFraction: number;
  /** β of Eq. (1) as the ingest setting states it (must agree with the files' footers; src/data/fusionBeta.ts) */
  beta?: BetaSetting;
  /** transitions per record batch; default 65,536 */
  chunkRows?: number;
  /** times the phases (the caller's clock, so reading is on it too) */
  clock?: PhaseClock;
  /** progress lines (src/io/phases.ts): each phase with its seconds, the splits' writing with % and ETA */
  onProgress?: (line: string) => void;
  /**
   * One bucket of a bucketed merge (src/data/bucketMerge.ts): the train split is the sessions this
   * returns (a prefix of the table, which is in start order) instead of all but the latest ⌊f·S⌋, and
   * a bucket with no rows or no surviving session is written (empty), not refused.
   */
  part?: { trainSessions: (table: SessionTable, store: RowStore) => number };
}

/** Wall and CPU (process.cpuUsage: user + system) seconds per phase, for benchmarks. */
export class PhaseClock {
  readonly phases: Record<string, { wall: number; cpu: number }> = {};
  private t = performance.now();
  private c = process.cpuUsage();
  /** Charges the time since the last lap to `name`. */
  lap(name: string): void {
    const t = performance.now();
    const c = process.cpuUsage();
    const p = (this.phases[name] ??= { wall: 0, cpu: 0 });
    p.wall += (t - this.t) / 1000;
    p.cpu += (c.user - this.c.user + c.system - this.c.system) / 1e6;
    this.t = t;
    this.c = c;
  }
}

export async function finishIngest(
  store: RowStore,
  scanned: ScannedFile[],
  opts: FinishOptions,
  t0: number,
): Promise<{ out: string; report: IngestReport; metadata: TrajectoryMetadata; phases: PhaseClock['phases'] }> {
  const clock = opts.clock ?? new PhaseClock();
  const gapMs = opts.inactivityGapMs;
  const testFraction = opts.testFraction;
  const bounds = opts.window ? windowBounds(opts.window) : null;
  const feedbackNames = Object.keys(opts.reward.weights);
  if (!opts.part && store.n === 0 && store.rowsRead === 0) {
    throw new InputError(`${opts.logs}: the window holds no rows`, { file: opts.logs });
  }
  // before the heavy work: a β conflict fails fast
  const beta = resolveBeta(scanned, opts.beta, store.actionDim, opts.logs);
  const phase = phaseClock(opts.onProgress ?? (() => {}));
  const table = groupSessions(store);
  clock.lap('group');
  phase(`grouped ${store.n} rows into ${table.code.length} sessions`);
  const S = table.code.length;
  const nTrain = opts.part ? opts.part.trainSessions(table, store) : S - testSessionCount(S, testFraction);
  const nTest = S - nTrain;
  const trajOpts = {
    rewardWeights: feedbackNames.map((c) => opts.reward.weights[c]),
    windowEndMs: bounds ? bounds.endMs : null,
    inactivityGapMs: gapMs,
    testFraction,
  };
  // Each split is built and written in record batches: memory holds the rows read plus one batch's
  // scalars (the vectors are views of the rows). Counts and the train split's statistics, in output
  // order, accumulate on the way.
  const tally = () => ({ n: 0, rewardSum: 0, terminal: 0, truncated: 0 });
  const counted = { train: tally(), test: tally() };
  const stateStats = new StatsAccumulator(store.stateDim);
  const actionStats = new StatsAccumulator(store.actionDim);
  const batchRows = Math.max(1, Math.min(BATCH_ROWS, opts.chunkRows ?? BATCH_ROWS));
  const written = phase.progress('writing the trajectories');
  const totalRows = table.start[S] - table.start[0];
  function* chunksOf(split: 'train' | 'test', s0: number, s1: number): Generator<TransitionChunk> {
    for (const b of splitBatches(store, table, s0, s1, trajOpts, batchRows)) {
      written(totalRows > 0 ? (counted.train.n + counted.test.n + b.n) / totalRows : 1);
      const c = counted[split];
      c.n += b.n;
      c.rewardSum = b.rewardSumSoFar;
      c.terminal += b.terminal;
      c.truncated += b.truncatedCount;
      clock.lap('build');
      if (split === 'train') {
        for (const p of b.state) stateStats.add(p, p.length / store.stateDim);
        for (const p of b.action) actionStats.add(p, p.length / store.actionDim);
        clock.lap('stats');
      }
      yield b;
      clock.lap('write');
    }
  }
  /** The per-session file's columns for sessions [s0, s1): the user of a session is that of its first row. */
  const sessionRows = (s0: number, s1: number) => {
    const ids: string[] = [];
    const users: string[] = [];
    const startTs = new Float64Array(s1 - s0);
    const length = new Int32Array(s1 - s0);
    for (let s = s0; s < s1; s++) {
      const first = table.rows[table.start[s]];
      ids.push(store.sessions.values[table.code[s]]);
      users.push(store.users.values[store.user[first]]);
      startTs[s - s0] = store.ts[first];
      length[s - s0] = table.start[s + 1] - table.start[s];
    }
    return [ids, users, startTs, length] as const;
  };
  const policyValues = store.hasPolicyId ? store.policies.values : null;

  const layout0 = scanned[0].layout;
  const counts = (c: ReturnType<typeof tally>, sessions: number) => ({
    sessions,
    transitions: c.n,
    terminal_transitions: c.terminal,
    truncated_transitions: c.truncated,
    reward_sum: c.rewardSum,
  });
  const metadata: TrajectoryMetadata = {
    format_version: TRAJECTORY_FORMAT_VERSION,
    created_at: new Date().toISOString(),
    state_dim: store.stateDim,
    action_dim: store.actionDim,
    state_names: vectorNames(layout0.state, 'state', store.stateDim),
    action_names: vectorNames(layout0.action, 'action', store.actionDim),
    state_stats: { mean: [], std: [], min: [], max: [] },
    action_stats: { mean: [], std: [], min: [], max: [] },
    reward_weights: { ...opts.reward.weights },
    feedback_columns: feedbackNames,
    window: bounds && opts.window ? { end_date: opts.window.endDate, days: opts.window.days, start_ms: bounds.startMs, end_ms: bounds.endMs } : null,
    inactivity_gap_ms: gapMs,
    test_fraction: testFraction,
    counts: { train: counts(counted.train, nTrain), test: counts(counted.test, nTest) },
    has_action_logp: store.hasActionLogp,
    has_policy_id: store.hasPolicyId,
    beta,
    source_files: scanned.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime, rows: f.rows, dt: f.dt })),
  };
  const droppedTotal = table.dropped.rejected_row + table.dropped.conflicting_duplicate;
  const report: IngestReport = {
    rows_read: store.rowsRead,
    rows_rejected: Object.fromEntries([...store.rejected.entries()].sort()),
    rows_kept: store.n,
    duplicate_rows_removed: table.duplicateRowsRemoved,
    sessions: S,
    sessions_dropped: droppedTotal,
    sessions_dropped_by_reason: table.dropped,
    transitions: 0,
    terminal_transitions: 0,
    truncated_transitions: 0,
    reward_sum: 0,
    nulls_filled: Object.fromEntries(feedbackNames.map((c, i) => [c, store.nullsFilled[i]] as const).filter(([, v]) => v > 0)),
    item_columns: Object.fromEntries(ITEM_COLUMNS.map((c, i) => [c, store.itemRows[i]] as const).filter(([, v]) => v > 0)),
    files: scanned.length,
    state_dim: store.stateDim,
    action_dim: store.actionDim,
    train_sessions: nTrain,
    test_sessions: nTest,
    seconds: 0,
  };
  if (S === 0 && !opts.part) {
    throw new InputError(
      `${opts.logs}: no session survived the row checks (${store.rowsRead} rows read; rejected: ${JSON.stringify(report.rows_rejected)})`,
      { file: opts.logs },
    );
  }
  const dims = { stateDim: store.stateDim, actionDim: store.actionDim, feedbackNames };
  await writeDirAtomic(opts.out, async (tmp) => {
    // Each file is fsync'd on the thread pool while the next one is written; all before the rename.
    const synced: Promise<void>[] = [];
    try {
      synced.push(writeTransitions(tmp, 'train', dims, chunksOf('train', 0, nTrain), policyValues));
      synced.push(writeSessions(tmp, 'train', ...sessionRows(0, nTrain)));
      synced.push(writeTransitions(tmp, 'test', dims, chunksOf('test', nTrain, S), policyValues));
      synced.push(writeSessions(tmp, 'test', ...sessionRows(nTrain, S)));
      clock.lap('write');
    } finally {
      await Promise.allSettled(synced);
    }
    await Promise.all(synced);
    clock.lap('fsync');
    phase('wrote and synced the trajectories');
    metadata.state_stats = stateStats.result();
    metadata.action_stats = actionStats.result();
    metadata.counts = { train: counts(counted.train, nTrain), test: counts(counted.test, nTest) };
    report.transitions = counted.train.n + counted.test.n;
    report.terminal_transitions = counted.train.terminal + counted.test.terminal;
    report.truncated_transitions = counted.train.truncated + counted.test.truncated;
    report.reward_sum = counted.train.rewardSum + counted.test.rewardSum;
    report.seconds = (performance.now() - t0) / 1000;
    writeJsonAtomic(join(tmp, 'metadata.json'), metadata);
    writeJsonAtomic(join(tmp, 'ingest-report.json'), report);
    clock.lap('write');
  });
  clock.lap('rename');
  return { out: opts.out, report, metadata, phases: clock.phases };
}
