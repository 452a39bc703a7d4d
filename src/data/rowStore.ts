/**
 * The rows that passed the row checks (read order), plus the counters of the ingest report. Scalars
 * live in flat typed arrays sized once from the files' parquet metadata; the state and action vectors
 * live in segments — one per chunk the reader handed over, usually the reader's own Float32 buffer,
 * kept as it is (no copy) — so memory holds the rows kept and no more, however many files there are.
 */
import { ITEM_COLUMNS } from './itemColumns.ts';
import type { RejectReason } from './rowChecks.ts';

/** What the reader hands Dictionary.codeOf: row i's key as text (null when null). */
export interface KeyText {
  decode(i: number): string | null;
}

/**
 * Open addressing (linear probing) from a 64-bit key, as two uint32 words, to a code: no JS string
 * and no Map entry per key, which is most of the cost of interning 100k session ids.
 */
class KeyTable {
  size = 0;
  private mask = 1023;
  private lo = new Int32Array(1024);
  private hi = new Int32Array(1024);
  /** code + 1; 0 = empty */
  private code = new Int32Array(1024);

  private slot(lo: number, hi: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }
  /** The code of the key, or −1. */
  get(lo: number, hi: number): number {
    for (let i = this.slot(lo, hi); ; i = (i + 1) & this.mask) {
      const c = this.code[i];
      if (c === 0) return -1;
      if (this.lo[i] === (lo | 0) && this.hi[i] === (hi | 0)) return c - 1;
    }
  }
  set(lo: number, hi: number, code: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    let i = this.slot(lo, hi);
    while (this.code[i] !== 0) i = (i + 1) & this.mask;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.code[i] = code + 1;
    this.size++;
  }
  private grow(): void {
    const { lo, hi, code } = this;
    const cap = 2 * (this.mask + 1);
    this.mask = cap - 1;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.code = new Int32Array(cap);
    this.size = 0;
    for (let i = 0; i < code.length; i++) if (code[i] !== 0) this.set(lo[i], hi[i], code[i] - 1);
  }
}

/**
 * Interns keys to dense integer codes, first seen first coded, by text (`code`) or, as the reader
 * does, by 64-bit key (`codeOf`): a string key's hash, checked against the text when it recurs, or an
 * integer key's own value. Both ways give the same code to the same text.
 */
export class Dictionary {
  readonly values: string[] = [];
  private index: Map<string, number> | null = null;
  /** [string keys by hash, integer keys by value] */
  private readonly tables: [KeyTable | null, KeyTable | null] = [null, null];

  code(s: string): number {
    this.index ??= new Map(this.values.map((v, i) => [v, i]));
    const c = this.index.get(s);
    return c === undefined ? this.append(s) : c;
  }

  private append(s: string): number {
    const c = this.values.length;
    this.values.push(s);
    this.index?.set(s, c);
    return c;
  }

  /**
   * The code of row i's key, known by its 64-bit key (lo, hi): `int` = the key's own value (exact),
   * else a hash of its text (the text is compared whenever a hash recurs). −1 for a null key.
   */
  codeOf(int: boolean, lo: number, hi: number, key: KeyText, i: number): number {
    const kind = int ? 1 : 0;
    const table = (this.tables[kind] ??= new KeyTable());
    const known = table.get(lo, hi);
    if (known >= 0) {
      if (int) return known;
      const s = key.decode(i);
      if (s === this.values[known]) return known;
      // Two texts with one 64-bit hash: by text, and the table keeps the first.
      return s === null ? -1 : this.code(s);
    }
    const s = key.decode(i);
    if (s === null) return -1;
    // A text may already have a code from the other kind of key or from code(): look it up then.
    const c = this.index !== null || this.tables[1 - kind] !== null ? this.code(s) : this.append(s);
    table.set(lo, hi, c);
    return c;
  }
}

/**
 * Whether every element of x is finite. A sum is finite iff every term is (a sum of float32 values
 * cannot overflow float64); four partial sums let the loop run without a serial dependency.
 */
export function allFinite(x: Float32Array): boolean {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n = x.length;
  const n4 = n - (n % 4);
  for (let i = 0; i < n4; i += 4) {
    a0 += x[i];
    a1 += x[i + 1];
    a2 += x[i + 2];
    a3 += x[i + 3];
  }
  for (let i = n4; i < n; i++) a0 += x[i];
  return (a0 + a1 + a2 + a3) * 0 === 0;
}

