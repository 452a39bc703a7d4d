/**
 * A small Arrow IPC **file** writer for the trajectory files: only the types they use (int32, uint8,
 * float32, float64, fixed_size_list<float32>, utf8, dictionary<utf8> with int32 keys), no compression.
 *
 * Why not apache-arrow's RecordBatchFileWriter: every column of a record batch must then be one
 * contiguous typed array, so the rows' vectors would have to be copied once more in output order;
 * here a buffer is a list of pieces (views of the rows kept in memory, in output order) written with
 * one writev per batch, so the state vectors go from the parquet reader's buffers to the file with
 * no copy in JavaScript. It also keeps apache-arrow (≈ 0.3 s of module loading) out of `mtf ingest`.
 *
 * The metadata are flatbuffers (format/Schema.fbs, Message.fbs, File.fbs of the Arrow spec) written
 * front to back by FbWriter below; apache-arrow's reader checks every file in test/data.
 */
import { closeSync, fsync, openSync, writevSync } from 'node:fs';

// ---------------------------------------------------------------------------------------------
// Flatbuffers, written front to back: a table's vtable precedes it, children follow their parent
// (uoffsets point forward, as the format requires). Enough for Arrow's metadata.

type FbScalar = { t: 'u8'; v: number } | { t: 'i16'; v: number } | { t: 'i32'; v: number } | { t: 'i64'; v: number };
/** a vector of structs: `size` bytes each (aligned to 8), written by `write(view, pos, i)` */
interface FbStructs {
  t: 'structs';
  n: number;
  size: number;
  write: (dv: DataView, pos: number, i: number) => void;
}
type FbChild = { t: 'table'; v: FbTable } | { t: 'str'; v: string } | { t: 'tables'; v: FbTable[] } | FbStructs;
type FbField = FbScalar | FbChild | null;
/** a table: its fields by id (null = absent) */
type FbTable = FbField[];

const SIZE: Record<FbScalar['t'], number> = { u8: 1, i16: 2, i32: 4, i64: 8 };

