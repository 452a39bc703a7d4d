/**
 * The hash-bucketed merge (issue 20 §2; design in src/stages/README.md §3). A single merge holds every
 * row of the window in one process (≈ 3.2 GiB at the paper's scale, ≈ 32 GiB at ten times it). Here
 * the shards were written in B buckets by a hash of the session id (bucketRows.ts), and:
 *
 *   planSplit      the train/test split, decided once from the shards' light per-session summaries
 *                  (first request of each session): the latest ⌊f·S⌋ sessions by (start, session_id)
 *                  are test — the single merge's rule — written down as a cutoff key;
 *   mergeBucket    bucket b of every shard → one part: that bucket's sessions grouped, split by the
 *                  cutoff and written as a complete trajectories directory of its own (B of these run
 *                  in parallel, on any worker; each holds ≈ 1/B of the rows);
 *   finishBuckets  the parts → the trajectories directory (format 3: `train-bNNNNN.arrow` … one file
 *                  per part and split, schemas/trajectories.md), metadata and report summed over parts.
 *
 * Same output as the single merge, up to order: every session's transitions are identical; sessions
 * are ordered by part, then by start within a part (test/data/bucketMerge.test.ts). One difference, by
 * design: the plan counts S before sessions with conflicting duplicates are dropped (that needs the
 * rows), so where such sessions exist the test split may differ from the single merge's by at most
 * their number (the report counts them).
 */
import { linkSync, copyFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { writeDirAtomic, writeJsonAtomic } from '../io/index.ts';
import { finishIngest } from './finishIngest.ts';
import { ITEM_COLUMNS } from './itemColumns.ts';
import type { MergeShardsOptions } from './shards.ts';
import { appendShard, finishOptionsOf, openShards, readShardMeta, type ShardMeta } from './shards.ts';
import { IngestReport, TrajectoryMetadata, type PartInfo } from './reportSchemas.ts';
import { RowStore } from './rowStore.ts';
import type { SessionTable } from './sessions.ts';
import { testSessionCount, type VectorStats } from './trajectories.ts';
import type { Split } from './trajectoryStore.ts';

export const SPLIT_PLAN_FORMAT = 'batchrl-mtf/split-plan@1';
export const BUCKETED_FORMAT_VERSION = 3;

export const SplitPlan = z.object({
  format: z.literal(SPLIT_PLAN_FORMAT),
  buckets: z.int().positive(),
  /** sessions with a kept row and no rejected one, before conflicting duplicates are dropped */
  sessions: z.int().nonnegative(),
  test_sessions: z.int().nonnegative(),
  /** the first test session's key: a session is test iff (start, id) ≥ this; null = no test split */
  cutoff: z.object({ start_ms: z.number(), session_id: z.string() }).nullable(),
});
export type SplitPlan = z.infer<typeof SplitPlan>;

/** (start, id) order: the single merge's session order (src/data/sessions.ts). */
function compareKey(ta: number, ia: string, tb: number, ib: string): number {
  return ta - tb || (ia < ib ? -1 : ia > ib ? 1 : 0);
}

/**
 * The split from the shards' summaries: each session's first kept request over every shard, sessions
 * with a rejected row left out (they are dropped whole), then the latest ⌊f·S⌋ by (start, id). Memory:
 * one entry per session (not per row).
 */
export function planSplit(metas: ShardMeta[], testFraction: number): SplitPlan {
  const buckets = metas[0]?.buckets ?? 1;
  const start = new Map<string, number>();
  const poisoned = new Set<string>();
  for (const m of metas) {
    if (m.buckets !== buckets || m.session_start.length !== m.sessions.length) {
      throw new InputError(`shard ${m.key}: written for ${m.buckets} buckets with ${m.session_start.length} session starts for ${m.sessions.length} sessions; the plan needs every shard in ${buckets} buckets`, { field: 'session_start' });
    }
    for (const id of m.poisoned) poisoned.add(id);
    for (let c = 0; c < m.sessions.length; c++) {
      const t = m.session_start[c];
      if (t === null) continue;
      const id = m.sessions[c];
      const prev = start.get(id);
      if (prev === undefined || t < prev) start.set(id, t);
    }
  }
  for (const id of poisoned) start.delete(id);
  const ids = [...start.keys()];
  const ts = Float64Array.from(ids, (id) => start.get(id)!);
  const S = ids.length;
  const nTest = testSessionCount(S, testFraction);
  let cutoff: SplitPlan['cutoff'] = null;
  if (nTest > 0) {
    const order = Int32Array.from({ length: S }, (_, i) => i).sort((a, b) => compareKey(ts[a], ids[a], ts[b], ids[b]));
    const first = order[S - nTest];
    cutoff = { start_ms: ts[first], session_id: ids[first] };
  }
  return { format: SPLIT_PLAN_FORMAT, buckets, sessions: S, test_sessions: nTest, cutoff };
}

export function readSplitPlan(path: string): SplitPlan {
  return readJson(path, SplitPlan, 'split plan');
}

/** The sessions of a (start-ordered) table before the plan's cutoff: the bucket's train split. */
export function trainSessionsBefore(plan: SplitPlan) {
  return (table: SessionTable, store: RowStore): number => {
    const S = table.code.length;
    if (!plan.cutoff) return S;
    const { start_ms, session_id } = plan.cutoff;
    let n = 0;
    while (n < S && compareKey(store.ts[table.rows[table.start[n]]], store.sessions.values[table.code[n]], start_ms, session_id) < 0) n++;
    return n;
  };
}

export interface MergeBucketOptions extends Omit<MergeShardsOptions, 'out'> {
  bucket: number;
  plan: SplitPlan;
  /** the part directory to write (atomically): a trajectories directory of this bucket's sessions */
  out: string;
}

/** Bucket b of every shard → one part (a complete trajectories directory of the bucket's sessions). */
export async function mergeBucket(o: MergeBucketOptions) {
  const t0 = performance.now();
  const feedbackNames = Object.keys(o.reward.weights);
  const { metas, dims, scanned } = openShards(o.shards, feedbackNames, o.logs, o.window);
  const B = o.plan.buckets;
  if (!(Number.isInteger(o.bucket) && o.bucket >= 0 && o.bucket < B)) throw new RangeError(`bucket ${o.bucket} is not one of 0 … ${B - 1}`);
  const rows = metas.reduce((s, { meta }) => s + (meta.bucket_rows[o.bucket] ?? 0), 0);
  const store = new RowStore(rows, dims.stateDim, dims.actionDim, feedbackNames);
  for (const { dir, meta } of metas) {
    if (meta.buckets !== B) throw new InputError(`${dir}: the shard was written in ${meta.buckets} buckets, the plan has ${B}`, { file: dir });
    await appendShard(store, dir, meta, { bucket: o.bucket });
  }
  store.rowsRead = store.n;
  o.onProgress?.(`bucket ${o.bucket}/${B}: ${store.n} rows from ${metas.length} shards`);
  return finishIngest(store, scanned, { ...finishOptionsOf(o), part: { trainSessions: trainSessionsBefore(o.plan) } }, t0);
}

/** A part's files inside the trajectories directory. */
export const partFile = (split: Split, b: number) => `${split}-b${String(b).padStart(5, '0')}.arrow`;
export const partSessionsFile = (split: Split, b: number) => `${split}-b${String(b).padStart(5, '0')}-sessions.arrow`;

function readJson<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: cannot read the ${what}: ${(err as Error).message}`, { file: path });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${path}: field '${issue.path.join('.')}': ${issue.message}`, { file: path, field: issue.path.join('.') });
  }
  return parsed.data;
}

