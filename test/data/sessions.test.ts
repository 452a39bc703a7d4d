import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dictionary, RowStore } from '../../src/data/rowStore.ts';
import { groupSessions } from '../../src/data/sessions.ts';
import { buildSplit, testSessionCount, vectorStats } from '../../src/data/trajectories.ts';

interface Row {
  s: string;
  t: number;
  state?: number[];
  action?: number[];
  fb?: number[];
  user?: string;
}

/** A store with state dim 2, action dim 1 and feedback [play, like], filled as the reader would. */
function storeOf(rows: Row[], poisoned: string[] = []): RowStore {
  const st = new RowStore(rows.length, 2, 1, ['play', 'like']);
  const state = new Float32Array(rows.length * 2);
  const action = new Float32Array(rows.length);
  for (const r of rows) {
    const i = st.n++;
    st.session[i] = st.sessions.code(r.s);
    st.user[i] = st.users.code(r.user ?? 'u');
    st.ts[i] = r.t;
    state.set(r.state ?? [r.t, 0], i * 2);
    action.set(r.action ?? [0.5], i);
    st.feedback.set(r.fb ?? [1, 0], i * 2);
    st.actionLogp[i] = NaN;
    st.policy[i] = -1;
  }
  st.addSegment(state, action);
  for (const p of poisoned) st.poisoned.add(st.sessions.code(p));
  return st;
}

test('groups by session, orders by time, orders sessions by start', () => {
  const st = storeOf([
    { s: 'b', t: 30 },
    { s: 'a', t: 50 },
    { s: 'b', t: 10 },
    { s: 'a', t: 40 },
    { s: 'b', t: 20 },
  ]);
  const t = groupSessions(st);
  assert.deepEqual(Array.from(t.start), [0, 3, 5]);
  assert.deepEqual(Array.from(t.code, (c) => st.sessions.values[c]), ['b', 'a']);
  assert.deepEqual(Array.from(t.rows, (r) => st.ts[r]), [10, 20, 30, 40, 50]);
});

test('identical duplicates are kept once; conflicting ones drop the session; poisoned sessions drop', () => {
  const st = storeOf(
    [
      { s: 'dup', t: 1 },
      { s: 'dup', t: 2 },
      { s: 'dup', t: 2 },
      { s: 'dup', t: 2 },
      { s: 'conflict', t: 1 },
      { s: 'conflict', t: 1, action: [0.7] },
      { s: 'conflict', t: 2 },
      { s: 'bad', t: 5 },
      { s: 'ok', t: 9 },
    ],
    ['bad', 'ghost'],
  );
  const t = groupSessions(st);
  assert.equal(t.duplicateRowsRemoved, 2);
  assert.deepEqual(t.dropped, { rejected_row: 2, conflicting_duplicate: 1 });
  assert.deepEqual(Array.from(t.code, (c) => st.sessions.values[c]), ['dup', 'ok']);
  assert.equal(t.start[1] - t.start[0], 2);
});

test('transitions: s′ is the next state, reward is Σ w·v (Eq. 2), terminal vs truncated ends', () => {
  const st = storeOf([
    { s: 'early', t: 1000, state: [1, 1], fb: [2, 1] },
    { s: 'early', t: 2000, state: [2, 2], fb: [3, 0] },
    { s: 'late', t: 9_000_000, state: [5, 5], fb: [1, 1] },
    { s: 'late', t: 9_500_000, state: [6, 6], fb: [0, 0] },
  ]);
  const t = groupSessions(st);
  const opts = { rewardWeights: [1, 10], windowEndMs: 10_000_000, inactivityGapMs: 30 * 60_000, testFraction: 0 };
  const r = buildSplit(st, t, 0, 2, opts);
  const b = r.batch;
  assert.equal(b.n, 4);
  assert.deepEqual(Array.from(b.reward), [12, 3, 11, 0]);
  assert.equal(r.rewardSum, 26);
  assert.deepEqual(Array.from(b.nextState), [2, 2, 2, 2, 6, 6, 6, 6]);
  // 'early' ended long before the window's end: terminal. 'late' is within 30 min of it: truncated.
  assert.deepEqual(Array.from(b.done), [0, 1, 0, 0]);
  assert.deepEqual(Array.from(b.truncated), [0, 0, 0, 1]);
  assert.equal(r.terminal, 1);
  assert.equal(r.truncated, 1);
  assert.deepEqual(Array.from(b.step), [0, 1, 0, 1]);
  assert.deepEqual(b.sessionIds, ['early', 'late']);
  // Without a window end every session's last row is terminal.
  const noWindow = buildSplit(st, t, 0, 2, { ...opts, windowEndMs: null });
  assert.deepEqual(Array.from(noWindow.batch.done), [0, 1, 0, 1]);
  assert.equal(noWindow.truncated, 0);
});

test('time split sizes and per-dimension statistics', () => {
  assert.equal(testSessionCount(10, 0.1), 1);
  assert.equal(testSessionCount(9, 0.1), 0);
  assert.equal(testSessionCount(100, 0.1), 10);
  assert.equal(testSessionCount(30, 0.1), 3);
  const s = vectorStats(new Float32Array([1, 10, 3, 20]), 2, 2);
  assert.deepEqual(s, { mean: [2, 15], std: [1, 5], min: [1, 10], max: [3, 20] });
});

test('Dictionary: keys by hash, by integer value and by text share codes; equal hashes are told apart by text', () => {
  const d = new Dictionary();
  const texts = ['a', 'b', '7', 'c'];
  const key = (i: number) => ({ decode: () => texts[i] });
  // string keys by (fake) 64-bit hash: 'a' and 'c' collide on purpose
  assert.equal(d.codeOf(false, 1, 0, key(0), 0), 0);
  assert.equal(d.codeOf(false, 2, 0, key(1), 0), 1);
  assert.equal(d.codeOf(false, 1, 0, key(0), 0), 0);
  assert.equal(d.codeOf(false, 1, 0, key(3), 0), 2, 'same hash, other text: a new code');
  assert.equal(d.codeOf(false, 1, 0, key(3), 0), 2);
  // an integer key 7 and the text '7' are one key
  assert.equal(d.codeOf(true, 7, 0, key(2), 0), 3);
  assert.equal(d.code('7'), 3);
  assert.equal(d.code('b'), 1);
  assert.equal(d.codeOf(false, 9, 9, { decode: () => 'b' }, 0), 1, 'a text seen as another kind of key keeps its code');
  assert.equal(d.codeOf(false, 5, 5, { decode: () => null }, 0), -1);
  assert.deepEqual(d.values, ['a', 'b', 'c', '7']);
  // many keys: the table grows
  const e = new Dictionary();
  for (let i = 0; i < 5000; i++) assert.equal(e.codeOf(true, i * 7919, i % 3, { decode: () => `k${i}` }, 0), i);
  for (let i = 0; i < 5000; i++) assert.equal(e.codeOf(true, i * 7919, i % 3, { decode: () => 'unused' }, 0), i);
});
