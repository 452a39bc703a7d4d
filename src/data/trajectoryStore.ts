/**
 * Trajectory files: `<dir>/{train,test}.arrow` (Arrow IPC file format, one row per transition, vectors
 * as fixed_size_list<float32> so each column is one flat Float32 buffer), `<dir>/{train,test}-sessions.arrow`
 * (one row per session), `metadata.json` and `ingest-report.json`. Contract: schemas/trajectories.md.
 *
 * Format 2 stores no `next_state` (s' is the next row's state within the session, see
 * schemas/trajectories.md); readTrajectories materialises it, and still reads format 1 files.
 * Writing uses the small IPC writer in arrowIpc.ts; reading uses apache-arrow, loaded on first use.
 */
import { readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table, Vector } from 'apache-arrow';
import { InputError } from '../errors/index.ts';
import { ArrowFileWriter, utf8Column, type ColumnData, type ColumnSpec } from './arrowIpc.ts';
import type { TransitionChunk } from './trajectories.ts';
import { nextStates } from './trajectories.ts';
import type { TransitionBatch } from './trajectoryTypes.ts';
import { TRAJECTORY_FORMAT_READABLE, TrajectoryMetadata } from './reportSchemas.ts';

export type Split = 'train' | 'test';
export const FEEDBACK_PREFIX = 'feedback.';
/** rows per record batch of the per-session files */
const SESSION_BATCH_ROWS = 65_536;

/** The columns of `<split>.arrow`, in file order. */
export function transitionColumns(stateDim: number, actionDim: number, feedbackNames: string[], policyValues: string[] | null): ColumnSpec[] {
  const cols: ColumnSpec[] = [
    { name: 'session_index', type: { kind: 'int32' }, nullable: false },
    { name: 'step', type: { kind: 'int32' }, nullable: false },
    { name: 'request_ts', type: { kind: 'float64' }, nullable: false },
    { name: 'state', type: { kind: 'fixedList', width: stateDim }, nullable: false },
    { name: 'action', type: { kind: 'fixedList', width: actionDim }, nullable: false },
    { name: 'reward', type: { kind: 'float32' }, nullable: false },
    { name: 'done', type: { kind: 'uint8' }, nullable: false },
    { name: 'truncated', type: { kind: 'uint8' }, nullable: false },
    { name: 'action_logp', type: { kind: 'float32' }, nullable: false },
  ];
  // One dictionary for all batches: the Arrow file format does not allow a batch to replace it.
  if (policyValues) cols.push({ name: 'policy_id', type: { kind: 'dictUtf8', dictionary: policyValues }, nullable: true });
  for (const name of feedbackNames) cols.push({ name: FEEDBACK_PREFIX + name, type: { kind: 'float32' }, nullable: false });
  return cols;
}

/**
 * Writes `<split>.arrow` from batches of transitions (each written before the next is asked for, so
 * the producer may reuse its buffers). `policyValues` is the policy_id dictionary shared by every
 * batch (null: no policy_id column). Returns once the file is written; the promise resolves when it is
 * also fsync'd.
 */
