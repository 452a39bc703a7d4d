/**
 * Parquet log files → RowStore: one DuckDB query per file computes the null flags and casts, then a
 * tight loop over each 2048-row chunk applies the row checks and copies the numbers into the store.
 */
import { InputError, oneLine } from '../errors/index.ts';
import { describeParquet, listParts, parquetRowCount, rawItems, sqlIdent, sqlString, streamChunks, u64Words, type DuckDBConnection, type DuckDBVector } from './duckdb.ts';
import { detectLayout, type FileLayout, type VectorLayout } from './logContract.ts';
import type { LogFile } from './partitions.ts';
import { checkFeedback, checkVector, FLAG, modeLength, type RejectReason } from './rowChecks.ts';
import { RowStore } from './rowStore.ts';

export interface ReadOptions {
  feedbackNames: string[];
  /** keep only rows with request_ts in [startMs, endMs) — for files outside any dt= partition */
  rowWindow: { startMs: number; endMs: number } | null;
}

export interface ScannedFile extends LogFile {
  rows: number;
  layout: FileLayout;
}

function wrapReadError(file: string, err: unknown): never {
  if (err instanceof InputError) throw err;
  throw new InputError(`${file}: cannot read parquet: ${oneLine(err)}`, { file });
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
      out.push({ ...f, rows, layout });
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
  const t = `${v.child}[]`;
  if (v.kind === 'list') return `CAST(${sqlIdent(v.column)} AS ${t})`;
  return `CAST(list_value(${v.columns.map((c) => `CAST(${sqlIdent(c)} AS ${v.child})`).join(', ')}) AS ${t})`;
}

function tsExpr(layout: FileLayout): string {
  const c = sqlIdent(layout.requestTs.column);
  // epoch milliseconds as DOUBLE: exact to the microsecond for any date this century (< 2^53 µs).
  return layout.requestTs.type === 'timestamp' ? `(epoch_ns(${c}) / 1000000.0)` : `CAST(${c} AS DOUBLE)`;
}

