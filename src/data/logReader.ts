/**
 * Parquet log files → RowStore: one DuckDB query per file computes the null flags and casts, then a
 * tight loop over each 2048-row chunk applies the row checks; clean chunks hand their vectors over
 * as they are, others are copied row by row.
 */
import { InputError } from '../errors/index.ts';
import { allValid, describeParquet, describeParquetError, openDuckDB, i64Items, listView, parquetRowCount, rawItems, sqlIdent, sqlString, streamChunks, u64Words, validityWords, type DuckDBConnection, type DuckDBVector } from './duckdb.ts';
import { readFooterBeta } from './fusionBeta.ts';
import { countItemColumns, ITEM_ERRORS, itemReason, itemSql } from './itemColumns.ts';
import { detectLayout, type FileLayout, type VectorLayout } from './logContract.ts';
import type { LogFile } from './partitions.ts';
import { checkFeedback, checkVector, FLAG, modeLength, type RejectReason } from './rowChecks.ts';
import { allFinite, RowStore, type Dictionary } from './rowStore.ts';

export interface ReadOptions {
  feedbackNames: string[];
  /** keep only rows with request_ts in [startMs, endMs) — for files outside any dt= partition */
  rowWindow: { startMs: number; endMs: number } | null;
}

export interface ScannedFile extends LogFile {
  rows: number;
  layout: FileLayout;
  /** β of Eq. (1) from the footer key `mtf.beta` (src/data/fusionBeta.ts); null: none (absent in shards written before it) */
  beta?: number[] | null;
}

function wrapReadError(file: string, err: unknown): never {
  if (err instanceof InputError) throw err;
  if (err instanceof Error && err.message.startsWith('internal:')) throw err; // our bug, not the file's
  throw new InputError(`${file}: ${describeParquetError(file, err)}`, { file });
}

/** First pass: every file's columns (checked against the contract) and row count from the footer. */
export async function scanFiles(conn: DuckDBConnection, files: LogFile[], opts: ReadOptions): Promise<ScannedFile[]> {
  const out: ScannedFile[] = [];
  for (const f of files) {
    try {
      const columns = await describeParquet(conn, f.path);
      const layout = detectLayout(f.path, columns, opts.feedbackNames);
      const rows = await parquetRowCount(conn, f.path);
      if (layout.requestTs.type === 'epoch_ms_int64') await checkEpochMs(conn, f.path);
      out.push({ ...f, rows, layout, beta: await readFooterBeta(conn, f.path) });
    } catch (err) {
      wrapReadError(f.path, err);
    }
  }
  return out;
}

/**
 * An integer request_ts must be epoch milliseconds. Seconds or microseconds (e.g. arrow-rs writes a
 * timestamp[s] as a plain int64, its unit only in the ARROW:schema metadata) would silently put every
 * request in 1970 or in the far future, so values outside 1973 … 5138 are refused.
 */