export function writeTransitions(
  dir: string,
  split: Split,
  dims: { stateDim: number; actionDim: number; feedbackNames: string[] },
  chunks: Iterable<TransitionChunk>,
  policyValues: string[] | null,
): Promise<void> {
  const columns = transitionColumns(dims.stateDim, dims.actionDim, dims.feedbackNames, policyValues);
  const writer = new ArrowFileWriter(join(dir, `${split}.arrow`), columns);
  let keys: Int32Array | null = null;
  let valid: Uint8Array | null = null;
  try {
    for (const c of chunks) {
      const n = c.n;
      const data: ColumnData[] = [
        { pieces: [c.sessionIndex] },
        { pieces: [c.step] },
        { pieces: [c.requestTs] },
        { pieces: c.state },
        { pieces: c.action },
        { pieces: [c.reward] },
        { pieces: [c.done] },
        { pieces: [c.truncated] },
        { pieces: [c.actionLogp] },
      ];
      if (policyValues) {
        // −1 (not logged) becomes a null.
        if (!keys || keys.length < n) {
          keys = new Int32Array(n);
          valid = new Uint8Array(Math.ceil(n / 8));
        }
        valid!.fill(0);
        let nulls = 0;
        const codes = c.policy!;
        for (let i = 0; i < n; i++) {
          const code = codes[i];
          if (code < 0) {
            nulls++;
            keys[i] = 0;
          } else {
            valid![i >> 3] |= 1 << (i & 7);
            keys[i] = code;
          }
        }
        data.push({ keys: keys.subarray(0, n), validity: nulls ? valid : null, nullCount: nulls });
      }
      for (const f of c.feedback) data.push({ pieces: [f] });
      writer.writeBatch(n, data);
    }
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.finish();
}

/** The per-session file `<split>-sessions.arrow`: id, user, first request and length of each session (fsync'd when the promise resolves). */
export function writeSessions(dir: string, split: Split, ids: string[], users: string[], startTs: Float64Array, length: Int32Array): Promise<void> {
  const writer = new ArrowFileWriter(join(dir, `${split}-sessions.arrow`), [
    { name: 'session_id', type: { kind: 'utf8' }, nullable: false },
    { name: 'user_id', type: { kind: 'utf8' }, nullable: false },
    { name: 'start_ts', type: { kind: 'float64' }, nullable: false },
    { name: 'length', type: { kind: 'int32' }, nullable: false },
  ]);
  try {
    const S = ids.length;
    for (let lo = 0; lo < S || (S === 0 && lo === 0); lo += SESSION_BATCH_ROWS) {
      const hi = Math.min(S, lo + SESSION_BATCH_ROWS);
      writer.writeBatch(hi - lo, [utf8Column(ids.slice(lo, hi)), utf8Column(users.slice(lo, hi)), { pieces: [startTs.subarray(lo, hi)] }, { pieces: [length.subarray(lo, hi)] }]);
      if (S === 0) break;
    }
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.finish();
}

type ArrowModule = typeof import('apache-arrow');

function readTable(arrow: ArrowModule, path: string): Table {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new InputError(`${path}: cannot read trajectory file (is this an 'mtf ingest' output directory?)`, { file: path });
  }
  try {
    return arrow.tableFromIPC(bytes);
  } catch (err) {
    throw new InputError(`${path}: not an Arrow IPC file: ${(err as Error).message}`, { file: path });
  }
}

function readMetadata(dir: string): TrajectoryMetadata {
  const metaPath = join(dir, 'metadata.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(metaPath, 'utf8'));
  } catch (err) {
    throw new InputError(`${metaPath}: missing or invalid trajectory metadata (${(err as Error).message.split('\n')[0]})`, { file: metaPath });
  }
  const version = (raw as { format_version?: unknown } | null)?.format_version;
  if (typeof version === 'number' && version > TRAJECTORY_FORMAT_READABLE) {
    throw new InputError(
      `${metaPath}: trajectory format_version ${version} was written by a newer mtf; this one reads versions 1 … ${TRAJECTORY_FORMAT_READABLE} (re-run 'mtf ingest' or upgrade)`,
      { file: metaPath, field: 'format_version' },
    );
  }
  try {
    return TrajectoryMetadata.parse(raw);
  } catch (err) {
    throw new InputError(`${metaPath}: missing or invalid trajectory metadata (${(err as Error).message.split('\n')[0]})`, { file: metaPath });
  }
}

export interface ReadTrajectoriesOptions {
  /**
   * Keep a uniform sample of whole sessions, this share of them (0 < share ≤ 1; 1 = all): memory holds
   * only their rows. A session is kept when a hash of (seed, its index) falls below the share, so the
   * sample does not depend on the file's batching; sessions are renumbered 0 … S′−1 in file order.
   */
  sessionShare?: number;
  /** seed of the session sample (default 0) */
  sampleSeed?: number;
}

/** Whether session j is in the sample of `share` drawn with `seed` (a 32-bit mix of both: murmur3's finaliser). */
export function sessionSampled(j: number, share: number, seed: number): boolean {
  if (share >= 1) return true;
  let h = Math.imul(j, 0x9e3779b1) ^ Math.imul(seed | 0, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32 < share;
}

/** A split's files: one part (formats 1 and 2: `<split>.arrow`), or the parts metadata.json lists (format 3). */
function splitParts(dir: string, split: Split, metadata: TrajectoryMetadata) {
  if (metadata.format_version < 3) {
    const c = metadata.counts[split];
    return [{ path: join(dir, `${split}.arrow`), sessionsPath: join(dir, `${split}-sessions.arrow`), sessions: c.sessions, transitions: c.transitions }];
  }
  const metaPath = join(dir, 'metadata.json');
  const parts = metadata.parts?.[split];
  if (!parts) throw new InputError(`${metaPath}: format_version 3 without 'parts'`, { file: metaPath, field: 'parts' });
  const total = parts.reduce((s, p) => s + p.transitions, 0);
  if (total !== metadata.counts[split].transitions) {
    throw new InputError(`${metaPath}: parts.${split} hold ${total} transitions, counts.${split}.transitions says ${metadata.counts[split].transitions}`, { file: metaPath, field: `parts.${split}` });
  }
  return parts.map((p) => ({ path: join(dir, p.file), sessionsPath: join(dir, p.sessions_file), sessions: p.sessions, transitions: p.transitions }));
}

export async function readTrajectories(dir: string, split: Split, opts: ReadTrajectoriesOptions = {}): Promise<{ batch: TransitionBatch; metadata: TrajectoryMetadata }> {
  const metadata = readMetadata(dir);
  const arrow = await import('apache-arrow');
  // each part's sessions table; a part's session_index counts from 0, so part p's sessions are numbered
  // from the sessions of the parts before it (one part: from 0, as the file says)
  const parts = splitParts(dir, split, metadata).map((p) => ({ ...p, table: readTable(arrow, p.sessionsPath), base: 0 }));
  let S = 0;
  for (const p of parts) {
    if (p.table.numRows !== p.sessions && metadata.format_version === 3) {
      throw new InputError(`${p.sessionsPath}: ${p.table.numRows} sessions, metadata.json's parts say ${p.sessions}`, { file: p.sessionsPath });
    }
    p.base = S;
    S += p.table.numRows;
  }
  const d = metadata.state_dim;
  const k = metadata.action_dim;
  const share = opts.sessionShare ?? 1;
  if (!(share > 0 && share <= 1)) throw new InputError(`sessionShare must be in (0, 1], got ${share}`, { field: 'sessionShare' });
  // The sample, decided per session before reading: which sessions stay, their new indices, their rows.
  const fileRows = metadata.counts[split].transitions;
  let keep: Uint8Array | null = null;
  let renumber: Int32Array | null = null;
  let n = fileRows;
  if (share < 1) {
    keep = new Uint8Array(S);
    renumber = new Int32Array(S).fill(-1);
    n = 0;
    let next = 0;
    for (const p of parts) {
      const lengths = p.table.getChild('length');
      if (!lengths) throw new InputError(`${p.sessionsPath}: lacks column 'length' (needed to sample sessions)`, { file: p.sessionsPath, column: 'length' });
      for (let i = 0; i < p.table.numRows; i++) {
        const j = p.base + i;
        if (!sessionSampled(j, share, opts.sampleSeed ?? 0)) continue;
        keep[j] = 1;
        renumber[j] = next++;
        n += Number(lengths.get(i));
      }
    }
  }
  const sessionsPaths = parts.map((p) => p.sessionsPath).join(', ');
  // The transitions are read record batch by record batch into arrays of the size metadata.json
  // states: at the paper's scale train.arrow is 2.4 GB, beyond one readFileSync (2 GiB), and a whole-file
  // buffer beside the arrays would double the memory.
  const state = new Float32Array(n * d);
  const stored = metadata.format_version === 1 ? new Float32Array(n * d) : null;
  const cols = {
    session_index: new Int32Array(n),
    step: new Int32Array(n),
    request_ts: new Float64Array(n),
    action: new Float32Array(n * k),
    reward: new Float32Array(n),
    done: new Uint8Array(n),
    truncated: new Uint8Array(n),
    action_logp: new Float32Array(n),
  };
  const feedback: Record<string, Float32Array> = {};
  for (const f of metadata.feedback_columns) feedback[f] = new Float32Array(n);
  const codes = metadata.has_policy_id ? new Int32Array(n) : null;
  const values: string[] = [];
  const index = new Map<string, number>();
  let at = 0;
  let seenAll = 0;
  async function readPart(reader: Awaited<ReturnType<typeof openArrowBatches>>['reader'], path: string, base: number, partRows: number, countName: string) {
    const fields = reader.schema.fields.map((f) => f.name);
    const need = (name: string) => {
      if (!fields.includes(name)) throw new InputError(`${path}: trajectory file lacks column '${name}'`, { file: path, column: name });
      return name;
    };
    const widths: [string, Float32Array | Float64Array | Int32Array | Uint8Array, number][] = [
      [need('state'), state, d],
      ...(stored ? [[need('next_state'), stored, d] as [string, Float32Array, number]] : []),
      ...Object.entries(cols).map(([name, out]) => [need(name), out, name === 'action' ? k : 1] as [string, Float32Array | Float64Array | Int32Array | Uint8Array, number]),
      ...Object.entries(feedback).map(([name, out]) => [need(FEEDBACK_PREFIX + name), out, 1] as [string, Float32Array, number]),
    ];
    const hasPolicy = codes !== null && fields.includes('policy_id');
    let seen = 0;
    try {
      for await (const b of reader) {
        seen += b.numRows;
        if (seen > partRows) throw new InputError(`${path}: more rows than metadata.json's ${countName} (${partRows})`, { file: path });
        const ranges = keep ? keptRanges(b.getChild(need('session_index'))!, keep, path, base) : [[0, b.numRows] as const];
        const kept = ranges.reduce((x, [lo, hi]) => x + hi - lo, 0);
        if (at + kept > n) throw new InputError(`${path}: more rows in the sampled sessions than their lengths in ${sessionsPaths} (${n})`, { file: path });
        for (const [name, out, width] of widths) copyColumn(arrow, b.getChild(name)!, out, at, width, ranges);
        if (base > 0) for (let i = at; i < at + kept; i++) cols.session_index[i] += base;
        if (codes) {
          const pv = hasPolicy ? b.getChild('policy_id')! : null;
          let o = at;
          for (const [lo, hi] of ranges) {
            for (let i = lo; i < hi; i++, o++) {
              const v = pv ? (pv.get(i) as string | null) : null;
              if (v === null) codes[o] = -1;
              else {
                let c = index.get(v);
                if (c === undefined) index.set(v, (c = values.push(v) - 1));
                codes[o] = c;
              }
            }
          }
        }
        at += kept;
      }
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`${path}: not an Arrow IPC file: ${(err as Error).message}`, { file: path });
    }
    if (seen !== partRows) throw new InputError(`${path}: ${seen} rows, but metadata.json's ${countName} says ${partRows}`, { file: path });
    seenAll += seen;
  }
  for (const [i, p] of parts.entries()) {
    const { reader, close } = await openArrowBatches(arrow, p.path, () => "cannot read trajectory file (is this an 'mtf ingest' output directory?)");
    try {
      await readPart(reader, p.path, p.base, p.transitions, metadata.format_version < 3 ? `counts.${split}.transitions` : `parts.${split}[${i}].transitions`);
    } finally {
      await close();
    }
  }
  if (seenAll !== fileRows) throw new InputError(`${parts[0].path}: ${seenAll} rows, but metadata.json's counts.${split}.transitions says ${fileRows}`, { file: parts[0].path });
  if (at !== n) throw new InputError(`${parts[0].path}: ${at} rows in the sampled sessions, but their lengths in ${sessionsPaths} sum to ${n}`, { file: parts[0].path });
  if (renumber) for (let i = 0; i < n; i++) cols.session_index[i] = renumber[cols.session_index[i]];
  const ids: string[] = [];
  for (const p of parts) {
    const sid = p.table.getChild('session_id');
    if (sid) for (const v of sid.toArray() as string[]) ids.push(v);
  }
  const batch = {
    n,
    stateDim: d,
    actionDim: k,
    state,
    action: cols.action,
    reward: cols.reward,
    done: cols.done,
    truncated: cols.truncated,
    sessionIndex: cols.session_index,
    step: cols.step,
    requestTs: cols.request_ts,
    actionLogp: cols.action_logp,
    feedback,
    policyId: codes ? { codes, values } : null,
    sessionIds: keep ? ids.filter((_, j) => keep[j]) : ids,
  } as TransitionBatch;
  // Format 1 files carry next_state; formats 2 and 3 derive it (the next row's state within the session),
  // and only when something reads it: training indexes the state rows instead (nextStateFromRows).
  if (stored) batch.nextState = stored;
  else withDerivedNextState(batch);
  return { batch, metadata };
}

/**
 * Marks a batch whose s′ is the next row's state within the session (nextStateFromRows) and gives it a
 * `nextState` materialised on first read (then kept; assigning replaces it).
 */
export function withDerivedNextState(batch: TransitionBatch): TransitionBatch {
  let next: Float32Array | null = null;
  Object.defineProperty(batch, 'nextState', {
    enumerable: true,
    configurable: true,
    get: () => (next ??= nextStates(batch.state, batch.sessionIndex, batch.n, batch.stateDim)),
    set: (v: Float32Array) => {
      next = v;
    },
  });
  batch.nextStateFromRows = true;
  return batch;
}

/**
 * The record batches of an Arrow IPC file, each read from disk when it is consumed: through a file
 * handle the reader seeks to every batch the footer lists (measured on the paper-scale train.arrow,
 * 2.4 GB in 190 batches: 4.8 s and 0.15 GiB peak RSS, where a read stream took 20.7 s and buffered 4.5 GiB).
 * The caller closes the handle. `cannotRead` is the message when the file cannot be opened (after the path).
 */
export async function openArrowBatches(arrow: ArrowModule, path: string, cannotRead: (err: Error) => string) {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new InputError(`${path}: ${cannotRead(err as Error)}`, { file: path });
  }
  try {
    const reader = await arrow.RecordBatchReader.from(fh);
    await reader.open();
    return { reader, close: () => fh.close().catch(() => {}) };
  } catch (err) {
    await fh.close().catch(() => {});
    throw new InputError(`${path}: not an Arrow IPC file: ${(err as Error).message}`, { file: path });
  }
}

