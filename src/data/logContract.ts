/**
 * The interaction-log contract (schemas/interaction-log.md) as data, and the detection of one file's
 * layout against it. `schemas/interaction-log.schema.json` is generated from LOG_CONTRACT
 * (`npm run schemas`); a test fails when the two drift.
 */
import { InputError } from '../errors/index.ts';
import type { ColumnInfo } from './duckdb.ts';
import { detectItemColumns, type ItemLayout } from './itemColumns.ts';

export type LogType = 'string' | 'integer' | 'timestamp' | 'epoch_ms_int64' | 'float' | 'numeric' | 'bool' | 'float_list';

export interface ContractColumn {
  name: string;
  required: boolean;
  types: LogType[];
  /** vectors may also come as one numeric column per element: `<name>_0 … <name>_{d-1}` */
  wideLayout?: boolean;
  doc: string;
}

export const LOG_CONTRACT_VERSION = 1;

export const LOG_CONTRACT: readonly ContractColumn[] = [
  { name: 'session_id', required: true, types: ['string', 'integer'], doc: 'the session (episode) the request belongs to' },
  { name: 'user_id', required: true, types: ['string', 'integer'], doc: 'the user' },
  {
    name: 'request_ts',
    required: true,
    types: ['timestamp', 'epoch_ms_int64'],
    doc: 'when the request was served (timestamp of any unit, with or without zone; none = UTC), or int64 epoch milliseconds',
  },
  { name: 'state', required: true, types: ['float_list'], wideLayout: true, doc: 'the feature vector the fusion model was fed' },
  { name: 'action', required: true, types: ['float_list'], wideLayout: true, doc: 'the fusion weights α applied (paper Eq. 1)' },
  { name: 'action_logp', required: false, types: ['float'], doc: 'log-density of the logged action under the behavior policy' },
  { name: 'policy_id', required: false, types: ['string', 'integer'], doc: 'which policy or exploration arm acted' },
  // What the ranking stack logs about the shown item (src/data/itemColumns.ts): checked, not carried into trajectories.
  { name: 'item_id', required: false, types: ['string', 'integer'], doc: 'the shown item' },
  {
    name: 'task_scores',
    required: false,
    types: ['float_list'],
    doc: 'the shown item\'s predicted task scores o (paper Eq. 1), k = the action length, in action order; finite, ≥ 0',
  },
  { name: 'fused_score', required: false, types: ['numeric'], doc: 'f(o|α) = Σ_i α_i·log(o_i + β_i) of the shown item with the α applied (paper Eq. 1); finite' },
  {
    name: 'item_completion_rate',
    required: false,
    types: ['numeric'],
    doc: 'the shown item\'s historical completion (finish) rate over its past impressions, in [0, 1]',
  },
  {
    name: 'item_interaction_rate',
    required: false,
    types: ['numeric'],
    doc: 'the shown item\'s historical positive-interaction rate over its past impressions, in [0, 1]',
  },
  { name: 'item_quality_score', required: false, types: ['numeric'], doc: 'a content-quality classifier\'s score of the shown item, in [0, 1]' },
  { name: 'item_clickbait_score', required: false, types: ['numeric'], doc: 'a clickbait classifier\'s score of the shown item, in [0, 1]' },
];