export class RowStore {
  n = 0;
  readonly capacity: number;
  readonly stateDim: number;
  readonly actionDim: number;
  readonly feedbackNames: string[];
  readonly session: Int32Array;
  readonly user: Int32Array;
  readonly ts: Float64Array;
  /** [n × F], feedback values as read (float64: exact for every integer and float32 source) */
  readonly feedback: Float64Array;
  readonly actionLogp: Float64Array;
  /** −1 where no policy_id was logged */
  readonly policy: Int32Array;
  /** segment of each row */
  readonly rowSegment: Int32Array;

  /** segment s holds rows [segStart[s], segStart[s+1]); its vectors are row-major from offset 0 */
  readonly segStart: number[] = [0];
  readonly segState: Float32Array[] = [];
  readonly segAction: Float32Array[] = [];

  readonly sessions = new Dictionary();
  readonly users = new Dictionary();
  readonly policies = new Dictionary();
  /** sessions holding a rejected row: dropped whole */
  readonly poisoned = new Set<number>();

  rowsRead = 0;
  readonly rejected = new Map<RejectReason, number>();
  readonly nullsFilled: number[];
  hasActionLogp = false;
  hasPolicyId = false;
  /** rows read that carry a value of each optional item column (ITEM_COLUMNS order; src/data/itemColumns.ts) */
  readonly itemRows = new Float64Array(ITEM_COLUMNS.length);

  constructor(capacity: number, stateDim: number, actionDim: number, feedbackNames: string[]) {
    this.capacity = capacity;
    this.stateDim = stateDim;
    this.actionDim = actionDim;
    this.feedbackNames = feedbackNames;
    this.session = new Int32Array(capacity);
    this.user = new Int32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.feedback = new Float64Array(capacity * feedbackNames.length);
    this.actionLogp = new Float64Array(capacity);
    this.policy = new Int32Array(capacity);
    this.rowSegment = new Int32Array(capacity);
    this.nullsFilled = feedbackNames.map(() => 0);
  }

  reject(reason: RejectReason, sessionCode: number | null): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    if (sessionCode !== null) this.poisoned.add(sessionCode);
  }

  /**
   * Closes the rows added since the last segment (their scalars are already in place) with their
   * vectors, kept by reference: `state` [m × stateDim] and `action` [m × actionDim], row-major, finite
   * (the reader checked them).
   */
  addSegment(state: Float32Array, action: Float32Array): void {
    const lo = this.segStart[this.segStart.length - 1];
    const m = this.n - lo;
    if (m === 0) return;
    if (state.length !== m * this.stateDim || action.length !== m * this.actionDim) {
      throw new Error(`internal: segment of ${m} rows has ${state.length} state / ${action.length} action values`);
    }
    const s = this.segState.length;
    this.segState.push(state);
    this.segAction.push(action);
    this.segStart.push(this.n);
    this.rowSegment.fill(s, lo, this.n);
  }

  /** Row r's state: `vec[off … off + stateDim)`. */
  stateAt(r: number): { vec: Float32Array; off: number } {
    const s = this.rowSegment[r];
    return { vec: this.segState[s], off: (r - this.segStart[s]) * this.stateDim };
  }

  actionAt(r: number): { vec: Float32Array; off: number } {
    const s = this.rowSegment[r];
    return { vec: this.segAction[s], off: (r - this.segStart[s]) * this.actionDim };
  }

  /** Are rows i and j the same request logged twice (schemas/interaction-log.md, "Duplicates")? */
  identical(i: number, j: number): boolean {
    if (this.user[i] !== this.user[j] || this.policy[i] !== this.policy[j]) return false;
    const li = this.actionLogp[i];
    const lj = this.actionLogp[j];
    if (li !== lj && !(Number.isNaN(li) && Number.isNaN(lj))) return false;
    const si = this.stateAt(i);
    const sj = this.stateAt(j);
    const ai = this.actionAt(i);
    const aj = this.actionAt(j);
    const F = this.feedbackNames.length;
    return (
      rangeEqual(si.vec, si.off, sj.vec, sj.off, this.stateDim) &&
      rangeEqual(ai.vec, ai.off, aj.vec, aj.off, this.actionDim) &&
      rangeEqual(this.feedback, i * F, this.feedback, j * F, F)
    );
  }
}

function rangeEqual(a: Float32Array | Float64Array, i: number, b: Float32Array | Float64Array, j: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (a[i + k] !== b[j + k]) return false;
  return true;
}
