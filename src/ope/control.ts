/**
 * The online control group (BatchRL-MTF §3.3–3.4; schemas/exploration.md): sessions the ranking stack
 * served with the published model and no exploration (arm `control`, policy_id `control:<version>`).
 * Their mean discounted return is an on-policy estimate of that version's value — no model, no
 * weights — which the report shows next to FQE's V̂ of the served model.
 */
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { meanInterval } from './bootstrap.ts';
import { discountedReturns, type OpeData } from './data.ts';

/** The arm name of the control group in policy_id (`control:<version>`). */
export const CONTROL_ARM = 'control';

export interface ControlGroup {
  policy_id: string;
  /** the model version after `control:` */
  version: string;
  sessions: number;
  /** sessions the data window cut (their return stops at the cut, so they pull the mean down) */
  cut_sessions: number;
  /** mean discounted return (γ of FQE) over the uncut sessions, 95% normal interval */
  mean: number;
  ci95: [number, number];
}

/** One entry per control policy_id found at the sessions' first rows; [] when the log has none. */
export function controlGroups(d: Pick<OpeData, 'sessions' | 'ptr' | 'order' | 'sessionCut'>, batch: Pick<TransitionBatch, 'policyId' | 'reward'>, gamma: number): ControlGroup[] {
  const ids = batch.policyId;
  if (!ids) return [];
  const ret = discountedReturns(d, batch.reward, gamma);
  const groups = new Map<string, { all: number; cut: number; returns: number[] }>();
  for (let j = 0; j < d.sessions; j++) {
    if (d.ptr[j + 1] === d.ptr[j]) continue;
    const code = ids.codes[d.order[d.ptr[j]]];
    const id = code >= 0 ? ids.values[code] : undefined;
    if (!id || id.split(':')[0] !== CONTROL_ARM) continue;
    const g = groups.get(id) ?? { all: 0, cut: 0, returns: [] };
    g.all++;
    if (d.sessionCut[j]) g.cut++;
    else g.returns.push(ret[j]);
    groups.set(id, g);
  }
  return [...groups.entries()]
    .filter(([, g]) => g.returns.length >= 2)
    .map(([id, g]) => ({ policy_id: id, version: id.slice(CONTROL_ARM.length + 1), sessions: g.all, cut_sessions: g.cut, ...meanInterval(g.returns) }))
    .sort((a, b) => a.policy_id.localeCompare(b.policy_id));
}