/** The row ranges [lo, hi) of one record batch whose sessions are in the sample (rows of a session are consecutive). */
function keptRanges(sessionIndex: Vector, keep: Uint8Array, path: string, base = 0): (readonly [number, number])[] {
  const ranges: [number, number][] = [];
  const m = sessionIndex.length;
  for (let i = 0; i < m; ) {
    const j = (sessionIndex.get(i) as number) + base;
    if (!(j >= 0 && j < keep.length)) throw new InputError(`${path}: session_index ${j} at a row outside the ${keep.length} sessions of the split`, { file: path, column: 'session_index' });
    let e = i + 1;
    while (e < m && (sessionIndex.get(e) as number) + base === j) e++;
    if (keep[j]) {
      const last = ranges.at(-1);
      if (last && last[1] === i) last[1] = e;
      else ranges.push([i, e]);
    }
    i = e;
  }
  return ranges;
}

/** Rows [lo, hi) of each range of one record batch's column into out[at·width …] in order (vectors are fixed_size_list<float32>: one child buffer). */
function copyColumn(arrow: ArrowModule, vec: Vector, out: Float32Array | Float64Array | Int32Array | Uint8Array, at: number, width: number, ranges: (readonly [number, number])[]): void {
  let p = at * width;
  let row0 = 0; // the batch row where this chunk starts
  for (const data of vec.data) {
    const leaf = data.type instanceof arrow.FixedSizeList ? data.children[0] : data;
    const off = leaf === data ? data.offset : data.offset * width + leaf.offset;
    const values = leaf.values as typeof out;
    for (const [lo, hi] of ranges) {
      const a = Math.max(lo, row0);
      const b = Math.min(hi, row0 + data.length);
      if (a >= b) continue;
      out.set(values.subarray(off + (a - row0) * width, off + (b - row0) * width) as never, p);
      p += (b - a) * width;
    }
    row0 += data.length;
  }
}
