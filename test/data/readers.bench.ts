/**
 * Which parquet reader should `mtf ingest` use? Measures the three candidates:
 *
 *   duckdb        @duckdb/node-api, threads=1, `connection.stream(sql)` + `fetchChunk()` and raw vector
 *                 access (a list vector's childVector `items` + getEntryOffset/getEntryLength)
 *   parquet-wasm  arrow-rs compiled to wasm: `readParquet(bytes, {rowGroups: [i]})` → apache-arrow
 *                 `tableFromIPC(t.intoIPCStream())`, one row group at a time
 *   hyparquet     pure JS (+ hyparquet-compressors), `parquetRead({rowStart, rowEnd, onChunk})` per row group
 *
 * (a) compatibility: every fixture file under test/fixtures/logs (must-fail cases aside) read by every
 *     reader: session_id, request_ts, state and action (list, fixed-size list or wide columns), compared
 *     with the row count and per-column digests that make-fixtures.ts stored in expected.json;
 * (b) speed and peak RSS reading a generated 1,000,000-row zstd file into flat typed arrays, each reader in
 *     its own child process, 3 repetitions, medians.
 *
 *   npm run bench:readers                    # both (about 2 minutes on 2 cores; the 1M-row file is cached)
 *   npm run bench:readers -- --compat        # (a) only
 *   npm run bench:readers -- --speed --reps 1
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '..', 'fixtures', 'logs');
const READERS = ['duckdb', 'parquet-wasm', 'hyparquet'] as const;
type ReaderName = (typeof READERS)[number];

const BENCH_ROWS = 1_000_000;
const STATE_DIM = 64;
const ACTION_DIM = 8;
const BENCH_FILE = join(tmpdir(), 'batchrl-mtf-bench', `readers-1m-v1.zstd.parquet`);

type Num = number | null;
type Vec = Num[] | null;

// ───────────────────────────── (a) compatibility ─────────────────────────────

/** What a reader returned for the four key columns of one file, normalised. */
interface Extract {
  sid: (string | null)[];
  /** epoch ms */
  ts: (number | null)[];
  state: Vec[];
  action: Vec[];
}

/** Which columns make up a vector: a list column `name`, else name_0 … name_{d-1}. */
function vecColumns(names: string[], name: string): string[] {
  if (names.includes(name)) return [name];
  const wide: string[] = [];
  while (names.includes(`${name}_${wide.length}`)) wide.push(`${name}_${wide.length}`);
  if (!wide.length) throw new Error(`no ${name} column`);
  return wide;
}

// Same canonical text and digest as test/fixtures/make-fixtures.ts (fileDigest).
const canonVec = (v: Vec): string => (v === null ? 'null' : v.map((x) => (x === null ? 'null' : String(x))).join(','));
const digest = (lines: string[]): string => createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
function digestOf(e: Extract) {
  return {
    session_id: digest(e.sid.map((s) => (s === null ? 'null' : s))),
    request_ts: digest(e.ts.map((t) => (t === null ? 'null' : String(t)))),
    state: digest(e.state.map(canonVec)),
    action: digest(e.action.map(canonVec)),
  };
}