async function checkEpochMs(conn: DuckDBConnection, file: string): Promise<void> {
  const r = await conn.runAndReadAll(
    `SELECT min(request_ts)::DOUBLE AS lo, max(request_ts)::DOUBLE AS hi FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
  );
  const { lo, hi } = r.getRowObjectsJS()[0] as { lo: number | null; hi: number | null };
  if (lo === null || hi === null) return;
  if (lo < 1e11 || hi > 1e14) {
    const hint = hi < 1e11 ? 'they look like epoch seconds' : lo > 1e14 ? 'they look like epoch microseconds or nanoseconds' : 'they are out of range';
    throw new InputError(
      `${file}: column 'request_ts' is an integer, read as epoch milliseconds, but its values span ${lo} … ${hi}: ${hint}; write a timestamp type or epoch milliseconds`,
      { file, column: 'request_ts' },
    );
  }
}

function listExpr(v: VectorLayout): string {
  // A list column is passed through as DuckDB reads it (FLOAT[] stays a view of the decoded
  // values; float64 lists are converted in JS); arrays (FLOAT[64]) and wide columns become lists.
  if (v.kind === 'list') return v.fixedSize === null ? sqlIdent(v.column) : `CAST(${sqlIdent(v.column)} AS ${v.child}[])`;
  return `CAST(list_value(${v.columns.map((c) => `CAST(${sqlIdent(c)} AS ${v.child})`).join(', ')}) AS ${v.child}[])`;
}

function tsExpr(layout: FileLayout): string {
  const c = sqlIdent(layout.requestTs.column);
  // epoch milliseconds as DOUBLE: exact to the microsecond for any date this century (< 2^53 µs).
  return layout.requestTs.type === 'timestamp' ? `(epoch_ns(${c}) / 1000000.0)` : `CAST(${c} AS DOUBLE)`;
}

/** Integer key types that fit a BIGINT: read as numbers (no string per row in DuckDB), named by their decimal text. */
const BIGINT_KEYS = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER']);

/** A key column: as BIGINT (its own bits tell a change) or as VARCHAR with DuckDB's 64-bit hash. */
function keyExprs(layout: FileLayout, column: string): { value: string; change: string; int: boolean } {
  const c = sqlIdent(column);
  if (BIGINT_KEYS.has(layout.keyTypes[column] ?? '')) return { value: `CAST(${c} AS BIGINT)`, change: `CAST(${c} AS BIGINT)`, int: true };
  return { value: `CAST(${c} AS VARCHAR)`, change: `hash(${c})`, int: false };
}

/** The per-file query and where its columns are. */
export interface FileQuery {
  sql: string;
  /** integer keys come as BIGINT (else VARCHAR) */
  intKeys: { session: boolean; user: boolean; policy: boolean };
}

/**
 * Columns: 0 sid, 1 uid, 2 ts, 3 flags, 4 s, 5 a, 6 fbnull, 7 logp, 8 pid, 9 … 9+F−1 feedback,
 * 9+F sid change key, 10+F uid change key, 11+F pid change key; only in a file with item columns
 * (src/data/itemColumns.ts): 12+F item flags, 13+F task_scores length.
 */
export function buildSql(file: string, layout: FileLayout, opts: ReadOptions): FileQuery {
  const st = listExpr(layout.state);
  const ac = listExpr(layout.action);
  const ts = tsExpr(layout);
  // Null elements inside a list are seen from the child vector's validity in JS (cheaper than list_count).
  const flags = [
    `CASE WHEN session_id IS NULL THEN ${FLAG.sessionNull} ELSE 0 END`,
    `CASE WHEN user_id IS NULL THEN ${FLAG.userNull} ELSE 0 END`,
    `CASE WHEN request_ts IS NULL THEN ${FLAG.tsNull} ELSE 0 END`,
    `CASE WHEN __mtf_s IS NULL THEN ${FLAG.stateNull} ELSE 0 END`,
    `CASE WHEN __mtf_a IS NULL THEN ${FLAG.actionNull} ELSE 0 END`,
  ].join(' + ');
  const fb = layout.feedback.map((f, i) => `coalesce(CAST(${sqlIdent(f.column)} AS DOUBLE), 0) AS fb${i}`);
  const fbNull = layout.feedback.length
    ? layout.feedback.map((f, i) => `CASE WHEN ${sqlIdent(f.column)} IS NULL THEN ${2 ** i} ELSE 0 END`).join(' + ')
    : '0';
  const logp = layout.actionLogp ? `coalesce(CAST(${sqlIdent(layout.actionLogp)} AS DOUBLE), 'NaN'::DOUBLE)` : `'NaN'::DOUBLE`;
  const sid = keyExprs(layout, layout.sessionId.column);
  const uid = keyExprs(layout, layout.userId.column);
  const pid = layout.policyId ? keyExprs(layout, layout.policyId) : { value: 'NULL::VARCHAR', change: '0::UBIGINT', int: false };
  const where = opts.rowWindow ? `WHERE __mtf_ts >= ${opts.rowWindow.startMs} AND __mtf_ts < ${opts.rowWindow.endMs}` : '';
  const item = layout.item ? itemSql(layout.item) : null;
  const sql = `
    WITH src AS (
      SELECT *, ${st} AS __mtf_s, ${ac} AS __mtf_a, ${ts} AS __mtf_ts
      FROM read_parquet(${sqlString(file)}, hive_partitioning = false)
    )
    SELECT ${sid.value} AS sid, ${uid.value} AS uid,
           CAST(coalesce(__mtf_ts, 0) AS DOUBLE) AS ts,
           CAST(${flags} AS INTEGER) AS flags,
           __mtf_s AS s, __mtf_a AS a,
           CAST(${fbNull} AS INTEGER) AS fbnull, ${logp} AS logp, ${pid.value} AS pid
           ${fb.length ? ', ' + fb.join(', ') : ''},
           ${sid.int ? '0::UBIGINT' : sid.change} AS sid_h, ${uid.int ? '0::UBIGINT' : uid.change} AS uid_h, ${pid.int ? '0::UBIGINT' : pid.change} AS pid_h
           ${item ? `, ${item.flags} AS iflags, ${item.len} AS tslen` : ''}
    FROM src ${where}`;
  return { sql, intKeys: { session: sid.int, user: uid.int, policy: pid.int } };
}

/** The dim of a vector in one file: the fixed size, the wide column count, or the commonest list length. */
function fileDim(v: VectorLayout, lengths: number[]): number {
  if (v.kind === 'wide') return v.columns.length;
  if (v.fixedSize !== null) return v.fixedSize;
  return modeLength(lengths);
}

/** Reads the dims of state and action from a file's first chunk. */
export async function probeDims(conn: DuckDBConnection, f: ScannedFile, opts: ReadOptions): Promise<{ stateDim: number; actionDim: number }> {
  try {
    for await (const chunk of streamChunks(conn, buildSql(f.path, f.layout, opts).sql)) {
      const flags = rawItems(chunk.getColumnVector(3), Int32Array);
      const s = listView(chunk.getColumnVector(4));
      const a = listView(chunk.getColumnVector(5));
      const sl: number[] = [];
      const al: number[] = [];
      for (let i = 0; i < chunk.rowCount; i++) {
        sl.push(flags[i] & FLAG.stateNull ? -1 : s.words[4 * i + 2]);
        al.push(flags[i] & FLAG.actionNull ? -1 : a.words[4 * i + 2]);
      }
      return { stateDim: fileDim(f.layout.state, sl), actionDim: fileDim(f.layout.action, al) };
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
  return { stateDim: fileDim(f.layout.state, []), actionDim: fileDim(f.layout.action, []) };
}

/**
 * Interns a key column to dictionary codes, decoding a row's key only when its change key (DuckDB's
 * 64-bit hash of a string key, or an integer key's own bits) differs from the previous row's: logs
 * are written session by session, so most rows repeat the previous key, and decoding strings is the
 * costliest per-row step. Two different consecutive string keys with equal 64-bit hashes would merge
 * (probability ~2^-64 per key change).
 */
class KeyDecoder {
  private lo = -1;
  private hi = -1;
  private code = -1;
  constructor(private readonly dictionary: Dictionary) {}
  next(key: KeyColumn, i: number): number {
    // An integer key's bits are undefined where it is null: its validity decides first.
    if (key.valid !== null && ((key.valid[i >>> 5] >>> (i & 31)) & 1) === 0) {
      this.lo = this.hi = -1;
      return (this.code = -1);
    }
    const lo = key.words[2 * i];
    const hi = key.words[2 * i + 1];
    if (lo !== this.lo || hi !== this.hi) {
      this.code = this.dictionary.codeOf(key.int, lo, hi, key, i);
      this.lo = lo;
      this.hi = hi;
    }
    return this.code;
  }
}

/** One chunk's key column: its change words, validity (integer keys) and decoder. */
interface KeyColumn {
  /** an integer key (words = its value) rather than a string (words = DuckDB's hash of it) */
  int: boolean;
  /** (lo, hi) uint32 words per row: a string key's 64-bit hash, an integer key's own bits */
  words: Uint32Array;
  /** validity of an integer key (null: all valid, or a string key, whose hash tells nulls apart) */
  valid: Uint32Array | null;
  /** row i's key as text (integers in decimal, as CAST(… AS VARCHAR) writes them), null when null */
  decode: (i: number) => string | null;
}

function keyColumn(vector: DuckDBVector, change: DuckDBVector, int: boolean): KeyColumn {
  if (int) {
    const items = i64Items(vector);
    return { int: true, words: u64Words(vector), valid: validityWords(vector), decode: (i) => String(items[i]) };
  }
  return { int: false, words: u64Words(change), valid: null, decode: (i) => vector.getItem(i) as string | null };
}

/**
 * dst[di … di+len) = float32(src[si … si+len)), returning whether every element is finite in float32
 * (a float64 beyond float32's range becomes ±Inf, so it fails too). Branch-free: x·0 is 0 for finite x
 * and NaN for NaN or ±Inf, so one sum tells. A plain loop beats TypedArray.set(subarray(…)) here.
 */
function copyFinite(dst: Float32Array, di: number, src: Float32Array | Float64Array, si: number, len: number): boolean {
  let acc = 0;
  for (let j = 0; j < len; j++) {
    const x = Math.fround(src[si + j]);
    dst[di + j] = x;
    acc += x * 0;
  }
  return acc === 0;
}

/**
 * Streams one file into the store, applying the row checks. A chunk whose rows are all clean —
 * no nulls, every vector of the file's dims and laid out back to back, float32, finite, feedback
 * valid — is taken as it is: its state and action buffers (the reader's own copy of DuckDB's
 * vectors) become a segment of the store without being copied. Any other chunk is checked row by
 * row and its accepted rows' vectors copied into a new segment.
 */
export async function readFileInto(conn: DuckDBConnection, f: ScannedFile, opts: ReadOptions, store: RowStore): Promise<void> {
  const F = opts.feedbackNames.length;
  const d = store.stateDim;
  const k = store.actionDim;
  if (f.layout.actionLogp) store.hasActionLogp = true;
  if (f.layout.policyId) store.hasPolicyId = true;
  const hasPolicy = f.layout.policyId !== null;
  // absent in the layouts of shards written before the item columns
  const hasItem = (f.layout.item ?? null) !== null;
  const sessions = new KeyDecoder(store.sessions);
  const users = new KeyDecoder(store.users);
  const policies = new KeyDecoder(store.policies);
  const query = buildSql(f.path, f.layout, opts);
  try {
    for await (const chunk of streamChunks(conn, query.sql)) {
      const n = chunk.rowCount;
      const sid = keyColumn(chunk.getColumnVector(0), chunk.getColumnVector(9 + F), query.intKeys.session);
      const uid = keyColumn(chunk.getColumnVector(1), chunk.getColumnVector(10 + F), query.intKeys.user);
      const ts = rawItems(chunk.getColumnVector(2), Float64Array);
      const flags = rawItems(chunk.getColumnVector(3), Int32Array);
      const s = listView(chunk.getColumnVector(4));
      const a = listView(chunk.getColumnVector(5));
      const fbNull = rawItems(chunk.getColumnVector(6), Int32Array);
      const logp = rawItems(chunk.getColumnVector(7), Float64Array);
      const pid = hasPolicy ? keyColumn(chunk.getColumnVector(8), chunk.getColumnVector(11 + F), query.intKeys.policy) : null;
      const fb: Float64Array[] = [];
      for (let c = 0; c < F; c++) fb.push(rawItems(chunk.getColumnVector(9 + c), Float64Array));
      const iflags = hasItem ? rawItems(chunk.getColumnVector(12 + F), Int32Array) : null;
      const tslen = hasItem ? rawItems(chunk.getColumnVector(13 + F), Int32Array) : null;
      if (iflags) countItemColumns(iflags, n, store.itemRows);
      const sw = s.words;
      const aw = a.words;

      // Is the chunk clean (see above)? Nulls filled are counted on every row read.
      let clean = s.values instanceof Float32Array && a.values instanceof Float32Array;
      const s0 = sw[0];
      const a0 = aw[0];
      for (let i = 0; i < n; i++) {
        const fn = fbNull[i];
        if (fn !== 0) for (let c = 0; c < F; c++) if (fn & (1 << c)) store.nullsFilled[c]++;
        if (
          flags[i] !== 0 ||
          sw[4 * i] !== s0 + i * d ||
          sw[4 * i + 2] !== d ||
          aw[4 * i] !== a0 + i * k ||
          aw[4 * i + 2] !== k
        ) {
          clean = false;
        }
        for (let c = 0; c < F; c++) {
          const v = fb[c][i];
          if (!(v >= 0 && v - v === 0)) clean = false;
        }
        if (iflags && ((iflags[i] & ITEM_ERRORS) !== 0 || (tslen![i] >= 0 && tslen![i] !== k))) clean = false;
      }
      clean &&= allValid(s.childValid, s0, n * d) && allValid(a.childValid, a0, n * k);
      // Kept by reference when the buffer holds just these rows, else copied: memory holds the rows kept.
      const own = (x: Float32Array | Float64Array, from: number, len: number) =>
        x.length === len ? (x as Float32Array).subarray(from, from + len) : (x as Float32Array).slice(from, from + len);
      const sv = clean ? own(s.values, s0, n * d) : null;
      const av = clean ? own(a.values, a0, n * k) : null;
      if (sv && av && allFinite(sv) && allFinite(av)) {
        for (let i = 0; i < n; i++) {
          const r = store.n++;
          store.session[r] = sessions.next(sid, i);
          store.user[r] = users.next(uid, i);
          store.ts[r] = ts[i];
          for (let c = 0; c < F; c++) store.feedback[r * F + c] = fb[c][i];
          store.actionLogp[r] = logp[i];
          store.policy[r] = pid ? policies.next(pid, i) : -1;
        }
        store.addSegment(sv, av);
        store.rowsRead += n;
        continue;
      }

      // Row by row, in the order of the reasons (schemas/interaction-log.md, "Row checks").
      const sDst = new Float32Array(n * d);
      const aDst = new Float32Array(n * k);
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const fl = flags[i];
        const code = fl & FLAG.sessionNull ? null : sessions.next(sid, i);
        const so = sw[4 * i];
        const ao = aw[4 * i];
        const sl = sw[4 * i + 2];
        const al = aw[4 * i + 2];
        let reason: RejectReason | null = null;
        if (fl & (FLAG.sessionNull | FLAG.userNull | FLAG.tsNull | FLAG.stateNull) || !allValid(s.childValid, so, sl)) {
          reason = fl & FLAG.sessionNull ? 'session_id_null' : fl & FLAG.userNull ? 'user_id_null' : fl & FLAG.tsNull ? 'request_ts_null' : 'state_null';
        } else {
          const sr = sl === d ? (copyFinite(sDst, kept * d, s.values, so, d) ? null : 'nonfinite') : checkVector(s.values, so, sl, d);
          if (sr) reason = sr === 'nonfinite' ? 'state_nonfinite' : 'state_length';
          else if (fl & FLAG.actionNull || !allValid(a.childValid, ao, al)) reason = 'action_null';
          else {
            const ar = al === k ? (copyFinite(aDst, kept * k, a.values, ao, k) ? null : 'nonfinite') : checkVector(a.values, ao, al, k);
            if (ar) reason = ar === 'nonfinite' ? 'action_nonfinite' : 'action_length';
            else {
              for (let c = 0; c < F && reason === null; c++) reason = checkFeedback(fb[c][i]);
              if (reason === null && iflags) reason = itemReason(iflags[i], tslen![i], k);
            }
          }
        }
        if (reason !== null) {
          store.reject(reason, code);
          continue;
        }
        kept++;
        const r = store.n++;
        store.session[r] = code!;
        store.user[r] = users.next(uid, i);
        store.ts[r] = ts[i];
        for (let c = 0; c < F; c++) store.feedback[r * F + c] = fb[c][i];
        store.actionLogp[r] = logp[i];
        store.policy[r] = pid ? policies.next(pid, i) : -1;
      }
      store.addSegment(kept === n ? sDst : sDst.slice(0, kept * d), kept === n ? aDst : aDst.slice(0, kept * k));
      store.rowsRead += n;
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
}

/**
 * Files → one RowStore of the rows that pass the row checks, in one DuckDB instance: every file's
 * columns checked against the contract, state/action dims probed (they come from the data and must
 * agree across files), the store sized once from the footers. `hasRows` false: no file holds a row
 * (the store is empty, dims 0). Used by the single-process ingest and by each ingest shard.
 */
export async function readLogFiles(
  files: LogFile[],
  readOpts: (dt: string | null) => ReadOptions,
  o: { threads: number; onScanned?: () => void; onProgress?: (line: string) => void },
): Promise<{ store: RowStore; scanned: ScannedFile[]; hasRows: boolean }> {
  const db = await openDuckDB(o.threads);
  try {
    const scanned = await scanFiles(db.conn, files, readOpts(null));
    let dims: { stateDim: number; actionDim: number; file: string } | null = null;
    for (const f of scanned) {
      if (f.rows === 0) continue;
      const d = await probeDims(db.conn, f, readOpts(f.dt));
      if (d.stateDim <= 0 || d.actionDim <= 0) continue;
      if (!dims) dims = { ...d, file: f.path };
      else checkDims(d, dims, f.path);
    }
    o.onScanned?.();
    const capacity = scanned.reduce((s, f) => s + f.rows, 0);
    const store = new RowStore(capacity, dims?.stateDim ?? 0, dims?.actionDim ?? 0, readOpts(null).feedbackNames);
    if (dims) {
      for (const f of scanned) {
        await readFileInto(db.conn, f, readOpts(f.dt), store);
        o.onProgress?.(`read ${f.path} (${f.rows} rows)`);
      }
    }
    return { store, scanned, hasRows: dims !== null };
  } finally {
    db.close();
  }
}

/** State and action dims of `file` must equal those found first (in `was.file`). */
export function checkDims(d: { stateDim: number; actionDim: number }, was: { stateDim: number; actionDim: number; file: string }, file: string): void {
  if (d.stateDim === was.stateDim && d.actionDim === was.actionDim) return;
  const state = d.stateDim !== was.stateDim;
  throw new InputError(`${file}: ${state ? `state dim ${d.stateDim}` : `action dim ${d.actionDim}`} differs from ${state ? was.stateDim : was.actionDim} in ${was.file}`, {
    file,
    column: state ? 'state' : 'action',
  });
}
