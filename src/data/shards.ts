/**
 * Ingest split in two so that several workers can share it (issue 7, "ingest fans out one child per
 * partition"):
 *
 *   readShard   one group of files (usually one dt= partition) → the rows that passed the row checks
 *               plus the report's counters, written as a *shard* directory (rows.arrow + shard.json);
 *   mergeShards every shard of the window → one RowStore → the same trajectories `ingest()` writes.
 *
 * Grouping sessions needs all rows of a session, and a session may span partitions (a session that
 * runs past midnight), so only reading and checking fan out; grouping, building and writing run once.
 * Merging the shards in file order gives the same store, row for row and code for code, as reading the
 * files in one process, hence byte-identical trajectories (test/data/shards.test.ts checks that).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { writeDirAtomic, writeJsonAtomic } from '../io/index.ts';
import { finishIngest, type FinishOptions } from './finishIngest.ts';
import { INGEST_DEFAULTS, type IngestOptions, type IngestResult } from './ingest.ts';
import { checkDims, readLogFiles, type ReadOptions, type ScannedFile } from './logReader.ts';
import { listLogFiles, windowBounds, type LogFile, type LogWindow } from './partitions.ts';
import type { RewardSpec } from './rewardSpec.ts';
import { REJECT_REASONS, type RejectReason } from './rowChecks.ts';
import { RowStore } from './rowStore.ts';
import { ArrowFileWriter, type ColumnData } from './arrowIpc.ts';
import { bucketOf, bucketRowsFile, rowColumns, writeBucketRows } from './bucketRows.ts';
import { openArrowBatches } from './trajectoryStore.ts';

export const SHARD_FORMAT = 'batchrl-mtf/ingest-shard@1';

/** One unit of fan-out: consecutive files of one dt= partition, or one file outside any partition. */
export interface ShardSpec {
  /**
   * 'dt=2026-11-20' (the partition's first shard), 'dt=2026-11-20.p2', … (its later ones, when its files
   * add up to more than the shard size), or 'file-0', 'file-1', … for files outside any dt= folder
   */
  key: string;
  files: LogFile[];
}

export interface PlanOptions {
  /**
   * A dt= partition whose files add up to more than this many bytes is read as several shards of
   * consecutive files, each closed once it reaches this size (a file is never split). Default: one shard
   * per partition.
   */
  shardBytes?: number;
}

/**
 * The window's files as shards, in the order a single-process ingest reads them (so that merging them
 * in plan order gives the same trajectories, byte for byte).
 */
export function planShards(logs: string, window: LogWindow | null, opts: PlanOptions = {}): ShardSpec[] {
  const limit = opts.shardBytes ?? Infinity;
  if (!(limit > 0)) throw new RangeError(`shardBytes must be positive, got ${limit}`);
  const shards: ShardSpec[] = [];
  const used = new Set<string>();
  let loose = 0;
  let lastDt: string | null = null;
  let partitionKey = '';
  let part = 1;
  let bytes = 0;
  for (const f of listLogFiles(logs, window)) {
    if (f.dt !== null && f.dt === lastDt) {
      if (bytes < limit) {
        shards.at(-1)!.files.push(f);
        bytes += f.size;
        continue;
      }
      // the partition's shard is full: the next files start another one
      part += 1;
      shards.push({ key: `${partitionKey}.p${part}`, files: [f] });
      bytes = f.size;
      continue;
    }
    lastDt = f.dt;
    let key = f.dt === null ? `file-${loose++}` : `dt=${f.dt}`;
    // the same dt under two parent folders: a second shard with its own key
    for (let i = 2; used.has(key); i++) key = `dt=${f.dt}-${i}`;
    used.add(key);
    partitionKey = key;
    part = 1;
    bytes = f.size;
    shards.push({ key, files: [f] });
  }
  return shards;
}