class FbWriter {
  private buf = new Uint8Array(1024);
  private dv = new DataView(this.buf.buffer);
  private pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  private align(a: number, extra = 0): void {
    // pad so that (pos + extra) is a multiple of a
    const pad = (a - ((this.pos + extra) % a)) % a;
    this.reserve(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }
  private i64(at: number, v: number): void {
    this.dv.setUint32(at, v % 2 ** 32, true);
    this.dv.setInt32(at + 4, Math.floor(v / 2 ** 32), true);
  }

  /** The whole buffer: a root uoffset, then the root table and everything it references. */
  static encode(root: FbTable): Uint8Array {
    const w = new FbWriter();
    w.reserve(4);
    w.pos = 4;
    const t = w.table(root);
    w.dv.setUint32(0, t, true);
    return w.buf.slice(0, w.pos);
  }

  private table(fields: FbTable): number {
    let numFields = 0;
    for (let i = 0; i < fields.length; i++) if (fields[i]) numFields = i + 1;
    // Inline layout (relative to the table's 8-aligned start): the soffset, then fields by size.
    const off = new Array<number>(numFields).fill(0);
    const sizeOf = (f: FbField) => (f === null ? 0 : f.t in SIZE ? SIZE[f.t as FbScalar['t']] : 4);
    let cur = 4;
    for (const size of [8, 4, 2, 1]) {
      for (let i = 0; i < numFields; i++) {
        if (sizeOf(fields[i]) !== size) continue;
        cur = Math.ceil(cur / size) * size;
        off[i] = cur;
        cur += size;
      }
    }
    const inlineSize = cur;
    // vtable: u16 vtable bytes, u16 table bytes, u16 per field
    this.align(2);
    const vt = this.pos;
    const vtSize = 4 + 2 * numFields;
    this.reserve(vtSize);
    this.dv.setUint16(vt, vtSize, true);
    this.dv.setUint16(vt + 2, inlineSize, true);
    for (let i = 0; i < numFields; i++) this.dv.setUint16(vt + 4 + 2 * i, off[i], true);
    this.pos += vtSize;
    this.align(8);
    const tp = this.pos;
    this.reserve(inlineSize);
    this.buf.fill(0, tp, tp + inlineSize);
    this.dv.setInt32(tp, tp - vt, true);
    this.pos = tp + inlineSize;
    for (let i = 0; i < numFields; i++) {
      const f = fields[i];
      if (!f) continue;
      const at = tp + off[i];
      switch (f.t) {
        case 'u8':
          this.dv.setUint8(at, f.v);
          break;
        case 'i16':
          this.dv.setInt16(at, f.v, true);
          break;
        case 'i32':
          this.dv.setInt32(at, f.v, true);
          break;
        case 'i64':
          this.i64(at, f.v);
          break;
      }
    }
    // Children after the table, each patched into its field as a forward uoffset.
    for (let i = 0; i < numFields; i++) {
      const f = fields[i];
      if (!f || f.t in SIZE) continue;
      const child = this.child(f as FbChild);
      this.dv.setUint32(tp + off[i], child - (tp + off[i]), true);
    }
    return tp;
  }

  private child(c: FbChild): number {
    switch (c.t) {
      case 'table':
        return this.table(c.v);
      case 'str': {
        const bytes = Buffer.from(c.v, 'utf8');
        this.align(4);
        const p = this.pos;
        this.reserve(4 + bytes.length + 1);
        this.dv.setUint32(p, bytes.length, true);
        this.buf.set(bytes, p + 4);
        this.buf[p + 4 + bytes.length] = 0;
        this.pos = p + 4 + bytes.length + 1;
        return p;
      }
      case 'tables': {
        this.align(4);
        const p = this.pos;
        this.reserve(4 + 4 * c.v.length);
        this.dv.setUint32(p, c.v.length, true);
        this.pos = p + 4 + 4 * c.v.length;
        c.v.forEach((t, i) => {
          const at = p + 4 + 4 * i;
          const tp = this.table(t);
          this.dv.setUint32(at, tp - at, true);
        });
        return p;
      }
      case 'structs': {
        this.align(8, 4); // the elements (after the u32 length) are 8-aligned
        const p = this.pos;
        this.reserve(4 + c.n * c.size);
        this.buf.fill(0, p, p + 4 + c.n * c.size);
        this.dv.setUint32(p, c.n, true);
        for (let i = 0; i < c.n; i++) c.write(this.dv, p + 4 + i * c.size, i);
        this.pos = p + 4 + c.n * c.size;
        return p;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Arrow schema and messages.

export type ColumnType =
  | { kind: 'int32' }
  | { kind: 'uint8' }
  | { kind: 'float32' }
  | { kind: 'float64' }
  /** fixed_size_list<item: float32 (or `item` float64) not null>[width] */
  | { kind: 'fixedList'; width: number; item?: 'float32' | 'float64' }
  | { kind: 'utf8' }
  /** dictionary<utf8> with int32 keys; the dictionary is written once, before the first batch */
  | { kind: 'dictUtf8'; dictionary: string[] };

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable: boolean;
}

/** A column of one batch. Fixed-width values come as pieces whose bytes, concatenated, are the buffer. */
export type ColumnData =
  | { pieces: ArrayBufferView[] }
  | { offsets: Int32Array; data: Uint8Array }
  | { keys: Int32Array; validity: Uint8Array | null; nullCount: number };

const TYPE = { Int: 2, FloatingPoint: 3, Utf8: 5, FixedSizeList: 16 } as const;
const HEADER = { Schema: 1, DictionaryBatch: 2, RecordBatch: 3 } as const;
const V5 = 4;
const MAGIC = Buffer.from('ARROW1', 'latin1');

const scalar = (t: FbScalar['t'], v: number): FbScalar => ({ t, v }) as FbScalar;
const intType = (bits: number, signed: boolean): FbTable => [scalar('i32', bits), scalar('u8', signed ? 1 : 0)];

function fieldTable(c: ColumnSpec, dictId: number): FbTable {
  const name: FbField = { t: 'str', v: c.name };
  const nullable = scalar('u8', c.nullable ? 1 : 0);
  const noChildren: FbField = { t: 'tables', v: [] };
  const t = c.type;
  switch (t.kind) {
    case 'int32':
      return [name, nullable, scalar('u8', TYPE.Int), { t: 'table', v: intType(32, true) }, null, noChildren];
    case 'uint8':
      return [name, nullable, scalar('u8', TYPE.Int), { t: 'table', v: intType(8, false) }, null, noChildren];
    case 'float32':
    case 'float64':
      return [name, nullable, scalar('u8', TYPE.FloatingPoint), { t: 'table', v: [scalar('i16', t.kind === 'float32' ? 1 : 2)] }, null, noChildren];
    case 'utf8':
      return [name, nullable, scalar('u8', TYPE.Utf8), { t: 'table', v: [] }, null, noChildren];
    case 'fixedList': {
      const item = fieldTable({ name: 'item', type: { kind: t.item ?? 'float32' }, nullable: false }, -1);
      return [name, nullable, scalar('u8', TYPE.FixedSizeList), { t: 'table', v: [scalar('i32', t.width)] }, null, { t: 'tables', v: [item] }];
    }
    case 'dictUtf8': {
      // DictionaryEncoding { id, indexType: Int32, isOrdered: false, dictionaryKind: DenseArray }
      const enc: FbTable = [scalar('i64', dictId), { t: 'table', v: intType(32, true) }, scalar('u8', 0), scalar('i16', 0)];
      return [name, nullable, scalar('u8', TYPE.Utf8), { t: 'table', v: [] }, { t: 'table', v: enc }, noChildren];
    }
  }
}

function schemaTable(columns: ColumnSpec[]): FbTable {
  let dict = 0;
  return [scalar('i16', 0), { t: 'tables', v: columns.map((c) => fieldTable(c, c.type.kind === 'dictUtf8' ? dict++ : -1)) }];
}

interface Region {
  offset: number;
  length: number;
}
const nodesOf = (nodes: [number, number][]): FbStructs => ({
  t: 'structs',
  n: nodes.length,
  size: 16,
  write: (dv, p, i) => {
    dv.setUint32(p, nodes[i][0], true);
    dv.setUint32(p + 8, nodes[i][1], true);
  },
});
const regionsOf = (regions: Region[]): FbStructs => ({
  t: 'structs',
  n: regions.length,
  size: 16,
  write: (dv, p, i) => {
    dv.setUint32(p, regions[i].offset % 2 ** 32, true);
    dv.setUint32(p + 4, Math.floor(regions[i].offset / 2 ** 32), true);
    dv.setUint32(p + 8, regions[i].length % 2 ** 32, true);
    dv.setUint32(p + 12, Math.floor(regions[i].length / 2 ** 32), true);
  },
});
const recordBatchTable = (length: number, nodes: [number, number][], regions: Region[]): FbTable => [
  scalar('i64', length),
  nodesOf(nodes),
  regionsOf(regions),
];
const message = (headerType: number, header: FbTable, bodyLength: number): FbTable => [
  scalar('i16', V5),
  scalar('u8', headerType),
  { t: 'table', v: header },
  scalar('i64', bodyLength),
];

const PAD = new Uint8Array(64);
const byteLen = (pieces: ArrayBufferView[]) => pieces.reduce((s, p) => s + p.byteLength, 0);
const asBytes = (v: ArrayBufferView) => (v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));

/** A record batch body under construction: buffers (each padded to 8 bytes) and field nodes. */
class Body {
  readonly pieces: Uint8Array[] = [];
  readonly regions: Region[] = [];
  readonly nodes: [number, number][] = [];
  length = 0;
  buffer(parts: ArrayBufferView[]): void {
    const len = byteLen(parts);
    this.regions.push({ offset: this.length, length: len });
    for (const p of parts) if (p.byteLength) this.pieces.push(asBytes(p));
    const pad = (8 - (len % 8)) % 8;
    if (pad) this.pieces.push(PAD.subarray(0, pad));
    this.length += len + pad;
  }
  empty(): void {
    this.regions.push({ offset: this.length, length: 0 });
  }
}

/** Encodes a utf8 column: int32 offsets and the bytes. */
export function utf8Column(values: readonly string[]): { offsets: Int32Array; data: Uint8Array } {
  const offsets = new Int32Array(values.length + 1);
  let total = 0;
  for (let i = 0; i < values.length; i++) total += Buffer.byteLength(values[i], 'utf8');
  const data = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < values.length; i++) {
    p += data.write(values[i], p, 'utf8');
    offsets[i + 1] = p;
  }
  return { offsets, data };
}

const BYTES: Record<string, number> = { int32: 4, uint8: 1, float32: 4, float64: 8 };

/**
 * Writes one Arrow IPC file: `new ArrowFileWriter(path, columns)`, `writeBatch(n, data)` any number of
 * times, `await finish()` (footer, fsync, close) or `abort()` (close). Writes go straight to the file.
 */
export class ArrowFileWriter {
  private readonly fd: number;
  private position = 0;
  private readonly dictionaryBlocks: [number, number, number][] = [];
  private readonly batchBlocks: [number, number, number][] = [];
  private closed = false;

  constructor(
    path: string,
    private readonly columns: ColumnSpec[],
  ) {
    this.fd = openSync(path, 'w');
    try {
      this.write([MAGIC, PAD.subarray(0, 2)]);
      this.position = 8;
      this.writeMessage(HEADER.Schema, schemaTable(columns), null);
      let id = 0;
      for (const c of columns) {
        if (c.type.kind !== 'dictUtf8') continue;
        const { offsets, data } = utf8Column(c.type.dictionary);
        const body = new Body();
        const n = c.type.dictionary.length;
        body.nodes.push([n, 0]);
        body.empty();
        body.buffer([offsets]);
        body.buffer([data]);
        this.writeMessage(HEADER.DictionaryBatch, [scalar('i64', id++), { t: 'table', v: recordBatchTable(n, body.nodes, body.regions) }, scalar('u8', 0)], body);
      }
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  private write(pieces: Uint8Array[]): void {
    let total = 0;
    for (const p of pieces) total += p.byteLength;
    let written = writevSync(this.fd, pieces);
    // writev may write less than asked (never seen on regular files); continue with what is left.
    while (written < total) {
      let skip = written;
      const rest: Uint8Array[] = [];
      for (const p of pieces) {
        if (skip >= p.byteLength) skip -= p.byteLength;
        else {
          rest.push(skip ? p.subarray(skip) : p);
          skip = 0;
        }
      }
      total -= written;
      pieces = rest;
      written = writevSync(this.fd, pieces);
    }
  }

  /** Continuation marker, metadata length, flatbuffer, padding to 8, then the body: one writev. */
  private writeMessage(headerType: number, header: FbTable, body: Body | null): void {
    const fb = FbWriter.encode(message(headerType, header, body ? body.length : 0));
    const metaLen = Math.ceil((fb.length + 8) / 8) * 8;
    const prefix = new Uint8Array(8);
    const dv = new DataView(prefix.buffer);
    dv.setUint32(0, 0xffffffff, true);
    dv.setInt32(4, metaLen - 8, true);
    const pieces = [prefix, fb];
    if (metaLen - 8 - fb.length) pieces.push(PAD.subarray(0, metaLen - 8 - fb.length));
    if (body) pieces.push(...body.pieces);
    const start = this.position;
    const bodyLen = body ? body.length : 0;
    if (headerType === HEADER.RecordBatch) this.batchBlocks.push([start, metaLen, bodyLen]);
    if (headerType === HEADER.DictionaryBatch) this.dictionaryBlocks.push([start, metaLen, bodyLen]);
    this.write(pieces);
    this.position = start + metaLen + bodyLen;
  }

  /** One record batch of n rows; `data[i]` belongs to column i. */
  writeBatch(n: number, data: ColumnData[]): void {
    const body = new Body();
    this.columns.forEach((c, i) => {
      const d = data[i];
      const t = c.type;
      switch (t.kind) {
        case 'int32':
        case 'uint8':
        case 'float32':
        case 'float64': {
          const pieces = (d as { pieces: ArrayBufferView[] }).pieces;
          if (byteLen(pieces) !== n * BYTES[t.kind]) throw new Error(`internal: column ${c.name} has ${byteLen(pieces)} bytes for ${n} rows`);
          body.nodes.push([n, 0]);
          body.empty();
          body.buffer(pieces);
          break;
        }
        case 'fixedList': {
          const pieces = (d as { pieces: ArrayBufferView[] }).pieces;
          if (byteLen(pieces) !== n * t.width * BYTES[t.item ?? 'float32']) throw new Error(`internal: column ${c.name} has ${byteLen(pieces)} bytes for ${n} rows`);
          body.nodes.push([n, 0], [n * t.width, 0]);
          body.empty();
          body.empty();
          body.buffer(pieces);
          break;
        }
        case 'utf8': {
          const { offsets, data: bytes } = d as { offsets: Int32Array; data: Uint8Array };
          body.nodes.push([n, 0]);
          body.empty();
          body.buffer([offsets]);
          body.buffer([bytes]);
          break;
        }
        case 'dictUtf8': {
          const { keys, validity, nullCount } = d as { keys: Int32Array; validity: Uint8Array | null; nullCount: number };
          body.nodes.push([n, nullCount]);
          if (nullCount) body.buffer([validity!.subarray(0, Math.ceil(n / 8))]);
          else body.empty();
          body.buffer([keys.subarray(0, n)]);
          break;
        }
      }
    });
    this.writeMessage(HEADER.RecordBatch, recordBatchTable(n, body.nodes, body.regions), body);
  }

  /**
   * End of stream, footer (schema and block index), magic; then fsync (on libuv's thread pool, so the
   * caller can go on writing other files meanwhile) and close. The file is durable when the promise
   * resolves.
   */
  finish(): Promise<void> {
    const blocks = (b: [number, number, number][]): FbStructs => ({
      t: 'structs',
      n: b.length,
      size: 24,
      write: (dv, p, i) => {
        const [offset, meta, body] = b[i];
        dv.setUint32(p, offset % 2 ** 32, true);
        dv.setUint32(p + 4, Math.floor(offset / 2 ** 32), true);
        dv.setInt32(p + 8, meta, true);
        dv.setUint32(p + 16, body % 2 ** 32, true);
        dv.setUint32(p + 20, Math.floor(body / 2 ** 32), true);
      },
    });
    const footer = FbWriter.encode([scalar('i16', V5), { t: 'table', v: schemaTable(this.columns) }, blocks(this.dictionaryBlocks), blocks(this.batchBlocks)]);
    const tail = new Uint8Array(8 + footer.length + 4 + 6);
    const dv = new DataView(tail.buffer);
    dv.setUint32(0, 0xffffffff, true);
    dv.setInt32(4, 0, true);
    tail.set(footer, 8);
    dv.setInt32(8 + footer.length, footer.length, true);
    tail.set(MAGIC, 8 + footer.length + 4);
    try {
      this.write([tail]);
    } catch (err) {
      this.abort();
      throw err;
    }
    return new Promise((resolve, reject) =>
      fsync(this.fd, (err) => {
        this.abort();
        if (err) reject(err);
        else resolve();
      }),
    );
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
