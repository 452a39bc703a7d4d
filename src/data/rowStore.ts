/**
 * The rows that passed the row checks, in flat typed arrays (read order), plus the counters of the
 * ingest report. Sized once from the files' parquet metadata, so memory holds the rows kept and no
 * more, however many files there are.
 */
import type { RejectReason } from './rowChecks.ts';

/** Interns strings to dense integer codes. */
export class Dictionary {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  code(s: string): number {
    let c = this.index.get(s);
    if (c === undefined) {
      c = this.values.length;
      this.index.set(s, c);
      this.values.push(s);
    }
    return c;
  }
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
  readonly state: Float32Array;
  readonly action: Float32Array;
  /** [n × F], feedback values as read (float64: exact for every integer and float32 source) */
  readonly feedback: Float64Array;
  readonly actionLogp: Float64Array;
  /** −1 where no policy_id was logged */
  readonly policy: Int32Array;

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

  constructor(capacity: number, stateDim: number, actionDim: number, feedbackNames: string[]) {
    this.capacity = capacity;
    this.stateDim = stateDim;
    this.actionDim = actionDim;
    this.feedbackNames = feedbackNames;
    this.session = new Int32Array(capacity);
    this.user = new Int32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.state = new Float32Array(capacity * stateDim);
    this.action = new Float32Array(capacity * actionDim);
    this.feedback = new Float64Array(capacity * feedbackNames.length);
    this.actionLogp = new Float64Array(capacity);
    this.policy = new Int32Array(capacity);
    this.nullsFilled = feedbackNames.map(() => 0);
  }

  reject(reason: RejectReason, sessionCode: number | null): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    if (sessionCode !== null) this.poisoned.add(sessionCode);
  }

  /** Are rows i and j the same request logged twice (schemas/interaction-log.md, "Duplicates")? */
  identical(i: number, j: number): boolean {
    if (this.user[i] !== this.user[j] || this.policy[i] !== this.policy[j]) return false;
    const li = this.actionLogp[i];
    const lj = this.actionLogp[j];
    if (li !== lj && !(Number.isNaN(li) && Number.isNaN(lj))) return false;
    return (
      rangeEqual(this.state, i * this.stateDim, j * this.stateDim, this.stateDim) &&
      rangeEqual(this.action, i * this.actionDim, j * this.actionDim, this.actionDim) &&
      rangeEqual(this.feedback, i * this.feedbackNames.length, j * this.feedbackNames.length, this.feedbackNames.length)
    );
  }
}

function rangeEqual(a: Float32Array | Float64Array, i: number, j: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (a[i + k] !== a[j + k]) return false;
  return true;
}
