/**
 * Trajectory files: `<dir>/{train,test}.arrow` (Arrow IPC file format, one row per transition, vectors
 * as fixed_size_list<float32> so each column is one flat Float32 buffer), `<dir>/{train,test}-sessions.arrow`
 * (one row per session), `metadata.json` and `ingest-report.json`. Contract: schemas/trajectories.md.
 */
import { closeSync, createWriteStream, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  AsyncByteQueue,
  Data,
  Dictionary,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  tableFromIPC,
  Uint8,
  Utf8,
  vectorFromArray,
  type DataType,
  type Vector,
  type Table,
} from 'apache-arrow';
import { InputError } from '../errors/index.ts';
import type { TransitionBatch } from './trajectoryTypes.ts';
import { TrajectoryMetadata } from './reportSchemas.ts';

export type Split = 'train' | 'test';
const BATCH_ROWS = 65_536;
export const FEEDBACK_PREFIX = 'feedback.';

function fixedList(values: Float32Array, n: number, width: number): Data {
  const child = makeData({ type: new Float32(), length: n * width, data: values, nullCount: 0 });
  return makeData({ type: new FixedSizeList(width, new Field('item', new Float32(), false)), length: n, child, nullCount: 0 });
}

function columnsOf(b: TransitionBatch, lo: number, hi: number, policyDict: Vector<Utf8> | null): [Field, Data][] {
  const n = hi - lo;
  const d = b.stateDim;
  const k = b.actionDim;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const col = (type: DataType, data: ArrayLike<number>) => makeData({ type, length: n, data, nullCount: 0 } as any) as Data;
  const cols: [Field, Data][] = [
    [new Field('session_index', new Int32(), false), col(new Int32(), b.sessionIndex.subarray(lo, hi))],
    [new Field('step', new Int32(), false), col(new Int32(), b.step.subarray(lo, hi))],
    [new Field('request_ts', new Float64(), false), col(new Float64(), b.requestTs.subarray(lo, hi))],
    [new Field('state', new FixedSizeList(d, new Field('item', new Float32(), false)), false), fixedList(b.state.subarray(lo * d, hi * d), n, d)],
    [new Field('action', new FixedSizeList(k, new Field('item', new Float32(), false)), false), fixedList(b.action.subarray(lo * k, hi * k), n, k)],
    [new Field('reward', new Float32(), false), col(new Float32(), b.reward.subarray(lo, hi))],
    [new Field('next_state', new FixedSizeList(d, new Field('item', new Float32(), false)), false), fixedList(b.nextState.subarray(lo * d, hi * d), n, d)],
    [new Field('done', new Uint8(), false), col(new Uint8(), b.done.subarray(lo, hi))],
    [new Field('truncated', new Uint8(), false), col(new Uint8(), b.truncated.subarray(lo, hi))],
    [new Field('action_logp', new Float32(), false), col(new Float32(), b.actionLogp.subarray(lo, hi))],
  ];
  if (b.policyId && policyDict) {
    // −1 (not logged) becomes a null in the dictionary column. One dictionary for all batches: the
    // Arrow file format does not allow a batch to replace it.
    const codes = b.policyId.codes.subarray(lo, hi);
    const dictValues = policyDict;
    const type = new Dictionary(new Utf8(), new Int32());
    let nulls = 0;
    const valid = new Uint8Array(Math.ceil(n / 8));
    const keys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (codes[i] < 0) nulls++;
      else {
        valid[i >> 3] |= 1 << (i & 7);
        keys[i] = codes[i];
      }
    }
    const data = makeData({ type, length: n, data: keys, nullCount: nulls, nullBitmap: nulls ? valid : null, dictionary: dictValues });
    cols.push([new Field('policy_id', type, true), data as Data]);
  }
  for (const [name, values] of Object.entries(b.feedback)) {
    cols.push([new Field(FEEDBACK_PREFIX + name, new Float32(), false), col(new Float32(), values.subarray(lo, hi))]);
  }
  return cols;
}