export function buildSql(file: string, layout: FileLayout, opts: ReadOptions): string {
  const st = listExpr(layout.state);
  const ac = listExpr(layout.action);
  const ts = tsExpr(layout);
  const flags = [
    `CASE WHEN session_id IS NULL THEN ${FLAG.sessionNull} ELSE 0 END`,
    `CASE WHEN user_id IS NULL THEN ${FLAG.userNull} ELSE 0 END`,
    `CASE WHEN request_ts IS NULL THEN ${FLAG.tsNull} ELSE 0 END`,
    `CASE WHEN __mtf_s IS NULL OR list_count(__mtf_s) <> len(__mtf_s) THEN ${FLAG.stateNull} ELSE 0 END`,
    `CASE WHEN __mtf_a IS NULL OR list_count(__mtf_a) <> len(__mtf_a) THEN ${FLAG.actionNull} ELSE 0 END`,
  ].join(' + ');
  const fb = layout.feedback.map((f, i) => `coalesce(CAST(${sqlIdent(f.column)} AS DOUBLE), 0) AS fb${i}`);
  const fbNull = layout.feedback.length
    ? layout.feedback.map((f, i) => `CASE WHEN ${sqlIdent(f.column)} IS NULL THEN ${2 ** i} ELSE 0 END`).join(' + ')
    : '0';
  const logp = layout.actionLogp ? `coalesce(CAST(${sqlIdent(layout.actionLogp)} AS DOUBLE), 'NaN'::DOUBLE)` : `'NaN'::DOUBLE`;
  const policy = layout.policyId ? `CAST(${sqlIdent(layout.policyId)} AS VARCHAR)` : 'NULL::VARCHAR';
  const where = opts.rowWindow ? `WHERE __mtf_ts >= ${opts.rowWindow.startMs} AND __mtf_ts < ${opts.rowWindow.endMs}` : '';
  return `
    WITH src AS (
      SELECT *, ${st} AS __mtf_s, ${ac} AS __mtf_a, ${ts} AS __mtf_ts
      FROM read_parquet(${sqlString(file)}, hive_partitioning = false)
    )
    SELECT CAST(session_id AS VARCHAR) AS sid, CAST(user_id AS VARCHAR) AS uid,
           CAST(coalesce(__mtf_ts, 0) AS DOUBLE) AS ts,
           CAST(${flags} AS INTEGER) AS flags,
           coalesce(__mtf_s, []::${layout.state.child}[]) AS s, coalesce(__mtf_a, []::${layout.action.child}[]) AS a,
           CAST(${fbNull} AS INTEGER) AS fbnull, ${logp} AS logp, ${policy} AS pid
           ${fb.length ? ', ' + fb.join(', ') : ''},
           hash(session_id) AS sid_h, hash(user_id) AS uid_h, ${layout.policyId ? `hash(${sqlIdent(layout.policyId)})` : '0::UBIGINT'} AS pid_h
    FROM src ${where}`;
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
    for await (const chunk of streamChunks(conn, buildSql(f.path, f.layout, opts))) {
      const flags = rawItems(chunk.getColumnVector(3), Int32Array);
      const s = listParts(chunk.getColumnVector(4));
      const a = listParts(chunk.getColumnVector(5));
      const sl: number[] = [];
      const al: number[] = [];
      for (let i = 0; i < chunk.rowCount; i++) {
        sl.push(flags[i] & FLAG.stateNull ? -1 : s.entries[2 * i + 1]);
        al.push(flags[i] & FLAG.actionNull ? -1 : a.entries[2 * i + 1]);
      }
      return { stateDim: fileDim(f.layout.state, sl), actionDim: fileDim(f.layout.action, al) };
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
  return { stateDim: fileDim(f.layout.state, []), actionDim: fileDim(f.layout.action, []) };
}

/**
 * Interns a string column to dictionary codes, decoding a row's string only when its 64-bit hash
 * (computed by DuckDB) differs from the previous row's: logs are written session by session, so most
 * rows repeat the previous key, and decoding strings is the costliest per-row step. Two different
 * consecutive keys with equal 64-bit hashes would merge (probability ~2^-64 per key change).
 */
class KeyDecoder {
  private lo = -1;
  private hi = -1;
  private code = -1;
  constructor(private readonly intern: (s: string) => number) {}
  next(vector: DuckDBVector, words: Uint32Array, i: number): number {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    if (lo !== this.lo || hi !== this.hi) {
      const v = vector.getItem(i) as string | null;
      this.code = v === null ? -1 : this.intern(v);
      this.lo = lo;
      this.hi = hi;
    }
    return this.code;
  }
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

/** Streams one file into the store, applying the row checks. */
export async function readFileInto(conn: DuckDBConnection, f: ScannedFile, opts: ReadOptions, store: RowStore): Promise<void> {
  const F = opts.feedbackNames.length;
  const d = store.stateDim;
  const k = store.actionDim;
  if (f.layout.actionLogp) store.hasActionLogp = true;
  if (f.layout.policyId) store.hasPolicyId = true;
  const hasPolicy = f.layout.policyId !== null;
  const sessions = new KeyDecoder((v) => store.sessions.code(v));
  const users = new KeyDecoder((v) => store.users.code(v));
  const policies = new KeyDecoder((v) => store.policies.code(v));
  const { state: sDst, action: aDst, feedback: fDst } = store;
  try {
    for await (const chunk of streamChunks(conn, buildSql(f.path, f.layout, opts))) {
      const n = chunk.rowCount;
      const sid = chunk.getColumnVector(0);
      const uid = chunk.getColumnVector(1);
      const ts = rawItems(chunk.getColumnVector(2), Float64Array);
      const flags = rawItems(chunk.getColumnVector(3), Int32Array);
      const s = listParts(chunk.getColumnVector(4));
      const a = listParts(chunk.getColumnVector(5));
      const fbNull = rawItems(chunk.getColumnVector(6), Int32Array);
      const logp = rawItems(chunk.getColumnVector(7), Float64Array);
      const pid = chunk.getColumnVector(8);
      const fb: Float64Array[] = [];
      for (let c = 0; c < F; c++) fb.push(rawItems(chunk.getColumnVector(9 + c), Float64Array));
      const sidH = u64Words(chunk.getColumnVector(9 + F));
      const uidH = u64Words(chunk.getColumnVector(10 + F));
      const pidH = u64Words(chunk.getColumnVector(11 + F));
      const sv = s.values;
      const av = a.values;
      const se = s.entries;
      const ae = a.entries;

      for (let i = 0; i < n; i++) {
        const fl = flags[i];
        if (fbNull[i] !== 0) for (let c = 0; c < F; c++) if (fbNull[i] & (1 << c)) store.nullsFilled[c]++;
        const code = fl & FLAG.sessionNull ? null : sessions.next(sid, sidH, i);
        const so = se[2 * i];
        const ao = ae[2 * i];
        let reason: RejectReason | null = null;
        if (fl !== 0 && fl & (FLAG.sessionNull | FLAG.userNull | FLAG.tsNull | FLAG.stateNull)) {
          reason = fl & FLAG.sessionNull ? 'session_id_null' : fl & FLAG.userNull ? 'user_id_null' : fl & FLAG.tsNull ? 'request_ts_null' : 'state_null';
        } else {
          // Copy into the next free row and check on the way; a rejected row's slot is simply reused.
          const r = store.n;
          const sl = se[2 * i + 1];
          const sr = sl === d ? (copyFinite(sDst, r * d, sv, so, d) ? null : 'nonfinite') : checkVector(sv, so, sl, d);
          if (sr) reason = sr === 'nonfinite' ? 'state_nonfinite' : 'state_length';
          else if (fl & FLAG.actionNull) reason = 'action_null';
          else {
            const al = ae[2 * i + 1];
            const ar = al === k ? (copyFinite(aDst, r * k, av, ao, k) ? null : 'nonfinite') : checkVector(av, ao, al, k);
            if (ar) reason = ar === 'nonfinite' ? 'action_nonfinite' : 'action_length';
            else {
              for (let c = 0; c < F && reason === null; c++) reason = checkFeedback(fb[c][i]);
            }
          }
        }
        if (reason !== null) {
          store.reject(reason, code);
          continue;
        }
        const r = store.n++;
        store.session[r] = code!;
        store.user[r] = users.next(uid, uidH, i);
        store.ts[r] = ts[i];
        for (let c = 0; c < F; c++) fDst[r * F + c] = fb[c][i];
        store.actionLogp[r] = logp[i];
        store.policy[r] = hasPolicy ? policies.next(pid, pidH, i) : -1;
      }
      store.rowsRead += n;
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
}
