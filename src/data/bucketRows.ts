/**
 * The shard's side of the hash-bucketed merge (issue 20 §2; src/stages/README.md §3): a shard read
 * with `buckets` B > 1 writes its rows into B files `rows-b00000.arrow` … by a hash of the session id,
 * so that merge job b reads bucket b of every shard — 1/B of the window's rows — and no process ever
 * holds them all. A session lands in one bucket wherever its rows are (a session that runs past
 * midnight spans two shards, one bucket). The shard also records each session's first kept request,
 * the light input from which the split is planned before any bucket is merged (bucketMerge.ts).
 */
import { join } from 'node:path';
import { ArrowFileWriter, type ColumnData, type ColumnSpec } from './arrowIpc.ts';
import type { RowStore } from './rowStore.ts';

/** The bucket of a session id: FNV-1a (32 bit) over its UTF-16 code units, mod B — the same in every process. */
export function bucketOf(sessionId: string, buckets: number): number {
  if (buckets <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    h ^= sessionId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** The name of bucket b's rows file in a shard directory. */
export const bucketRowsFile = (b: number) => `rows-b${String(b).padStart(5, '0')}.arrow`;

/** The columns of a shard's rows file (rows.arrow, or one bucket's): the store's columns, codes into shard.json's dictionaries. */
export function rowColumns(s: RowStore): ColumnSpec[] {
  const F = s.feedbackNames.length;
  return [
    { name: 'session', type: { kind: 'int32' }, nullable: false },
    { name: 'user', type: { kind: 'int32' }, nullable: false },
    { name: 'request_ts', type: { kind: 'float64' }, nullable: false },
    { name: 'action_logp', type: { kind: 'float64' }, nullable: false },
    { name: 'policy', type: { kind: 'int32' }, nullable: false },
    ...(s.stateDim > 0 ? [{ name: 'state', type: { kind: 'fixedList', width: s.stateDim }, nullable: false } as ColumnSpec] : []),
    ...(s.actionDim > 0 ? [{ name: 'action', type: { kind: 'fixedList', width: s.actionDim }, nullable: false } as ColumnSpec] : []),
    ...(F > 0 ? [{ name: 'feedback', type: { kind: 'fixedList', width: F, item: 'float64' }, nullable: false } as ColumnSpec] : []),
  ];
}

/** Rows per record batch of a bucket's rows file. */
const BUCKET_BATCH_ROWS = 1 << 16;

export interface BucketedRows {
  /** rows written into each bucket's file (0: no file) */
  bucketRows: number[];
  /** each session code's first kept request (epoch ms), null for a session with no kept row */
  sessionStart: (number | null)[];
}

/**
 * Writes the store's rows into `dir`/rows-bNNNNN.arrow by bucket, each bucket's rows in read order
 * (so a bucket merged from the shards in plan order sees its rows in the order a single merge does).
 * Memory: the row lists (4 bytes a row) and one gathered batch.
 */
export async function writeBucketRows(dir: string, s: RowStore, buckets: number): Promise<BucketedRows> {
  const codes = s.sessions.values.length;
  const bucketOfCode = new Int32Array(codes);
  for (let c = 0; c < codes; c++) bucketOfCode[c] = bucketOf(s.sessions.values[c], buckets);
  const start = new Float64Array(codes).fill(Infinity);
  const bucketRows = new Array<number>(buckets).fill(0);
  for (let r = 0; r < s.n; r++) {
    const c = s.session[r];
    bucketRows[bucketOfCode[c]]++;
    if (s.ts[r] < start[c]) start[c] = s.ts[r];
  }
  // rows of each bucket, in read order: a counting sort by bucket
  const first = new Int32Array(buckets + 1);
  for (let b = 0; b < buckets; b++) first[b + 1] = first[b] + bucketRows[b];
  const fill = first.slice(0, buckets);
  const order = new Int32Array(s.n);
  for (let r = 0; r < s.n; r++) order[fill[bucketOfCode[s.session[r]]]++] = r;
  const columns = rowColumns(s);
  const synced: Promise<void>[] = [];
  try {
    for (let b = 0; b < buckets; b++) {
      if (bucketRows[b] === 0) continue;
      synced.push(writeGathered(join(dir, bucketRowsFile(b)), s, columns, order.subarray(first[b], first[b + 1])));
    }
  } finally {
    await Promise.allSettled(synced);
  }
  await Promise.all(synced);
  return { bucketRows, sessionStart: Array.from(start, (t) => (t === Infinity ? null : t)) };
}

/** The given rows of the store, gathered batch by batch into one rows file. */
function writeGathered(path: string, s: RowStore, columns: ColumnSpec[], rows: Int32Array): Promise<void> {
  const F = s.feedbackNames.length;
  const d = s.stateDim;
  const k = s.actionDim;
  const cap = Math.min(BUCKET_BATCH_ROWS, rows.length);
  const session = new Int32Array(cap);
  const user = new Int32Array(cap);
  const ts = new Float64Array(cap);
  const logp = new Float64Array(cap);
  const policy = new Int32Array(cap);
  const state = new Float32Array(cap * d);
  const action = new Float32Array(cap * k);
  const feedback = new Float64Array(cap * F);
  const writer = new ArrowFileWriter(path, columns);
  try {
    for (let i0 = 0; i0 < rows.length; i0 += cap) {
      const m = Math.min(cap, rows.length - i0);
      for (let i = 0; i < m; i++) {
        const r = rows[i0 + i];
        session[i] = s.session[r];
        user[i] = s.user[r];
        ts[i] = s.ts[r];
        logp[i] = s.actionLogp[r];
        policy[i] = s.policy[r];
        const st = s.stateAt(r);
        state.set(st.vec.subarray(st.off, st.off + d), i * d);
        const ac = s.actionAt(r);
        action.set(ac.vec.subarray(ac.off, ac.off + k), i * k);
        feedback.set(s.feedback.subarray(r * F, r * F + F), i * F);
      }
      const data: ColumnData[] = [
        { pieces: [session.subarray(0, m)] },
        { pieces: [user.subarray(0, m)] },
        { pieces: [ts.subarray(0, m)] },
        { pieces: [logp.subarray(0, m)] },
        { pieces: [policy.subarray(0, m)] },
      ];
      if (d > 0) data.push({ pieces: [state.subarray(0, m * d)] });
      if (k > 0) data.push({ pieces: [action.subarray(0, m * k)] });
      if (F > 0) data.push({ pieces: [feedback.subarray(0, m * F)] });
      writer.writeBatch(m, data);
    }
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.finish();
}