async function writeBatches(path: string, schema: Schema, batches: RecordBatch[]): Promise<void> {
  const writer = new RecordBatchFileWriter();
  const done = pipeline(writer.toNodeStream(), createWriteStream(path));
  try {
    writer.reset(undefined, schema);
    for (const rb of batches) writer.write(rb);
  } catch (err) {
    writer.abort();
    await done.catch(() => undefined);
    throw err;
  }
  writer.finish();
  await done;
}

function recordBatches(cols: (lo: number, hi: number) => [Field, Data][], n: number): { schema: Schema; batches: RecordBatch[] } {
  const batches: RecordBatch[] = [];
  let schema: Schema | null = null;
  for (let lo = 0; lo < n || (n === 0 && lo === 0); lo += BATCH_ROWS) {
    const hi = Math.min(n, lo + BATCH_ROWS);
    const c = cols(lo, hi);
    schema ??= new Schema(c.map(([f]) => f));
    const data = makeData({ type: new Struct(schema.fields), length: hi - lo, children: c.map(([, d]) => d), nullCount: 0 });
    batches.push(new RecordBatch(schema, data));
    if (n === 0) break;
  }
  return { schema: schema!, batches };
}

/**
 * A sink that writes each IPC message to the file as it is produced: Arrow's writer otherwise queues
 * every message until a consumer reads it, i.e. the whole split in memory again.
 */
class FileSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: ArrayBufferView | ArrayBuffer | string): void {
    const bytes = value instanceof Uint8Array ? value : typeof value === 'string' ? Buffer.from(value) : new Uint8Array(ArrayBuffer.isView(value) ? value.buffer : value);
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(this.fd, bytes, off);
  }
  override close(): void {}
}

/**
 * Writes one split from chunks of transitions (each chunk: whole sessions, numbered from the split's
 * first session), so only one chunk is in memory at a time besides the caller's rows. `policyValues`
 * is the policy_id dictionary shared by every chunk; `userOf(sessionIndex)` gives each session's user.
 */
export async function writeTransitions(
  dir: string,
  split: Split,
  chunks: Iterable<TransitionBatch>,
  policyValues: string[] | null,
  userOf: (sessionIndex: number) => string,
): Promise<void> {
  const policyDict = policyValues ? vectorFromArray(policyValues, new Utf8()) : null;
  const fd = openSync(join(dir, `${split}.arrow`), 'w');
  const sink = new FileSink(fd);
  const writer = new RecordBatchFileWriter();
  const sessionIds: string[] = [];
  const start: number[] = [];
  const length: number[] = [];
  let schema: Schema | null = null;
  try {
    for (const b of chunks) {
      const cols = columnsOf(b, 0, b.n, policyDict);
      if (!schema) {
        schema = new Schema(cols.map(([f]) => f));
        writer.reset(sink as never, schema);
      }
      const data = makeData({ type: new Struct(schema.fields), length: b.n, children: cols.map(([, d]) => d), nullCount: 0 });
      writer.write(new RecordBatch(schema, data));
      for (let i = 0; i < b.n; i++) {
        const s = b.sessionIndex[i];
        if (length[s] === undefined) {
          length[s] = 0;
          start[s] = b.requestTs[i];
        }
        length[s]++;
      }
      sessionIds.push(...b.sessionIds);
    }
    writer.finish();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // One row per session: its id, user, first request and length.
  const S = sessionIds.length;
  const sessCols = (lo: number, hi: number): [Field, Data][] => [
    [new Field('session_id', new Utf8(), false), vectorFromArray(sessionIds.slice(lo, hi), new Utf8()).data[0]],
    [new Field('user_id', new Utf8(), false), vectorFromArray(Array.from({ length: hi - lo }, (_, i) => userOf(lo + i)), new Utf8()).data[0]],
    [new Field('start_ts', new Float64(), false), makeData({ type: new Float64(), length: hi - lo, data: Float64Array.from(start.slice(lo, hi)), nullCount: 0 })],
    [new Field('length', new Int32(), false), makeData({ type: new Int32(), length: hi - lo, data: Int32Array.from(length.slice(lo, hi)), nullCount: 0 })],
  ];
  const t = recordBatches(sessCols, S);
  await writeBatches(join(dir, `${split}-sessions.arrow`), t.schema, t.batches);
}

function readTable(path: string): Table {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new InputError(`${path}: cannot read trajectory file (is this an 'mtf ingest' output directory?)`, { file: path });
  }
  try {
    return tableFromIPC(bytes);
  } catch (err) {
    throw new InputError(`${path}: not an Arrow IPC file: ${(err as Error).message}`, { file: path });
  }
}

