/**
 * Rows → sessions: group by session, order by request_ts, remove identical duplicates, drop sessions
 * with a rejected row or conflicting duplicates, and order the sessions by their start.
 */
import type { RowStore } from './rowStore.ts';

export type DropReason = 'rejected_row' | 'conflicting_duplicate';

export interface SessionTable {
  /** kept row indices into the store, session after session, each in time order */
  rows: Int32Array;
  /** session s owns rows[start[s] … start[s+1]); length = sessions + 1 */
  start: Int32Array;
  /** the store's session code of each kept session */
  code: Int32Array;
  dropped: Record<DropReason, number>;
  duplicateRowsRemoved: number;
}

/** Sorts idx[lo, hi) by ts (insertion sort: sessions are short and usually nearly sorted). */
function sortByTs(idx: Int32Array, lo: number, hi: number, ts: Float64Array): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = idx[i];
    const t = ts[v];
    let j = i - 1;
    // ties keep read order, so which copy of a duplicate is kept is deterministic
    while (j >= lo && (ts[idx[j]] > t || (ts[idx[j]] === t && idx[j] > v))) {
      idx[j + 1] = idx[j];
      j--;
    }
    idx[j + 1] = v;
  }
}

export function groupSessions(store: RowStore): SessionTable {
  const n = store.n;
  const numCodes = store.sessions.values.length;
  // Counting sort by session code: O(n), stable.
  const first = new Int32Array(numCodes + 1);
  for (let i = 0; i < n; i++) first[store.session[i] + 1]++;
  for (let c = 0; c < numCodes; c++) first[c + 1] += first[c];
  const fill = first.slice(0, numCodes);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[store.session[i]]++] = i;

  const rows = new Int32Array(n);
  const keptCodes: number[] = [];
  const starts: number[] = [0];
  const dropped: Record<DropReason, number> = { rejected_row: 0, conflicting_duplicate: 0 };
  let duplicateRowsRemoved = 0;
  let w = 0;
  for (let c = 0; c < numCodes; c++) {
    const lo = first[c];
    const hi = first[c + 1];
    if (store.poisoned.has(c)) {
      dropped.rejected_row++;
      continue;
    }
    if (lo === hi) continue; // only ever seen in rejected rows: counted above
    const len = hi - lo;
    if (len > 64) {
      const seg = Array.from(order.subarray(lo, hi)).sort((x, y) => store.ts[x] - store.ts[y] || x - y);
      order.set(seg, lo);
    } else sortByTs(order, lo, hi, store.ts);
    let conflict = false;
    let dups = 0;
    const w0 = w;
    for (let i = lo; i < hi; i++) {
      const r = order[i];
      if (w > w0 && store.ts[rows[w - 1]] === store.ts[r]) {
        if (store.identical(rows[w - 1], r)) {
          dups++;
          continue;
        }
        conflict = true;
        break;
      }
      rows[w++] = r;
    }
    if (conflict) {
      w = w0;
      dropped.conflicting_duplicate++;
      continue;
    }
    duplicateRowsRemoved += dups;
    keptCodes.push(c);
    starts.push(w);
  }
  // Sessions ordered by start time, ties by session_id: the time split takes the last 10% as test.
  const S = keptCodes.length;
  const byStart = Array.from({ length: S }, (_, s) => s);
  const startTs = (s: number) => store.ts[rows[starts[s]]];
  const ids = store.sessions.values;
  byStart.sort((x, y) => startTs(x) - startTs(y) || (ids[keptCodes[x]] < ids[keptCodes[y]] ? -1 : ids[keptCodes[x]] > ids[keptCodes[y]] ? 1 : 0));
  const outRows = new Int32Array(w);
  const outStart = new Int32Array(S + 1);
  const outCode = new Int32Array(S);
  let p = 0;
  for (let s = 0; s < S; s++) {
    const src = byStart[s];
    outCode[s] = keptCodes[src];
    outStart[s] = p;
    outRows.set(rows.subarray(starts[src], starts[src + 1]), p);
    p += starts[src + 1] - starts[src];
  }
  outStart[S] = p;
  return { rows: outRows, start: outStart, code: outCode, dropped, duplicateRowsRemoved };
}