/** Feedback columns are named by the reward spec: numeric or bool, ≥ 0, null counts as 0. */
export const FEEDBACK_TYPES: readonly LogType[] = ['numeric', 'bool'];

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'HUGEINT', 'UHUGEINT']);
const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE']);
const TIMESTAMP_TYPES = new Set(['TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'TIMESTAMP WITH TIME ZONE']);

function isNumeric(t: string): boolean {
  return INTEGER_TYPES.has(t) || FLOAT_TYPES.has(t) || t.startsWith('DECIMAL');
}

/** How one vector column (state or action) is laid out in one file. */
export type VectorLayout =
  | { kind: 'list'; column: string; child: 'FLOAT' | 'DOUBLE'; fixedSize: number | null }
  | { kind: 'wide'; columns: string[]; child: 'FLOAT' | 'DOUBLE' };

export interface FileLayout {
  sessionId: { column: string; type: 'string' | 'integer' };
  userId: { column: string; type: 'string' | 'integer' };
  requestTs: { column: string; type: 'timestamp' | 'epoch_ms_int64' };
  state: VectorLayout;
  action: VectorLayout;
  feedback: { column: string; type: string }[];
  actionLogp: string | null;
  policyId: string | null;
  /** the optional item columns present (null: none), their types checked */
  item: ItemLayout | null;
  /** DuckDB's type of each key column present (session_id, user_id, policy_id), e.g. VARCHAR, BIGINT */
  keyTypes: Record<string, string>;
}

function keyType(file: string, col: ColumnInfo | undefined, name: string): 'string' | 'integer' {
  if (!col) throw new InputError(`${file}: missing required column '${name}'`, { file, column: name });
  if (col.type === 'VARCHAR') return 'string';
  if (INTEGER_TYPES.has(col.type)) return 'integer';
  throw new InputError(`${file}: column '${name}' has type ${col.type}; expected a string or an integer`, { file, column: name });
}

function vectorLayout(file: string, byName: Map<string, ColumnInfo>, name: string): VectorLayout {
  const col = byName.get(name);
  if (col) {
    const m = /^(FLOAT|DOUBLE)\[(\d*)\]$/.exec(col.type);
    if (!m) {
      throw new InputError(
        `${file}: column '${name}' has type ${col.type}; expected list<float>, fixed_size_list<float> or columns ${name}_0 … ${name}_{d-1}`,
        { file, column: name },
      );
    }
    return { kind: 'list', column: name, child: m[1] as 'FLOAT' | 'DOUBLE', fixedSize: m[2] ? Number(m[2]) : null };
  }
  const columns: string[] = [];
  for (let i = 0; byName.has(`${name}_${i}`); i++) {
    const c = byName.get(`${name}_${i}`)!;
    if (!isNumeric(c.type)) {
      throw new InputError(`${file}: column '${c.name}' has type ${c.type}; expected a number`, { file, column: c.name });
    }
    columns.push(c.name);
  }
  if (columns.length === 0) {
    throw new InputError(`${file}: missing required column '${name}' (a list column, or ${name}_0 … ${name}_{d-1})`, { file, column: name });
  }
  const stray = [...byName.keys()].find((k) => new RegExp(`^${name}_\\d+$`).test(k) && !columns.includes(k));
  if (stray) {
    throw new InputError(`${file}: column '${stray}' is not contiguous with ${name}_0 … ${name}_${columns.length - 1}`, { file, column: stray });
  }
  const child = columns.every((c) => byName.get(c)!.type === 'FLOAT') ? 'FLOAT' : 'DOUBLE';
  return { kind: 'wide', columns, child };
}

/** Column names for a message, a run of wide vector columns shortened: state_0 … state_63. */
export function listColumns(columns: readonly ColumnInfo[]): string {
  const out: string[] = [];
  for (let i = 0; i < columns.length; ) {
    const m = /^(.*)_(\d+)$/.exec(columns[i].name);
    let j = i + 1;
    if (m) while (j < columns.length && columns[j].name === `${m[1]}_${Number(m[2]) + (j - i)}`) j++;
    out.push(j - i >= 3 ? `${columns[i].name} … ${columns[j - 1].name}` : columns[i].name);
    if (j - i < 3) j = i + 1;
    i = j;
  }
  return out.join(', ');
}

/** Checks one file's columns against the contract; throws InputError naming the file and column. */
export function detectLayout(file: string, columns: ColumnInfo[], feedbackNames: readonly string[]): FileLayout {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const sessionType = keyType(file, byName.get('session_id'), 'session_id');
  const userType = keyType(file, byName.get('user_id'), 'user_id');
  const ts = byName.get('request_ts');
  if (!ts) throw new InputError(`${file}: missing required column 'request_ts'`, { file, column: 'request_ts' });
  let tsType: 'timestamp' | 'epoch_ms_int64';
  if (TIMESTAMP_TYPES.has(ts.type)) tsType = 'timestamp';
  else if (INTEGER_TYPES.has(ts.type)) tsType = 'epoch_ms_int64';
  else {
    throw new InputError(`${file}: column 'request_ts' has type ${ts.type}; expected a timestamp or int64 epoch milliseconds`, {
      file,
      column: 'request_ts',
    });
  }
  const state = vectorLayout(file, byName, 'state');
  const action = vectorLayout(file, byName, 'action');
  const feedback = feedbackNames.map((name) => {
    const c = byName.get(name);
    if (!c) throw new InputError(`${file}: missing feedback column '${name}' named by the reward spec; the file has ${listColumns(columns)}`, { file, column: name });
    if (!(isNumeric(c.type) || c.type === 'BOOLEAN')) {
      throw new InputError(`${file}: feedback column '${name}' has type ${c.type}; expected a number or bool`, { file, column: name });
    }
    return { column: name, type: c.type };
  });
  const logp = byName.get('action_logp');
  if (logp && !isNumeric(logp.type)) {
    throw new InputError(`${file}: column 'action_logp' has type ${logp.type}; expected a float`, { file, column: 'action_logp' });
  }
  const policy = byName.get('policy_id');
  if (policy && !(policy.type === 'VARCHAR' || INTEGER_TYPES.has(policy.type))) {
    throw new InputError(`${file}: column 'policy_id' has type ${policy.type}; expected a string`, { file, column: 'policy_id' });
  }
  return {
    sessionId: { column: 'session_id', type: sessionType },
    userId: { column: 'user_id', type: userType },
    requestTs: { column: 'request_ts', type: tsType },
    state,
    action,
    feedback,
    actionLogp: logp ? 'action_logp' : null,
    policyId: policy ? 'policy_id' : null,
    item: detectItemColumns(file, byName),
    keyTypes: Object.fromEntries(['session_id', 'user_id', 'policy_id'].flatMap((k) => (byName.has(k) ? [[k, byName.get(k)!.type]] : []))),
  };
}

/** Names of a vector's elements: wide columns keep theirs, lists get `<name>_<i>`. */
export function vectorNames(layout: VectorLayout, prefix: string, dim: number): string[] {
  if (layout.kind === 'wide') return layout.columns.slice();
  return Array.from({ length: dim }, (_, i) => `${prefix}_${i}`);
}
