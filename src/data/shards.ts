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
import { Field, FixedSizeList, Float32, Float64, Int32, makeData, RecordBatch, RecordBatchFileWriter, Schema, Struct, tableFromIPC, type Data, type DataType } from 'apache-arrow';
import { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { writeDirAtomic, writeFileSynced, writeJsonAtomic } from '../io/index.ts';
import { finishIngest } from './finishIngest.ts';
import { INGEST_DEFAULTS, type IngestOptions, type IngestResult } from './ingest.ts';
import { checkDims, readLogFiles, type ReadOptions, type ScannedFile } from './logReader.ts';
import { listLogFiles, windowBounds, type LogFile, type LogWindow } from './partitions.ts';
import type { RewardSpec } from './rewardSpec.ts';
import { REJECT_REASONS, type RejectReason } from './rowChecks.ts';
import { RowStore } from './rowStore.ts';
import { concatPieces } from './trajectories.ts';

export const SHARD_FORMAT = 'batchrl-mtf/ingest-shard@1';

/** One unit of fan-out: the files of one dt= partition, or one file outside any partition. */
export interface ShardSpec {
  /** 'dt=2026-11-20', or 'file-0', 'file-1', … for files outside any dt= folder */
  key: string;
  files: LogFile[];
}

/** The window's files as shards, in the order a single-process ingest reads them. */
export function planShards(logs: string, window: LogWindow | null): ShardSpec[] {
  const shards: ShardSpec[] = [];
  const used = new Set<string>();
  let loose = 0;
  let lastDt: string | null = null;
  for (const f of listLogFiles(logs, window)) {
    if (f.dt !== null && f.dt === lastDt) {
      shards.at(-1)!.files.push(f);
      continue;
    }
    lastDt = f.dt;
    let key = f.dt === null ? `file-${loose++}` : `dt=${f.dt}`;
    // the same dt under two parent folders: a second shard with its own key
    for (let i = 2; used.has(key); i++) key = `dt=${f.dt}-${i}`;
    used.add(key);
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
    seconds: 0,
  };
  await writeDirAtomic(o.out, async (tmp) => {
    writeFileSynced(join(tmp, 'rows.arrow'), encodeRows(store));
    meta.seconds = (performance.now() - t0) / 1000;
    writeJsonAtomic(join(tmp, 'shard.json'), meta);
  });
  return meta;
}

// ---- the rows file: the store's columns as they are (codes into shard.json's dictionaries) ----

function encodeRows(s: RowStore): Uint8Array {
  const n = s.n;
  const F = s.feedbackNames.length;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const flat = (type: DataType, data: ArrayLike<number>, length = n) => makeData({ type, length, data, nullCount: 0 } as any) as Data;
  const list = (data: Float32Array | Float64Array, width: number, child: Float32 | Float64) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    makeData({ type: new FixedSizeList(width, new Field('item', child, false)), length: n, nullCount: 0, child: flat(child, data, n * width) } as any) as Data;
  const cols: [string, Data][] = [
    ['session', flat(new Int32(), s.session.subarray(0, n))],
    ['user', flat(new Int32(), s.user.subarray(0, n))],
    ['request_ts', flat(new Float64(), s.ts.subarray(0, n))],
    ['action_logp', flat(new Float64(), s.actionLogp.subarray(0, n))],
    ['policy', flat(new Int32(), s.policy.subarray(0, n))],
  ];
  // The vectors live in segments (src/data/rowStore.ts): one contiguous copy each for this file.
  if (s.stateDim > 0) cols.push(['state', list(concatPieces(s.segState, n * s.stateDim), s.stateDim, new Float32())]);
  if (s.actionDim > 0) cols.push(['action', list(concatPieces(s.segAction, n * s.actionDim), s.actionDim, new Float32())]);
  if (F > 0) cols.push(['feedback', list(s.feedback.subarray(0, n * F), F, new Float64())]);
  const fields = cols.map(([name, d]) => new Field(name, d.type, false));
  const schema = new Schema(fields);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: cols.map(([, d]) => d) }));
  return RecordBatchFileWriter.writeAll([batch]).toUint8Array(true);
}