const RejectCounts = z.partialRecord(z.enum(REJECT_REASONS as unknown as [RejectReason, ...RejectReason[]]), z.int().nonnegative());
const ShardMeta = z.object({
  format: z.literal(SHARD_FORMAT),
  key: z.string(),
  state_dim: z.int().nonnegative(),
  action_dim: z.int().nonnegative(),
  feedback_names: z.array(z.string()),
  rows: z.int().nonnegative(),
  rows_read: z.int().nonnegative(),
  rows_rejected: RejectCounts,
  nulls_filled: z.array(z.int().nonnegative()),
  has_action_logp: z.boolean(),
  has_policy_id: z.boolean(),
  /** rows read that carry each optional item column (ITEM_COLUMNS order); absent in shards written before them */
  item_rows: z.array(z.int().nonnegative()).default([]),
  /** B of the hash-bucketed merge: 1 = one rows.arrow; B > 1 = rows-bNNNNN.arrow per bucket (src/data/bucketRows.ts) */
  buckets: z.int().positive().default(1),
  /** B > 1: the rows in each bucket's file */
  bucket_rows: z.array(z.int().nonnegative()).default([]),
  /** B > 1: each session's first kept request (epoch ms; null: no kept row), in `sessions` order — the split's plan reads these */
  session_start: z.array(z.number().nullable()).default([]),
  sessions: z.array(z.string()),
  users: z.array(z.string()),
  policies: z.array(z.string()),
  poisoned: z.array(z.string()),
  files: z.array(z.unknown()),
  seconds: z.number(),
});
export type ShardMeta = z.infer<typeof ShardMeta>;

export interface ReadShardOptions {
  shard: ShardSpec;
  window: LogWindow | null;
  reward: RewardSpec;
  /** the shard directory to write (atomically) */
  out: string;
  threads?: number;
  /** B of the hash-bucketed merge (default 1: one rows.arrow for a single merge) */
  buckets?: number;
  onProgress?: (line: string) => void;
}

function readOptions(window: LogWindow | null, reward: RewardSpec) {
  const bounds = window ? windowBounds(window) : null;
  const feedbackNames = Object.keys(reward.weights);
  return (dt: string | null): ReadOptions => ({
    feedbackNames,
    rowWindow: bounds && dt === null ? { startMs: bounds.startMs, endMs: bounds.endMs } : null,
  });
}

/** Reads and checks one group of files into a shard directory; returns its summary. */
export async function readShard(o: ReadShardOptions): Promise<ShardMeta> {
  const t0 = performance.now();
  const readOpts = readOptions(o.window, o.reward);
  const feedbackNames = Object.keys(o.reward.weights);
  const { store, scanned } = await readLogFiles(o.shard.files, readOpts, { threads: o.threads ?? INGEST_DEFAULTS.threads, onProgress: o.onProgress });
  const meta: ShardMeta = {
    format: SHARD_FORMAT,
    key: o.shard.key,
    state_dim: store.stateDim,
    action_dim: store.actionDim,
    feedback_names: feedbackNames,
    rows: store.n,
    rows_read: store.rowsRead,
    rows_rejected: Object.fromEntries([...store.rejected.entries()].sort()),
    nulls_filled: [...store.nullsFilled],
    has_action_logp: store.hasActionLogp,
    has_policy_id: store.hasPolicyId,
    item_rows: Array.from(store.itemRows),
    sessions: store.sessions.values,
    users: store.users.values,
    policies: store.policies.values,
    poisoned: [...store.poisoned].sort((a, b) => a - b).map((c) => store.sessions.values[c]),
    files: scanned,
    buckets: o.buckets ?? 1,
    bucket_rows: [],
    session_start: [],
    seconds: 0,
  };
  await writeDirAtomic(o.out, async (tmp) => {
    if (meta.buckets > 1) {
      const { bucketRows, sessionStart } = await writeBucketRows(tmp, store, meta.buckets);
      meta.bucket_rows = bucketRows;
      meta.session_start = sessionStart;
    } else await writeRows(join(tmp, 'rows.arrow'), store);
    meta.seconds = (performance.now() - t0) / 1000;
    writeJsonAtomic(join(tmp, 'shard.json'), meta);
  });
  return meta;
}

// ---- the rows file: the store's columns as they are (codes into shard.json's dictionaries) ----

/** Rows per record batch of rows.arrow: the merge reads one batch at a time. */
const SHARD_BATCH_ROWS = 1 << 16;

/**
 * rows.arrow, written record batch by record batch straight from the store (its vector segments are
 * the reader's own buffers: no concatenated copy, no whole file in memory — at the paper's scale that
 * was ≈ 1.6 GB per shard on top of its rows).
 */