/** A column as one contiguous typed array (zero-copy when the table has a single batch). */
function flat<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(table: Table, name: string, ctor: { new (n: number): T }, width = 1): T {
  const vec = table.getChild(name);
  if (!vec) throw new InputError(`trajectory file lacks column '${name}'`, { column: name });
  const out = new ctor(table.numRows * width);
  let p = 0;
  for (const data of vec.data) {
    // Vectors are fixed_size_list<float32>: their numbers live in the one child's buffer.
    const leaf = data.type instanceof FixedSizeList ? data.children[0] : data;
    const off = leaf === data ? data.offset : data.offset * width + leaf.offset;
    const len = data.length * width;
    out.set((leaf.values as T).subarray(off, off + len) as never, p);
    p += len;
  }
  return out;
}

export async function readTrajectories(dir: string, split: Split): Promise<{ batch: TransitionBatch; metadata: TrajectoryMetadata }> {
  let metadata: TrajectoryMetadata;
  const metaPath = join(dir, 'metadata.json');
  try {
    metadata = TrajectoryMetadata.parse(JSON.parse(readFileSync(metaPath, 'utf8')));
  } catch (err) {
    throw new InputError(`${metaPath}: missing or invalid trajectory metadata (${(err as Error).message.split('\n')[0]})`, { file: metaPath });
  }
  const t = readTable(join(dir, `${split}.arrow`));
  const sessions = readTable(join(dir, `${split}-sessions.arrow`));
  const d = metadata.state_dim;
  const k = metadata.action_dim;
  const feedback: Record<string, Float32Array> = {};
  for (const f of t.schema.fields) {
    if (f.name.startsWith(FEEDBACK_PREFIX)) feedback[f.name.slice(FEEDBACK_PREFIX.length)] = flat(t, f.name, Float32Array);
  }
  let policyId: TransitionBatch['policyId'] = null;
  const pv = t.getChild('policy_id');
  if (pv) {
    const values: string[] = [];
    const index = new Map<string, number>();
    const codes = new Int32Array(t.numRows);
    for (let i = 0; i < t.numRows; i++) {
      const v = pv.get(i) as string | null;
      if (v === null) codes[i] = -1;
      else {
        let c = index.get(v);
        if (c === undefined) index.set(v, (c = values.push(v) - 1));
        codes[i] = c;
      }
    }
    policyId = { codes, values };
  }
  const sid = sessions.getChild('session_id');
  const batch: TransitionBatch = {
    n: t.numRows,
    stateDim: d,
    actionDim: k,
    state: flat(t, 'state', Float32Array, d),
    action: flat(t, 'action', Float32Array, k),
    reward: flat(t, 'reward', Float32Array),
    nextState: flat(t, 'next_state', Float32Array, d),
    done: flat(t, 'done', Uint8Array),
    truncated: flat(t, 'truncated', Uint8Array),
    sessionIndex: flat(t, 'session_index', Int32Array),
    step: flat(t, 'step', Int32Array),
    requestTs: flat(t, 'request_ts', Float64Array),
    actionLogp: flat(t, 'action_logp', Float32Array),
    feedback,
    policyId,
    sessionIds: sid ? (sid.toArray() as string[]) : [],
  };
  return { batch, metadata };
}