const sqlStr = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function extractDuck(file: string): Promise<Extract> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  try {
    await con.run("SET TimeZone = 'UTC'");
    const src = `read_parquet(${sqlStr(file)})`;
    const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjectsJS() as { column_name: string; column_type: string }[];
    const names = desc.map((d) => d.column_name);
    const tsType = desc.find((d) => d.column_name === 'request_ts')?.column_type ?? 'missing';
    const tsExpr = tsType.startsWith('TIMESTAMP') ? 'epoch_ms(request_ts)::DOUBLE' : /INT/.test(tsType) ? 'request_ts::DOUBLE' : null;
    if (!tsExpr) throw new Error(`request_ts is ${tsType}`);
    const vec = (name: string) => {
      const cols = vecColumns(names, name);
      return cols.length === 1 && cols[0] === name ? `"${name}"::DOUBLE[]` : `list_value(${cols.map((c) => `"${c}"`).join(', ')})::DOUBLE[]`;
    };
    const result = await con.stream(`SELECT session_id::VARCHAR, ${tsExpr}, ${vec('state')}, ${vec('action')} FROM ${src}`);
    const out: Extract = { sid: [], ts: [], state: [], action: [] };
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const sid = chunk.getColumnVector(0);
      const t = chunk.getColumnVector(1);
      for (let i = 0; i < chunk.rowCount; i++) {
        out.sid.push(sid.getItem(i) as string | null);
        out.ts.push(t.getItem(i) as number | null);
      }
      for (const [col, dst] of [
        [2, out.state],
        [3, out.action],
      ] as const) {
        const lv = chunk.getColumnVector(col) as import('@duckdb/node-api').DuckDBListVector;
        const child = lv.childVector;
        for (let i = 0; i < chunk.rowCount; i++) {
          if (lv.getItem(i) === null) {
            dst.push(null);
            continue;
          }
          const off = lv.getEntryOffset(i);
          const v: Num[] = [];
          for (let j = 0; j < lv.getEntryLength(i); j++) v.push(child.getItem(off + j) as Num);
          dst.push(v);
        }
      }
    }
    return out;
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

type ArrowMod = typeof import('apache-arrow');

/** ms from an arrow timestamp/int64 value as apache-arrow's Vector.get returns it */
function arrowTsToMs(a: ArrowMod, type: import('apache-arrow').DataType, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (a.DataType.isTimestamp(type)) {
    // apache-arrow 21 returns epoch ms as a number for every unit
    return typeof v === 'bigint' ? Number(v) : (v as number);
  }
  if (a.DataType.isInt(type)) return Number(v);
  throw new Error(`request_ts is ${type}`);
}

function arrowVec(v: unknown): Vec {
  if (v === null || v === undefined) return null;
  const out: Num[] = [];
  for (const x of v as Iterable<number | null>) out.push(x ?? null);
  return out;
}

async function extractPw(file: string): Promise<Extract> {
  const pw = await import('parquet-wasm');
  const a = await import('apache-arrow');
  const bytes = new Uint8Array(readFileSync(file));
  const names = a.tableFromIPC(pw.readSchema(bytes).intoIPCStream()).schema.fields.map((f) => f.name);
  const sCols = vecColumns(names, 'state');
  const aCols = vecColumns(names, 'action');
  const columns = ['session_id', 'request_ts', ...sCols, ...aCols];
  const pf = await pw.ParquetFile.fromFile(new Blob([bytes]));
  const groups = pf.metadata().numRowGroups();
  const out: Extract = { sid: [], ts: [], state: [], action: [] };
  for (let g = 0; g < groups; g++) {
    // parquet-wasm 0.8.0 ignores `columns` in readParquet (every column is decoded, so one unreadable
    // column fails the file); ParquetFile.read honours it but panics the wasm instance on polars Categorical.
    const t = a.tableFromIPC(pw.readParquet(bytes, { rowGroups: [g], columns }).intoIPCStream());
    const sid = t.getChild('session_id');
    const ts = t.getChild('request_ts');
    if (!sid || !ts) throw new Error('missing session_id/request_ts');
    const vecOf = (cols: string[], i: number): Vec =>
      cols.length === 1 && !/_\d+$/.test(cols[0]) ? arrowVec(t.getChild(cols[0])?.get(i)) : cols.map((c) => (t.getChild(c)?.get(i) as Num) ?? null);
    for (let i = 0; i < t.numRows; i++) {
      const s = sid.get(i);
      out.sid.push(s === null || s === undefined ? null : String(s));
      out.ts.push(arrowTsToMs(a, ts.type, ts.get(i)));
      out.state.push(vecOf(sCols, i));
      out.action.push(vecOf(aCols, i));
    }
  }
  return out;
}

const msParsers = {
  timestampFromMilliseconds: (v: bigint) => Number(v),
  timestampFromMicroseconds: (v: bigint) => Number(v / 1000n),
  timestampFromNanoseconds: (v: bigint) => Number(v / 1_000_000n),
};