function writeRows(path: string, s: RowStore): Promise<void> {
  const F = s.feedbackNames.length;
  const columns = rowColumns(s);
  const writer = new ArrowFileWriter(path, columns);
  try {
    // whole segments per batch, about SHARD_BATCH_ROWS rows each
    const segs = s.segState.length;
    for (let first = 0; first < segs; ) {
      let last = first + 1;
      while (last < segs && s.segStart[last] - s.segStart[first] < SHARD_BATCH_ROWS) last++;
      const [lo, hi] = [s.segStart[first], s.segStart[last]];
      const data: ColumnData[] = [
        { pieces: [s.session.subarray(lo, hi)] },
        { pieces: [s.user.subarray(lo, hi)] },
        { pieces: [s.ts.subarray(lo, hi)] },
        { pieces: [s.actionLogp.subarray(lo, hi)] },
        { pieces: [s.policy.subarray(lo, hi)] },
      ];
      if (s.stateDim > 0) data.push({ pieces: s.segState.slice(first, last) });
      if (s.actionDim > 0) data.push({ pieces: s.segAction.slice(first, last) });
      if (F > 0) data.push({ pieces: [s.feedback.subarray(lo * F, hi * F)] });
      writer.writeBatch(hi - lo, data);
      first = last;
    }
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.finish();
}

export function readShardMeta(dir: string): ShardMeta {
  const path = join(dir, 'shard.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: cannot read the ingest shard: ${(err as Error).message}`, { file: path });
  }
  const parsed = ShardMeta.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${path}: field '${issue.path.join('.')}': ${issue.message}`, { file: path, field: issue.path.join('.') });
  }
  return parsed.data;
}

export interface MergeShardsOptions extends Omit<IngestOptions, 'logs' | 'threads' | 'onProgress'> {
  /** shard directories, in plan order */
  shards: string[];
  /** names the input in messages (the logs directory) */
  logs: string;
  /** progress lines (each shard merged, then finishIngest's phases) */
  onProgress?: (line: string) => void;
}

/** The shards' summaries, checked against each other and the merge's feedback columns, with the window's dimensions and files. */
export function openShards(dirs: string[], feedbackNames: string[], logs: string, window: LogWindow | null) {
  const metas = dirs.map((dir) => ({ dir, meta: readShardMeta(dir) }));
  let dims: { stateDim: number; actionDim: number; file: string } | null = null;
  for (const { dir, meta } of metas) {
    if (meta.feedback_names.join('\u0000') !== feedbackNames.join('\u0000')) {
      throw new InputError(`${dir}: the shard was read with feedback columns ${meta.feedback_names.join(', ')}, the merge asks for ${feedbackNames.join(', ')}`, { file: dir });
    }
    if (meta.buckets !== metas[0].meta.buckets) {
      throw new InputError(`${dir}: the shard was written in ${meta.buckets} buckets, ${metas[0].dir} in ${metas[0].meta.buckets}`, { file: dir });
    }
    if (meta.rows === 0 || meta.state_dim === 0) continue;
    // name the first log file of each shard: that is what the operator can look at
    const file = (meta.files[0] as ScannedFile | undefined)?.path ?? dir;
    const d = { stateDim: meta.state_dim, actionDim: meta.action_dim };
    if (!dims) dims = { ...d, file };
    else checkDims(d, dims, file);
  }
  const scanned = metas.flatMap(({ meta }) => meta.files as ScannedFile[]);
  if (!dims) throw new InputError(`${logs}: the selected files hold no rows${window ? ' in the window' : ''}`, { file: logs });
  return { metas, dims, scanned };
}

/** Every shard of a window → the trajectories directory `ingest()` would have written from the same files. */
export async function mergeShards(o: MergeShardsOptions): Promise<IngestResult> {
  const t0 = performance.now();
  const feedbackNames = Object.keys(o.reward.weights);
  const { metas, dims, scanned } = openShards(o.shards, feedbackNames, o.logs, o.window);
  if (metas[0].meta.buckets > 1) {
    throw new InputError(`${metas[0].dir}: the shard was written for a merge in ${metas[0].meta.buckets} buckets (ingest.merge_buckets); merge it bucket by bucket (src/data/bucketMerge.ts)`, { file: metas[0].dir });
  }
  const store = new RowStore(
    metas.reduce((s, { meta }) => s + meta.rows, 0),
    dims.stateDim,
    dims.actionDim,
    feedbackNames,
  );
  for (const { dir, meta } of metas) {
    const t = performance.now();
    await appendShard(store, dir, meta);
    o.onProgress?.(`merged shard ${meta.key}: ${meta.rows} rows (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }
  const result = await finishIngest(store, scanned, finishOptionsOf(o), t0);
  return result as IngestResult;
}

/** finishIngest's options from a merge's (the defaults of src/config where the merge leaves them out). */
export function finishOptionsOf(o: MergeShardsOptions): FinishOptions {
  return {
    logs: o.logs,
    window: o.window,
    reward: o.reward,
    out: o.out,
    inactivityGapMs: (o.inactivityGapMinutes ?? INGEST_DEFAULTS.inactivityGapMinutes) * 60_000,
    testFraction: o.testFraction ?? INGEST_DEFAULTS.testFraction,
    beta: o.beta,
    chunkRows: o.chunkRows,
    onProgress: o.onProgress,
  };
}

/**
 * Appends one shard's rows, re-coding its keys into the store's dictionaries (first seen, first coded).
 * rows.arrow is read one record batch at a time through a file handle; each batch's vectors become a
 * segment of their own (copied: a batch's buffer also holds the columns already copied).
 */
export async function appendShard(store: RowStore, dir: string, meta: ShardMeta, part?: { bucket: number }): Promise<void> {
  // A bucket's merge codes only the keys its rows use (the shard's dictionaries hold every bucket's).
  const lazy = (values: string[], dict: RowStore['sessions']) => {
    const map = new Int32Array(values.length).fill(-1);
    if (!part) for (let i = 0; i < values.length; i++) map[i] = dict.code(values[i]);
    return (i: number) => (map[i] >= 0 ? map[i] : (map[i] = dict.code(values[i])));
  };
  const sessionCode = lazy(meta.sessions, store.sessions);
  const userCode = lazy(meta.users, store.users);
  const policyCode = Int32Array.from(meta.policies, (p) => store.policies.code(p));
  store.hasActionLogp ||= meta.has_action_logp;
  store.hasPolicyId ||= meta.has_policy_id;
  // the shard's counters belong to the whole window, not to a bucket: a bucketed merge sums them once, from shard.json
  if (!part) {
    store.rowsRead += meta.rows_read;
    for (const [reason, count] of Object.entries(meta.rows_rejected) as [RejectReason, number][]) store.rejected.set(reason, (store.rejected.get(reason) ?? 0) + count);
    meta.nulls_filled.forEach((v, i) => (store.nullsFilled[i] += v));
    meta.item_rows.forEach((v, i) => (store.itemRows[i] += v));
  }
  for (const key of meta.poisoned) if (!part || bucketOf(key, meta.buckets) === part.bucket) store.poisoned.add(store.sessions.code(key));
  const expected = part ? (meta.bucket_rows[part.bucket] ?? 0) : meta.rows;
  if (expected === 0) return;
  const path = join(dir, part ? bucketRowsFile(part.bucket) : 'rows.arrow');
  // policy −1 = none logged: mapped through a table shifted by one
  const policyMap = new Int32Array(policyCode.length + 1);
  policyMap[0] = -1;
  policyMap.set(policyCode, 1);
  const start = store.n;
  const { reader, close } = await openArrowBatches(arrow, path, (err) => `cannot read the ingest shard: ${err.message}`);
  try {
    for await (const batch of reader) {
      const m = batch.numRows;
      if (store.n - start + m > expected) throw new InputError(`${path}: holds more rows than shard.json's ${expected}`, { file: path });
      const at = store.n;
      const column = (name: string) => {
        const v = batch.getChild(name);
        if (!v) throw new InputError(`${path}: missing column '${name}'`, { file: path, column: name });
        return v;
      };
      /** the column's values for this batch (width > 0: a fixed_size_list's items) */
      const values = <T extends Int32Array | Float64Array | Float32Array>(name: string, width: number): T[] =>
        column(name).data.map((d: arrow.Data) => {
          const child = width > 0 ? d.children[0] : null;
          const w = Math.max(1, width);
          const off = child ? child.offset + d.offset * w : d.offset;
          return ((child ? child.values : d.values) as T).subarray(off, off + d.length * w) as T;
        });
      const copy = (name: string, into: Int32Array | Float64Array, width: number, map?: Int32Array, shift = 0) => {
        let o = at * Math.max(1, width);
        for (const src of values<Int32Array | Float64Array>(name, width)) {
          if (map) for (let i = 0; i < src.length; i++) into[o + i] = map[src[i] + shift];
          else into.set(src, o);
          o += src.length;
        }
      };
      const recode = (name: string, into: Int32Array, code: (i: number) => number) => {
        let o = at;
        for (const src of values<Int32Array>(name, 0)) for (let i = 0; i < src.length; i++) into[o++] = code(src[i]);
      };
      recode('session', store.session, sessionCode);
      recode('user', store.user, userCode);
      copy('request_ts', store.ts, 0);
      copy('action_logp', store.actionLogp, 0);
      copy('policy', store.policy, 0, policyMap, 1);
      if (store.feedbackNames.length > 0) copy('feedback', store.feedback, store.feedbackNames.length);
      const joined = (name: string, width: number) => {
        const out = new Float32Array(m * width);
        if (width > 0) concatInto(values<Float32Array>(name, width), out);
        return out;
      };
      const states = joined('state', store.stateDim);
      const actions = joined('action', store.actionDim);
      store.n += m;
      store.addSegment(states, actions);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: not an Arrow IPC file: ${(err as Error).message}`, { file: path });
  } finally {
    await close();
  }
  if (store.n - start !== expected) throw new InputError(`${path}: holds ${store.n - start} rows, shard.json says ${expected}`, { file: path });
}

function concatInto(pieces: Float32Array[], out: Float32Array): void {
  let p = 0;
  for (const x of pieces) {
    if (p + x.length > out.length) throw new RangeError('internal: vector pieces longer than their rows');
    out.set(x, p);
    p += x.length;
  }
  if (p !== out.length) throw new RangeError('internal: vector pieces shorter than their rows');
}

/**
 * readShard in a child process of its own (src/data/shardChild.ts): the embedded runner reads several
 * shards at once this way, and each one's memory is the system's again when it exits. Errors come back
 * as they were thrown (an InputError keeps its file, column and field); an abort kills the child, which
 * leaves no shard directory (it is written atomically).
 */
export async function readShardInChild(o: ReadShardOptions, signal?: AbortSignal): Promise<ShardMeta & { peak_rss_mib: number }> {
  const { fork } = await import('node:child_process');
  const { extname } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const ts = extname(fileURLToPath(import.meta.url)) === '.ts';
  const entry = fileURLToPath(new URL(ts ? './shardChild.boot.mjs' : './shardChild.js', import.meta.url));
  const { onProgress, ...data } = o;
  signal?.throwIfAborted();
  const child = fork(entry, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  return new Promise<ShardMeta & { peak_rss_mib: number }>((resolve, reject) => {
    let result: { ok: true; meta: ShardMeta & { peak_rss_mib: number } } | { ok: false; err: Error } | null = null;
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: import('./shardChild.ts').ShardChildMessage) => {
      if (m.type === 'log') onProgress?.(m.line);
      else if (m.type === 'done') result ??= { ok: true, meta: { ...m.meta, peak_rss_mib: m.peakRssMib } }; // the child's own peak: the stage record has this process's
      else {
        const err = m.input ? new InputError(m.message, m.input) : new Error(m.message);
        if (m.stack) err.stack = m.stack;
        result ??= { ok: false, err };
      }
    });
    // settle when the child is gone, so that its memory is free and no process outlives the call
    child.on('exit', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason ?? new Error('aborted'));
      else if (result?.ok) resolve(result.meta);
      else if (result) reject(result.err);
      else reject(new Error(`ingest shard ${o.shard.key}: its process exited (${sig ?? `code ${code}`}) before finishing`));
    });
    child.on('error', (err) => {
      if (child.pid === undefined) reject(err); // never started: no 'exit' follows
      else result ??= { ok: false, err };
    });
    child.send(data);
  });
}
