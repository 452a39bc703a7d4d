/**
 * Comparing trajectories up to order (the bucketed merge orders sessions by part, then by start).
 */
import assert from 'node:assert/strict';
import type { TransitionBatch } from '../../src/data/index.ts';

/** Each session's transitions as one comparable record, by session id. */
export function bySession(b: TransitionBatch): Map<string, string> {
  const out = new Map<string, string>();
  const { n, stateDim: d, actionDim: k } = b;
  for (let i0 = 0; i0 < n; ) {
    let i1 = i0 + 1;
    while (i1 < n && b.sessionIndex[i1] === b.sessionIndex[i0]) i1++;
    const rows = [];
    for (let i = i0; i < i1; i++) {
      rows.push([
        b.step[i], b.requestTs[i], Array.from(b.state.subarray(i * d, i * d + d)), Array.from(b.action.subarray(i * k, i * k + k)),
        b.reward[i], b.done[i], b.truncated[i], b.actionLogp[i], Object.keys(b.feedback).sort().map((f) => b.feedback[f][i]),
        b.policyId ? (b.policyId.codes[i] < 0 ? null : b.policyId.values[b.policyId.codes[i]]) : null,
        Array.from(b.nextState.subarray(i * d, i * d + d)),
      ]);
    }
    const id = b.sessionIds[b.sessionIndex[i0]];
    assert.ok(!out.has(id), `session ${id} in one run of rows`);
    out.set(id, JSON.stringify(rows));
    i0 = i1;
  }
  assert.equal(out.size, b.sessionIds.length, 'every session has rows');
  return out;
}