async function extractHy(file: string): Promise<Extract> {
  const hp = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const md = hp.parquetMetadata(ab);
  // top-level column names: walk the flattened schema tree
  const top: string[] = [];
  for (let i = 1, stack = [md.schema[0].num_children ?? 0]; i < md.schema.length; i++) {
    const el = md.schema[i];
    if (stack.length === 1) top.push(el.name);
    stack[stack.length - 1]--;
    if (el.num_children) stack.push(el.num_children);
    while (stack.length > 1 && stack[stack.length - 1] === 0) stack.pop();
  }
  const sCols = vecColumns(top, 'state');
  const aCols = vecColumns(top, 'action');
  const rows = await hp.parquetReadObjects({ file: ab, compressors, columns: ['session_id', 'request_ts', ...sCols, ...aCols], parsers: msParsers });
  const vecOf = (r: Record<string, unknown>, cols: string[]): Vec => {
    if (cols.length === 1 && !/_\d+$/.test(cols[0])) {
      const v = r[cols[0]];
      return v === null || v === undefined ? null : Array.from(v as ArrayLike<Num>, (x) => x ?? null);
    }
    return cols.map((c) => (r[c] as Num) ?? null);
  };
  return {
    sid: rows.map((r) => (r.session_id === null || r.session_id === undefined ? null : String(r.session_id))),
    ts: rows.map((r) => (r.request_ts === null || r.request_ts === undefined ? null : Number(r.request_ts))),
    state: rows.map((r) => vecOf(r, sCols)),
    action: rows.map((r) => vecOf(r, aCols)),
  };
}

const EXTRACT: Record<ReaderName, (file: string) => Promise<Extract>> = {
  duckdb: extractDuck,
  'parquet-wasm': extractPw,
  hyparquet: extractHy,
};

interface ExpectedJson {
  expect: { ok: boolean };
  parquet_files?: Record<string, { rows: number; digest: ReturnType<typeof digestOf> }>;
}

function fixtureCases(): { name: string; files: [string, { rows: number; digest: ReturnType<typeof digestOf> }][] }[] {
  if (!existsSync(FIXTURES)) throw new Error(`no fixtures at ${FIXTURES}: run npm run fixtures`);
  return readdirSync(FIXTURES)
    .sort()
    .map((name) => ({ name, exp: JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as ExpectedJson }))
    .filter((c) => c.exp.expect.ok)
    .map((c) => ({ name: c.name, files: Object.entries(c.exp.parquet_files ?? {}) }));
}

const short = (e: unknown): string =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .replace(/\s+/g, ' ')
    .slice(0, 90);

/** child: one reader over all fixture files → JSON {case: result} */
async function compatChild(reader: ReaderName): Promise<void> {
  const res: Record<string, string> = {};
  for (const c of fixtureCases()) {
    let verdict = 'ok';
    for (const [file, want] of c.files) {
      try {
        const got = await EXTRACT[reader](join(FIXTURES, c.name, file));
        if (got.sid.length !== want.rows) throw new Error(`${got.sid.length} rows, want ${want.rows}`);
        const d = digestOf(got);
        const bad = (Object.keys(want.digest) as (keyof typeof d)[]).filter((k) => d[k] !== want.digest[k]);
        if (bad.length) throw new Error(`wrong values in ${bad.join(', ')}`);
      } catch (e) {
        verdict = `${file.split('/').pop()}: ${short(e)}`;
        break;
      }
    }
    res[c.name] = verdict;
  }
  process.stdout.write(JSON.stringify(res) + '\n');
}

// ───────────────────────────── (b) speed ─────────────────────────────

/** The flat arrays the ingest wants; every reader fills the same ones. */
interface Flat {
  sidCode: Int32Array;
  userId: BigInt64Array;
  ts: Float64Array;
  state: Float32Array;
  action: Float32Array;
  play: Float32Array;
  like: Uint8Array;
  share: Int8Array;
  sessions: number;
}