/** Per-dimension statistics of parts combined, each weighted by its rows (exact up to rounding). */
export function combineStats(parts: { n: number; stats: VectorStats }[], dim: number): VectorStats {
  const N = parts.reduce((s, p) => s + p.n, 0);
  const mean = new Array<number>(dim).fill(0);
  const sq = new Array<number>(dim).fill(0);
  const min = new Array<number>(dim).fill(Infinity);
  const max = new Array<number>(dim).fill(-Infinity);
  for (const { n, stats } of parts) {
    if (n === 0) continue;
    for (let j = 0; j < dim; j++) {
      mean[j] += (n * stats.mean[j]) / N;
      sq[j] += (n * (stats.std[j] ** 2 + stats.mean[j] ** 2)) / N;
      min[j] = Math.min(min[j], stats.min[j]);
      max[j] = Math.max(max[j], stats.max[j]);
    }
  }
  if (N === 0) return { mean, std: mean.map(() => 0), min: mean.map(() => 0), max: mean.map(() => 0) };
  return { mean, std: sq.map((q, j) => Math.sqrt(Math.max(0, q - mean[j] ** 2))), min, max };
}

export interface FinishBucketsOptions {
  /** shard directories (their counters: rows read, rejected, nulls filled) */
  shards: string[];
  /** part directories, bucket b at index b */
  parts: string[];
  /** names the input in messages */
  logs: string;
  out: string;
  /** remove the part directories once the trajectories are in place (their files are hard-linked into it) */
  removeParts?: boolean;
}