function readShardMeta(dir: string): ShardMeta {
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
}

/** Every shard of a window → the trajectories directory `ingest()` would have written from the same files. */
export async function mergeShards(o: MergeShardsOptions): Promise<IngestResult> {
  const t0 = performance.now();
  const feedbackNames = Object.keys(o.reward.weights);
  const metas = o.shards.map((dir) => ({ dir, meta: readShardMeta(dir) }));
  let dims: { stateDim: number; actionDim: number; file: string } | null = null;
  for (const { dir, meta } of metas) {
    if (meta.feedback_names.join('\u0000') !== feedbackNames.join('\u0000')) {
      throw new InputError(`${dir}: the shard was read with feedback columns ${meta.feedback_names.join(', ')}, the merge asks for ${feedbackNames.join(', ')}`, { file: dir });
    }
    if (meta.rows === 0 || meta.state_dim === 0) continue;
    // name the first log file of each shard: that is what the operator can look at
    const file = (meta.files[0] as ScannedFile | undefined)?.path ?? dir;
    const d = { stateDim: meta.state_dim, actionDim: meta.action_dim };
    if (!dims) dims = { ...d, file };
    else checkDims(d, dims, file);
  }
  const scanned = metas.flatMap(({ meta }) => meta.files as ScannedFile[]);
  if (!dims) throw new InputError(`${o.logs}: the selected files hold no rows${o.window ? ' in the window' : ''}`, { file: o.logs });
  const store = new RowStore(
    metas.reduce((s, { meta }) => s + meta.rows, 0),
    dims.stateDim,
    dims.actionDim,
    feedbackNames,
  );
  for (const { dir, meta } of metas) appendShard(store, dir, meta);
  const result = await finishIngest(
    store,
    scanned,
    {
      logs: o.logs,
      window: o.window,
      reward: o.reward,
      out: o.out,
      inactivityGapMs: (o.inactivityGapMinutes ?? INGEST_DEFAULTS.inactivityGapMinutes) * 60_000,
      testFraction: o.testFraction ?? INGEST_DEFAULTS.testFraction,
      beta: o.beta,
      chunkRows: o.chunkRows,
    },
    t0,
  );
  return result as IngestResult;
}