function allocFlat(n: number): Flat {
  return {
    sidCode: new Int32Array(n),
    userId: new BigInt64Array(n),
    ts: new Float64Array(n),
    state: new Float32Array(n * STATE_DIM),
    action: new Float32Array(n * ACTION_DIM),
    play: new Float32Array(n),
    like: new Uint8Array(n),
    share: new Int8Array(n),
    sessions: 0,
  };
}

/** order-independent checksum so the parent can see that all readers read the same numbers */
function checksum(f: Flat, rows: number): string {
  let s = 0;
  let t = 0;
  for (let i = 0; i < rows * STATE_DIM; i += 97) s += f.state[i];
  for (let i = 0; i < rows * ACTION_DIM; i += 13) s += f.action[i];
  for (let i = 0; i < rows; i += 7) t += f.ts[i] % 1e6 + f.play[i] + f.like[i] + f.share[i] + Number(f.userId[i] % 1000n);
  return `${f.sessions}:${s.toFixed(3)}:${t.toFixed(3)}`;
}

class Interner {
  private map = new Map<string, number>();
  code(s: string): number {
    let c = this.map.get(s);
    if (c === undefined) {
      c = this.map.size;
      this.map.set(s, c);
    }
    return c;
  }
  get size(): number {
    return this.map.size;
  }
}

const BENCH_COLS = ['session_id', 'user_id', 'request_ts', 'state', 'action', 'play_time_s', 'like', 'share'];

async function speedDuck(file: string, f: Flat): Promise<number> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  type ListVec = import('@duckdb/node-api').DuckDBListVector;
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const result = await con.stream(
    `SELECT session_id, user_id, epoch_us(request_ts)::DOUBLE / 1000, state, action, play_time_s, "like"::UTINYINT, share FROM read_parquet(${sqlStr(file)})`,
  );
  const intern = new Interner();
  const items = <T>(v: unknown) => (v as { items: T }).items; // TS-private, runtime-public
  let row = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const sid = chunk.getColumnVector(0);
    for (let i = 0; i < n; i++) f.sidCode[row + i] = intern.code(sid.getItem(i) as string);
    f.userId.set(items<BigInt64Array>(chunk.getColumnVector(1)).subarray(0, n), row);
    f.ts.set(items<Float64Array>(chunk.getColumnVector(2)).subarray(0, n), row);
    for (const [col, dim, dst] of [
      [3, STATE_DIM, f.state],
      [4, ACTION_DIM, f.action],
    ] as const) {
      const lv = chunk.getColumnVector(col) as ListVec;
      const child = items<Float32Array>(lv.childVector);
      const off0 = lv.getEntryOffset(0);
      for (let i = 0; i < n; i++)
        if (lv.getEntryLength(i) !== dim || lv.getEntryOffset(i) !== off0 + i * dim) throw new Error('list not contiguous / wrong length');
      dst.set(child.subarray(off0, off0 + n * dim), row * dim);
    }
    f.play.set(items<Float32Array>(chunk.getColumnVector(5)).subarray(0, n), row);
    f.like.set(items<Uint8Array>(chunk.getColumnVector(6)).subarray(0, n), row);
    f.share.set(items<Int8Array>(chunk.getColumnVector(7)).subarray(0, n), row);
    row += n;
  }
  f.sessions = intern.size;
  con.closeSync();
  inst.closeSync();
  return row;
}

/** copies an arrow List/FixedSizeList<Float32> column (all rows of `dim` values) into dst */
function copyArrowList(a: ArrowMod, v: import('apache-arrow').Vector, dim: number, dst: Float32Array, row: number): void {
  let r = row;
  for (const d of v.data) {
    const child = d.children[0];
    const vals = child.values as Float32Array;
    if (a.DataType.isFixedSizeList(d.type)) {
      const start = (d.offset + 0) * dim + child.offset;
      dst.set(vals.subarray(start, start + d.length * dim), r * dim);
    } else {
      const offs = d.valueOffsets as Int32Array;
      const o0 = offs[d.offset];
      for (let i = 0; i < d.length; i++) if (offs[d.offset + i + 1] - offs[d.offset + i] !== dim) throw new Error('wrong list length');
      dst.set(vals.subarray(child.offset + o0, child.offset + o0 + d.length * dim), r * dim);
    }
    r += d.length;
  }
}

