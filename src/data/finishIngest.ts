/**
 * The second half of ingest: the rows that passed the checks (one RowStore) → sessions → train/test
 * trajectories, metadata and report, written atomically into `out`. Shared by the single-process
 * ingest (files → store) and the fanned-out one (shards → store, src/data/shards.ts).
 */
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { writeDirAtomic, writeJsonAtomic } from '../io/index.ts';
import { vectorNames } from './logContract.ts';
import type { ScannedFile } from './logReader.ts';
import { windowBounds, type LogWindow } from './partitions.ts';
import { IngestReport, type TrajectoryMetadata } from './reportSchemas.ts';
import type { RewardSpec } from './rewardSpec.ts';
import type { RowStore } from './rowStore.ts';
import { groupSessions } from './sessions.ts';
import { buildSplit, splitChunks, StatsAccumulator, testSessionCount } from './trajectories.ts';
import type { TransitionBatch } from './trajectoryTypes.ts';
import { writeTransitions } from './trajectoryStore.ts';

/** transitions per chunk when building and writing a split */
const CHUNK_ROWS = 65_536;

export interface FinishOptions {
  /** names the input in messages */
  logs: string;
  window: LogWindow | null;
  reward: RewardSpec;
  out: string;
  inactivityGapMs: number;
  testFraction: number;
  chunkRows?: number;
}

export async function finishIngest(
  store: RowStore,
  scanned: ScannedFile[],
  opts: FinishOptions,
  t0: number,
): Promise<{ out: string; report: IngestReport; metadata: TrajectoryMetadata }> {
  const gapMs = opts.inactivityGapMs;
  const testFraction = opts.testFraction;
  const bounds = opts.window ? windowBounds(opts.window) : null;
  const feedbackNames = Object.keys(opts.reward.weights);
  if (store.n === 0 && store.rowsRead === 0) {
    throw new InputError(`${opts.logs}: the window holds no rows`, { file: opts.logs });
  }
  const table = groupSessions(store);
  const S = table.code.length;
  const nTest = testSessionCount(S, testFraction);
  const nTrain = S - nTest;
  const trajOpts = {
    rewardWeights: feedbackNames.map((c) => opts.reward.weights[c]),
    windowEndMs: bounds ? bounds.endMs : null,
    inactivityGapMs: gapMs,
    testFraction,
  };
  // Each split is built and written in chunks of whole sessions (≈ 64k transitions): memory holds the
  // rows read plus one chunk. Counts and the train split's statistics accumulate on the way.
  const tally = () => ({ n: 0, rewardSum: 0, terminal: 0, truncated: 0 });
  const counted = { train: tally(), test: tally() };
  const stateStats = new StatsAccumulator(store.stateDim);
  const actionStats = new StatsAccumulator(store.actionDim);
  function* chunksOf(split: 'train' | 'test', s0: number, s1: number): Generator<TransitionBatch> {
    for (const [a, b] of splitChunks(table, s0, s1, opts.chunkRows ?? CHUNK_ROWS)) {
      const r = buildSplit(store, table, a, b, trajOpts, s0);
      const c = counted[split];
      c.n += r.batch.n;
      c.rewardSum += r.rewardSum;
      c.terminal += r.terminal;
      c.truncated += r.truncated;
      if (split === 'train') {
        stateStats.add(r.batch.state, r.batch.n);
        actionStats.add(r.batch.action, r.batch.n);
      }
      yield r.batch;
    }
  }
  // The user of each session: that of its first row.
  const userOf = (s: number) => store.users.values[store.user[table.rows[table.start[s]]]];
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
    format_version: 1,
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
    files: scanned.length,
    state_dim: store.stateDim,
    action_dim: store.actionDim,
    train_sessions: nTrain,
    test_sessions: nTest,
    seconds: 0,
  };
  if (S === 0) {
    throw new InputError(
      `${opts.logs}: no session survived the row checks (${store.rowsRead} rows read; rejected: ${JSON.stringify(report.rows_rejected)})`,
      { file: opts.logs },
    );
  }
  await writeDirAtomic(opts.out, async (tmp) => {
    await writeTransitions(tmp, 'train', chunksOf('train', 0, nTrain), policyValues, (s) => userOf(s));
    await writeTransitions(tmp, 'test', chunksOf('test', nTrain, S), policyValues, (s) => userOf(nTrain + s));
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
  });
  return { out: opts.out, report, metadata };
}