/** The parts → one trajectories directory (format 3), written atomically. */
export async function finishBuckets(o: FinishBucketsOptions): Promise<{ out: string; report: IngestReport; metadata: TrajectoryMetadata }> {
  const t0 = performance.now();
  const shardMetas = o.shards.map((dir) => readShardMeta(dir));
  const parts = o.parts.map((dir) => {
    for (const f of ['metadata.json', 'ingest-report.json']) {
      if (!existsSync(join(dir, f))) throw new InputError(`${dir}: not a merged bucket (no ${f}); merge the bucket first`, { file: dir });
    }
    return { dir, meta: readJson(join(dir, 'metadata.json'), TrajectoryMetadata, 'bucket metadata'), report: readJson(join(dir, 'ingest-report.json'), IngestReport, 'bucket report') };
  });
  if (parts.length === 0) throw new InputError(`${o.logs}: no merged buckets to finish`, { file: o.logs });
  const m0 = parts[0].meta;
  const sum = (f: (p: (typeof parts)[number]) => number) => parts.reduce((s, p) => s + f(p), 0);
  const sessions = sum((p) => p.report.sessions);
  if (sessions === 0) {
    const rowsRead = shardMetas.reduce((s, m) => s + m.rows_read, 0);
    throw new InputError(`${o.logs}: no session survived the row checks (${rowsRead} rows read)`, { file: o.logs });
  }
  const splitCounts = (split: Split) => ({
    sessions: sum((p) => p.meta.counts[split].sessions),
    transitions: sum((p) => p.meta.counts[split].transitions),
    terminal_transitions: sum((p) => p.meta.counts[split].terminal_transitions),
    truncated_transitions: sum((p) => p.meta.counts[split].truncated_transitions),
    reward_sum: sum((p) => p.meta.counts[split].reward_sum),
  });
  const listed = (split: Split): PartInfo[] =>
    parts.flatMap((p, b) => (p.meta.counts[split].sessions > 0 ? [{ bucket: b, file: partFile(split, b), sessions_file: partSessionsFile(split, b), sessions: p.meta.counts[split].sessions, transitions: p.meta.counts[split].transitions }] : []));
  const trainParts = parts.map((p) => ({ n: p.meta.counts.train.transitions, meta: p.meta }));
  const rejected = new Map<string, number>();
  for (const m of shardMetas) for (const [r, c] of Object.entries(m.rows_rejected)) rejected.set(r, (rejected.get(r) ?? 0) + (c ?? 0));
  const F = m0.feedback_columns.length;
  const nulls = new Array<number>(F).fill(0);
  for (const m of shardMetas) m.nulls_filled.forEach((v, i) => (nulls[i] += v));
  // item rows are shard-level counters too: the parts carry none (their stores count no rows read)
  const items = new Array<number>(ITEM_COLUMNS.length).fill(0);
  for (const m of shardMetas) m.item_rows.forEach((v, i) => (items[i] += v));
  const metadata: TrajectoryMetadata = {
    ...m0,
    format_version: BUCKETED_FORMAT_VERSION,
    created_at: new Date().toISOString(),
    state_stats: combineStats(trainParts.map((p) => ({ n: p.n, stats: p.meta.state_stats })), m0.state_dim),
    action_stats: combineStats(trainParts.map((p) => ({ n: p.n, stats: p.meta.action_stats })), m0.action_dim),
    counts: { train: splitCounts('train'), test: splitCounts('test') },
    has_action_logp: parts.some((p) => p.meta.has_action_logp),
    has_policy_id: parts.some((p) => p.meta.has_policy_id),
    parts: { train: listed('train'), test: listed('test') },
  };
  const report: IngestReport = {
    rows_read: shardMetas.reduce((s, m) => s + m.rows_read, 0),
    rows_rejected: Object.fromEntries([...rejected.entries()].filter(([, v]) => v > 0).sort()),
    rows_kept: shardMetas.reduce((s, m) => s + m.rows, 0),
    duplicate_rows_removed: sum((p) => p.report.duplicate_rows_removed),
    sessions,
    sessions_dropped: sum((p) => p.report.sessions_dropped),
    sessions_dropped_by_reason: {
      rejected_row: sum((p) => p.report.sessions_dropped_by_reason.rejected_row),
      conflicting_duplicate: sum((p) => p.report.sessions_dropped_by_reason.conflicting_duplicate),
    },
    transitions: sum((p) => p.report.transitions),
    terminal_transitions: sum((p) => p.report.terminal_transitions),
    truncated_transitions: sum((p) => p.report.truncated_transitions),
    reward_sum: sum((p) => p.report.reward_sum),
    nulls_filled: Object.fromEntries(m0.feedback_columns.map((c, i) => [c, nulls[i]] as const).filter(([, v]) => v > 0)),
    item_columns: Object.fromEntries(ITEM_COLUMNS.map((c, i) => [c, items[i]] as const).filter(([, v]) => v > 0)),
    files: shardMetas.reduce((s, m) => s + m.files.length, 0),
    state_dim: m0.state_dim,
    action_dim: m0.action_dim,
    train_sessions: metadata.counts.train.sessions,
    test_sessions: metadata.counts.test.sessions,
    seconds: 0,
  };
  await writeDirAtomic(o.out, async (tmp) => {
    for (const split of ['train', 'test'] as const) {
      for (const p of metadata.parts![split]) {
        place(join(o.parts[p.bucket], `${split}.arrow`), join(tmp, p.file));
        place(join(o.parts[p.bucket], `${split}-sessions.arrow`), join(tmp, p.sessions_file));
      }
    }
    report.seconds = (performance.now() - t0) / 1000;
    writeJsonAtomic(join(tmp, 'metadata.json'), metadata);
    writeJsonAtomic(join(tmp, 'ingest-report.json'), report);
  });
  if (o.removeParts) for (const dir of o.parts) rmSync(dir, { recursive: true, force: true });
  return { out: o.out, report, metadata };
}

/** A part's file into the trajectories directory: a hard link (no copy), a copy across filesystems. */
function place(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw new InputError(`${from}: cannot place the bucket's file: ${(err as Error).message}`, { file: from });
    copyFileSync(from, to);
  }
}