async function speedPw(file: string, f: Flat): Promise<number> {
  const pw = await import('parquet-wasm');
  const a = await import('apache-arrow');
  const bytes = new Uint8Array(readFileSync(file));
  const meta = (await pw.ParquetFile.fromFile(new Blob([bytes]))).metadata();
  const groups = meta.numRowGroups();
  const intern = new Interner();
  const dec = new TextDecoder();
  let row = 0;
  for (let g = 0; g < groups; g++) {
    const t = a.tableFromIPC(pw.readParquet(bytes, { rowGroups: [g], batchSize: meta.rowGroup(g).numRows() }).intoIPCStream());
    const col = (n: string) => {
      const c = t.getChild(n);
      if (!c) throw new Error(`no ${n}`);
      return c;
    };
    let r = row;
    for (const d of col('session_id').data) {
      const offs = d.valueOffsets as Int32Array;
      const vals = d.values as Uint8Array;
      for (let i = 0; i < d.length; i++) f.sidCode[r + i] = intern.code(dec.decode(vals.subarray(offs[d.offset + i], offs[d.offset + i + 1])));
      r += d.length;
    }
    const scalar = (n: string, set: (vals: ArrayLike<unknown>, at: number, d: import('apache-arrow').Data) => void) => {
      let at = row;
      for (const d of col(n).data) {
        set(d.values as ArrayLike<unknown>, at, d);
        at += d.length;
      }
    };
    scalar('user_id', (v, at, d) => f.userId.set((v as BigInt64Array).subarray(d.offset, d.offset + d.length), at));
    scalar('request_ts', (v, at, d) => {
      const us = v as BigInt64Array; // timestamp[us]
      for (let i = 0; i < d.length; i++) f.ts[at + i] = Number(us[d.offset + i]) / 1000;
    });
    scalar('play_time_s', (v, at, d) => f.play.set((v as Float32Array).subarray(d.offset, d.offset + d.length), at));
    scalar('like', (v, at, d) => {
      const bits = v as Uint8Array;
      for (let i = 0; i < d.length; i++) f.like[at + i] = (bits[(d.offset + i) >> 3] >> ((d.offset + i) & 7)) & 1;
    });
    scalar('share', (v, at, d) => f.share.set((v as Int8Array).subarray(d.offset, d.offset + d.length), at));
    copyArrowList(a, col('state'), STATE_DIM, f.state, row);
    copyArrowList(a, col('action'), ACTION_DIM, f.action, row);
    row += t.numRows;
  }
  f.sessions = intern.size;
  return row;
}

/** timestamps as float64 epoch ms keeping µs (the bench file has sub-ms times) */
const fractionalMsParsers = {
  timestampFromMilliseconds: (v: bigint) => Number(v),
  timestampFromMicroseconds: (v: bigint) => Number(v) / 1000,
  timestampFromNanoseconds: (v: bigint) => Number(v / 1000n) / 1000,
};

async function speedHy(file: string, f: Flat): Promise<number> {
  const hp = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const src = await hp.asyncBufferFromFile(file);
  const metadata = await hp.parquetMetadataAsync(src);
  const intern = new Interner();
  let start = 0;
  for (const rg of metadata.row_groups) {
    const end = start + Number(rg.num_rows);
    await hp.parquetRead({
      file: src,
      metadata,
      compressors,
      columns: BENCH_COLS,
      rowStart: start,
      rowEnd: end,
      parsers: fractionalMsParsers,
      onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
        const lo = Math.max(rowStart, start);
        const hi = Math.min(rowEnd, end);
        const d = columnData as ArrayLike<unknown>;
        for (let r = lo; r < hi; r++) {
          const v = d[r - rowStart];
          switch (columnName) {
            case 'session_id':
              f.sidCode[r] = intern.code(v as string);
              break;
            case 'user_id':
              f.userId[r] = v as bigint;
              break;
            case 'request_ts':
              f.ts[r] = v as number;
              break;
            case 'state':
              if ((v as ArrayLike<number>).length !== STATE_DIM) throw new Error('wrong list length');
              f.state.set(v as ArrayLike<number>, r * STATE_DIM);
              break;
            case 'action':
              if ((v as ArrayLike<number>).length !== ACTION_DIM) throw new Error('wrong list length');
              f.action.set(v as ArrayLike<number>, r * ACTION_DIM);
              break;
            case 'play_time_s':
              f.play[r] = v as number;
              break;
            case 'like':
              f.like[r] = v ? 1 : 0;
              break;
            case 'share':
              f.share[r] = v as number;
              break;
          }
        }
      },
    });
    start = end;
  }
  f.sessions = intern.size;
  return start;
}