/** Appends one shard's rows, re-coding its keys into the store's dictionaries (first seen, first coded). */
function appendShard(store: RowStore, dir: string, meta: ShardMeta): void {
  const sessionCode = Int32Array.from(meta.sessions, (s) => store.sessions.code(s));
  const userCode = Int32Array.from(meta.users, (u) => store.users.code(u));
  const policyCode = Int32Array.from(meta.policies, (p) => store.policies.code(p));
  store.rowsRead += meta.rows_read;
  for (const [reason, count] of Object.entries(meta.rows_rejected) as [RejectReason, number][]) store.rejected.set(reason, (store.rejected.get(reason) ?? 0) + count);
  meta.nulls_filled.forEach((v, i) => (store.nullsFilled[i] += v));
  store.hasActionLogp ||= meta.has_action_logp;
  store.hasPolicyId ||= meta.has_policy_id;
  meta.item_rows.forEach((v, i) => (store.itemRows[i] += v));
  for (const key of meta.poisoned) store.poisoned.add(store.sessions.code(key));
  if (meta.rows === 0) return;
  const path = join(dir, 'rows.arrow');
  const table = tableFromIPC(readFileSync(path));
  if (table.numRows !== meta.rows) throw new InputError(`${path}: holds ${table.numRows} rows, shard.json says ${meta.rows}`, { file: path });
  const at = store.n;
  const n = meta.rows;
  const column = (name: string) => {
    const v = table.getChild(name);
    if (!v) throw new InputError(`${path}: missing column '${name}'`, { file: path, column: name });
    return v;
  };
  // width 0 = a flat column, else a fixed_size_list of that width
  const copy = (name: string, into: Int32Array | Float64Array | Float32Array, width: number, map?: Int32Array) => {
    const w = Math.max(1, width);
    let o = at * w;
    for (const d of column(name).data) {
      const child = width > 0 ? d.children[0] : null;
      const src = (child ? child.values : d.values) as Int32Array | Float64Array | Float32Array;
      const len = d.length * w;
      const off = child ? child.offset + d.offset * w : d.offset;
      if (map) for (let i = 0; i < len; i++) into[o + i] = map[src[off + i]];
      else into.set(src.subarray(off, off + len), o);
      o += len;
    }
  };
  copy('session', store.session, 0, sessionCode);
  copy('user', store.user, 0, userCode);
  copy('request_ts', store.ts, 0);
  copy('action_logp', store.actionLogp, 0);
  // policy −1 = none logged: mapped through a table shifted by one
  const policyMap = new Int32Array(policyCode.length + 1);
  policyMap[0] = -1;
  policyMap.set(policyCode, 1);
  const policies = new Int32Array(n);
  {
    let o = 0;
    for (const d of column('policy').data) {
      const src = d.values as Int32Array;
      for (let i = 0; i < d.length; i++) policies[o + i] = policyMap[src[d.offset + i] + 1];
      o += d.length;
    }
  }
  store.policy.set(policies, at);
  if (store.feedbackNames.length > 0) copy('feedback', store.feedback, store.feedbackNames.length);
  // The vectors become segments of the store, one per record batch, as they lie in the table.
  const vectors = (name: string, width: number) =>
    column(name).data.map((d) => {
      const child = d.children[0];
      const off = child.offset + d.offset * width;
      return (child.values as Float32Array).subarray(off, off + d.length * width);
    });
  const states = vectors('state', store.stateDim);
  const actions = vectors('action', store.actionDim);
  if (states.length !== actions.length) throw new InputError(`${path}: state and action are batched differently`, { file: path });
  for (let b = 0; b < states.length; b++) {
    const rows = states[b].length / store.stateDim;
    if (actions[b].length !== rows * store.actionDim) throw new InputError(`${path}: state and action are batched differently`, { file: path });
    store.n += rows;
    store.addSegment(states[b], actions[b]);
  }
  if (store.n !== at + n) throw new InputError(`${path}: holds ${store.n - at} vectors for ${n} rows`, { file: path });
}


/**
 * readShard on a worker thread of its own (src/data/shardWorker.ts): the embedded runner reads several
 * shards at once this way. Errors come back as they were thrown (an InputError keeps its file, column
 * and field); an abort terminates the worker, which leaves no shard directory (it is written atomically).
 */
export async function readShardInWorker(o: ReadShardOptions, signal?: AbortSignal): Promise<ShardMeta> {
  const { Worker } = await import('node:worker_threads');
  const { extname } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  // TypeScript sources (no build step): a worker does not inherit the parent's tsx loader, so a small
  // JavaScript entry registers it first (as bin/mtf.js does)
  const entry = new URL(extname(fileURLToPath(import.meta.url)) === '.ts' ? './shardWorker.boot.mjs' : './shardWorker.js', import.meta.url);
  const { onProgress, ...data } = o;
  signal?.throwIfAborted();
  const worker = new Worker(entry, { workerData: data });
  return new Promise<ShardMeta>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = () => settle(() => void worker.terminate().finally(() => reject(signal!.reason ?? new Error('aborted'))));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: import('./shardWorker.ts').ShardWorkerMessage) => {
      if (m.type === 'log') onProgress?.(m.line);
      else if (m.type === 'done') settle(() => resolve(m.meta));
      else
        settle(() => {
          const err = m.input ? new InputError(m.message, m.input) : new Error(m.message);
          if (m.stack) err.stack = m.stack;
          reject(err);
        });
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`ingest shard ${o.shard.key}: its worker thread exited (code ${code}) before finishing`))));
  });
}
