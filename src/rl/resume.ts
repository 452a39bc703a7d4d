/**
 * What makes a run resumable: the progress saved with every checkpoint, the training data's fingerprint,
 * and the check that a resumed run continues the same run (algorithm, dims, config, data).
 */
import { createHash, type Hash } from 'node:crypto';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import type { Curves } from './report.ts';
import { feedbackColumn } from './targets.ts';

/** The loop's progress as every checkpoint keeps it (manifest `progress`). */
export interface SavedProgress {
  curves: Curves;
  intervalSums: Record<string, number>;
  intervalCounts: Record<string, number>;
  fingerprint: string;
}

/**
 * Same data ⇔ same fingerprint: a resume onto other data is an input error, not a silent mix. The feedback
 * columns named by `responses` count too (only then: runs without responses keep their fingerprints).
 */
export function fingerprintBatch(b: TransitionBatch, feedbackNames: string[] = []): string {
  const h = createHash('sha256');
  h.update(`${b.n}:${b.stateDim}:${b.actionDim}`);
  const bytes = (x: ArrayBufferView) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  for (const x of [b.state, b.action, b.reward]) h.update(bytes(x));
  if (b.nextStateFromRows) hashDerivedNextState(h, b);
  else h.update(bytes(b.nextState));
  for (const x of [b.done, b.truncated]) h.update(bytes(x));
  for (const name of feedbackNames) {
    const x = Float32Array.from(feedbackColumn(b.feedback, name));
    h.update(`:${name}:`);
    h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The bytes nextStates() would produce, fed to the hash session by session without building the copy
 * (so a derived s′ fingerprints exactly as a stored one): rows a+1 … b−1 of the state, then row b−1 again.
 */
function hashDerivedNextState(h: Hash, b: TransitionBatch): void {
  const S = b.stateDim;
  const rows = (from: number, to: number) => new Uint8Array(b.state.buffer, b.state.byteOffset + from * S * 4, (to - from) * S * 4);
  for (let a = 0; a < b.n; ) {
    let e = a + 1;
    while (e < b.n && b.sessionIndex[e] === b.sessionIndex[a]) e++;
    h.update(rows(a + 1, e));
    h.update(rows(e - 1, e));
    a = e;
  }
}

/** Fields a resumed run may change: how long, how often it reports, where it runs. */
const RESUME_MAY_CHANGE = new Set(['steps', 'checkpointEvery', 'logEvery', 'backend', 'threads']);

/** Throws an InputError when the checkpoint `m` is not of this run: another algorithm, other dims, a config field that may not change, other data. */
export function checkResumable(m: { algo: string; config: Record<string, unknown>; progress: unknown; stateDim: number; actionDim: number }, algo: string, config: Record<string, unknown>, fingerprint: string, b: TransitionBatch): void {
  if (m.algo !== algo) throw new InputError(`cannot resume: the checkpoint is of ${m.algo}, the config asks for ${algo}`, { field: 'algo' });
  if (m.stateDim !== b.stateDim || m.actionDim !== b.actionDim) {
    throw new InputError(`cannot resume: the checkpoint has state/action dims ${m.stateDim}/${m.actionDim}, the data ${b.stateDim}/${b.actionDim}`);
  }
  const changed = Object.keys({ ...m.config, ...config }).filter(
    (k) => !RESUME_MAY_CHANGE.has(k) && JSON.stringify(m.config[k]) !== JSON.stringify(config[k]),
  );
  if (changed.length) throw new InputError(`cannot resume: config differs from the checkpoint's in ${changed.join(', ')} (only ${[...RESUME_MAY_CHANGE].join(', ')} may change)`, { field: changed[0] });
  if ((m.progress as SavedProgress).fingerprint !== fingerprint) {
    throw new InputError('cannot resume: the training data differs from the data the checkpoint was trained on (fingerprint mismatch)');
  }
}