const SPEED: Record<ReaderName, (file: string, f: Flat) => Promise<number>> = { duckdb: speedDuck, 'parquet-wasm': speedPw, hyparquet: speedHy };

async function speedChild(reader: ReaderName, file: string): Promise<void> {
  const baseRss = process.memoryUsage().rss;
  const f = allocFlat(BENCH_ROWS);
  f.state.fill(0); // touch the output pages before timing, so every reader starts from the same RSS
  f.action.fill(0);
  const allocRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const rows = await SPEED[reader](file, f);
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpuSeconds = (c1.user + c1.system) / 1e6;
  if (rows !== BENCH_ROWS) throw new Error(`${reader}: ${rows} rows`);
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ rows, seconds, cpuSeconds, peakRss: peak, baseRss, allocRss, check: checksum(f, rows) }) + '\n');
}

/** the 1M-row file: ~10 requests per session; state = 48 profile dims fixed per user + 16 per request */
async function makeBenchFile(): Promise<void> {
  if (existsSync(BENCH_FILE)) return;
  mkdirSync(dirname(BENCH_FILE), { recursive: true });
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await inst.connect();
  const t0 = performance.now();
  const tmp = `${BENCH_FILE}.tmp`;
  await con.run(`SELECT setseed(0.42)`);
  await con.run(`COPY (
    WITH r AS (SELECT i, i // 10 AS s, (hash(i // 10) % 40000)::BIGINT AS u FROM range(${BENCH_ROWS}) t(i))
    SELECT 's-' || lpad(s::VARCHAR, 7, '0') AS session_id,
      1000000 + u AS user_id,
      make_timestamptz(1763596800000000 + s * 7000000 + (i % 10) * 45000000 + (hash(i) % 30000000)::BIGINT) AS request_ts,
      list_concat(
        list_transform(range(48), lambda d: round((hash(u * 64 + d) % 20001)::DOUBLE / 10000 - 1, 4)::FLOAT),
        list_transform(range(16), lambda d: round((hash(i * 16 + d) % 40001)::DOUBLE / 10000 - 2, 4)::FLOAT)) AS state,
      list_transform(range(${ACTION_DIM}), lambda d: round(0.05 + (hash(i * 8 + d + 7) % 19500)::DOUBLE / 10000, 3)::FLOAT) AS action,
      CASE WHEN hash(i + 1) % 7 = 0 THEN 0 ELSE round((hash(i + 2) % 95000)::DOUBLE / 1000, 3) END::FLOAT AS play_time_s,
      hash(i + 3) % 5 = 0 AS "like",
      (CASE WHEN hash(i + 4) % 25 = 0 THEN 1 ELSE 0 END)::TINYINT AS share
    FROM r ORDER BY i) TO ${sqlStr(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
  renameSync(tmp, BENCH_FILE);
  con.closeSync();
  inst.closeSync();
  console.log(`generated ${BENCH_FILE} (${(statSync(BENCH_FILE).size / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ───────────────────────────── orchestration ─────────────────────────────

function child(args: string[], timeoutMs: number): { ok: boolean; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** the line of a failed child's stderr that says what went wrong */
const errorLine = (err: string): string => {
  const lines = err.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^(\w*Error|RuntimeError|FATAL|Killed)/.test(l) || /Error:/.test(l)) ?? lines.pop() ?? 'failed';
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = (b: number) => (b / 1048576).toFixed(0);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child-compat') return compatChild(argv[1] as ReaderName);
  if (argv[0] === '--child-speed') return speedChild(argv[1] as ReaderName, argv[2]);

  const onlyCompat = argv.includes('--compat');
  const onlySpeed = argv.includes('--speed');
  const reps = Number(argv[argv.indexOf('--reps') + 1]) || 3;
  const readers = READERS.filter((r) => !argv.includes(`--skip-${r}`));

  if (!onlySpeed) {
    const results: Record<string, Record<string, string>> = {};
    for (const r of readers) {
      const c = child(['--child-compat', r], 300_000);
      if (!c.ok) {
        results[r] = Object.fromEntries(fixtureCases().map((x) => [x.name, `reader crashed: ${short(errorLine(c.err))}`]));
        continue;
      }
      results[r] = JSON.parse(c.out.trim().split('\n').pop() as string) as Record<string, string>;
    }
    const cases = fixtureCases().map((c) => c.name);
    console.log(`\n### Reader compatibility (${relative(process.cwd(), FIXTURES)}, must-fail cases excluded)\n`);
    console.log(`| fixture | ${readers.join(' | ')} |`);
    console.log(`|---|${readers.map(() => '---').join('|')}|`);
    for (const c of cases) console.log(`| ${c} | ${readers.map((r) => (results[r][c] === 'ok' ? 'ok' : `✗ ${results[r][c]}`)).join(' | ')} |`);
  }

  if (!onlyCompat) {
    await makeBenchFile();
    const loadAtStart = os.loadavg()[0].toFixed(1);
    const size = statSync(BENCH_FILE).size;
    const rows: string[] = [];
    const checks = new Map<string, string>();
    for (const r of readers) {
      const runs: { seconds: number; cpuSeconds: number; peakRss: number; baseRss: number; allocRss: number; check: string }[] = [];
      let failure = '';
      for (let i = 0; i < reps; i++) {
        const c = child(['--child-speed', r, BENCH_FILE], 240_000);
        if (!c.ok) {
          failure = short(errorLine(c.err));
          break;
        }
        runs.push(JSON.parse(c.out.trim().split('\n').pop() as string));
      }
      if (failure) {
        rows.push(`| ${r} | ✗ ${failure} | | | | | |`);
        continue;
      }
      checks.set(r, runs[0].check);
      const s = median(runs.map((x) => x.seconds));
      rows.push(
        `| ${r} | ${s.toFixed(2)} | ${median(runs.map((x) => x.cpuSeconds)).toFixed(2)} | ${Math.round(BENCH_ROWS / s).toLocaleString('en-US')} | ${MB(median(runs.map((x) => x.peakRss)))} | ${MB(median(runs.map((x) => x.peakRss - x.allocRss)))} | ${runs.map((x) => x.seconds.toFixed(2)).join(', ')} |`,
      );
    }
    console.log(`\n### Reading ${BENCH_ROWS.toLocaleString('en-US')} rows (${(size / 1e6).toFixed(1)} MB zstd, state f32[${STATE_DIM}], action f32[${ACTION_DIM}]) into flat typed arrays, ${reps} run(s) each, medians\n`);
    console.log('| reader | wall s | CPU s | rows/s (wall) | peak RSS MB | peak RSS above the output arrays MB | runs, wall s |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    const distinct = new Set(checks.values());
    console.log(
      `\nOutput arrays (allocated and touched before timing): ${MB(BENCH_ROWS * (4 * (STATE_DIM + ACTION_DIM) + 4 + 8 + 8 + 4 + 1 + 1))} MB. ` +
        `Checksums ${distinct.size <= 1 ? 'agree across readers' : 'DIFFER: ' + JSON.stringify(Object.fromEntries(checks))}. ` +
        `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), load average at start ${loadAtStart}; DuckDB threads=1.`,
    );
  }
}

await main();
