/**
 * Parquet log files → RowStore: one DuckDB query per file computes the null flags and casts, then a
 * tight loop over each 2048-row chunk applies the row checks and copies the numbers into the store.
 */
import { InputError, oneLine } from '../errors/index.ts';
import { describeParquet, listParts, parquetRowCount, rawItems, sqlIdent, sqlString, streamChunks, type DuckDBConnection } from './duckdb.ts';
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
      out.push({ ...f, rows, layout });
    } catch (err) {
      wrapReadError(f.path, err);
    }
  }
  return out;
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

function buildSql(file: string, layout: FileLayout, opts: ReadOptions): string {
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
           ${fb.length ? ', ' + fb.join(', ') : ''}
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
        sl.push(flags[i] & FLAG.stateNull ? -1 : s.length(i));
        al.push(flags[i] & FLAG.actionNull ? -1 : a.length(i));
      }
      return { stateDim: fileDim(f.layout.state, sl), actionDim: fileDim(f.layout.action, al) };
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
  return { stateDim: fileDim(f.layout.state, []), actionDim: fileDim(f.layout.action, []) };
}

/** dst[di … di+len) = src[si … si+len), converting float64 to float32 where needed. */
function copyInto(dst: Float32Array, di: number, src: Float32Array | Float64Array, si: number, len: number): void {
  // A plain loop beats TypedArray.set(subarray(…)) for short vectors: no view object per row.
  for (let j = 0; j < len; j++) dst[di + j] = src[si + j];
}

/** Streams one file into the store, applying the row checks. */
export async function readFileInto(conn: DuckDBConnection, f: ScannedFile, opts: ReadOptions, store: RowStore): Promise<void> {
  const F = opts.feedbackNames.length;
  const d = store.stateDim;
  const k = store.actionDim;
  if (f.layout.actionLogp) store.hasActionLogp = true;
  if (f.layout.policyId) store.hasPolicyId = true;
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
      const hasPolicy = f.layout.policyId !== null;
      const fb: Float64Array[] = [];
      for (let c = 0; c < F; c++) fb.push(rawItems(chunk.getColumnVector(9 + c), Float64Array));

      let lastSid: string | null = null;
      let lastCode = -1;
      let lastUid: string | null = null;
      let lastUser = -1;
      for (let i = 0; i < n; i++) {
        store.rowsRead++;
        const fl = flags[i];
        if (fbNull[i] !== 0) for (let c = 0; c < F; c++) if (fbNull[i] & (1 << c)) store.nullsFilled[c]++;
        let code: number | null = null;
        if (!(fl & FLAG.sessionNull)) {
          // Logs are usually written session by session: consecutive rows share the key.
          const sKey = sid.getItem(i) as string;
          if (sKey !== lastSid) {
            lastSid = sKey;
            lastCode = store.sessions.code(sKey);
          }
          code = lastCode;
        }
        const so = s.offset(i);
        const ao = a.offset(i);
        let reason: RejectReason | null = null;
        if (fl & FLAG.sessionNull) reason = 'session_id_null';
        else if (fl & FLAG.userNull) reason = 'user_id_null';
        else if (fl & FLAG.tsNull) reason = 'request_ts_null';
        else if (fl & FLAG.stateNull) reason = 'state_null';
        else {
          const sr = checkVector(s.values, so, s.length(i), d);
          if (sr) reason = sr === 'nonfinite' ? 'state_nonfinite' : 'state_length';
          else if (fl & FLAG.actionNull) reason = 'action_null';
          else {
            const ar = checkVector(a.values, ao, a.length(i), k);
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
        const uKey = uid.getItem(i) as string;
        if (uKey !== lastUid) {
          lastUid = uKey;
          lastUser = store.users.code(uKey);
        }
        store.user[r] = lastUser;
        store.ts[r] = ts[i];
        copyInto(store.state, r * d, s.values, so, d);
        copyInto(store.action, r * k, a.values, ao, k);
        for (let c = 0; c < F; c++) store.feedback[r * F + c] = fb[c][i];
        store.actionLogp[r] = logp[i];
        if (hasPolicy) {
          const p = pid.getItem(i) as string | null;
          store.policy[r] = p === null ? -1 : store.policies.code(p);
        } else store.policy[r] = -1;
      }
    }
  } catch (err) {
    wrapReadError(f.path, err);
  }
}
