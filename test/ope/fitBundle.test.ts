/**
 * A fanned-out evaluation's files (src/ope/fitBundle.ts): the bundle + one fit per (policy, refit),
 * each computed on its own from the files, give the report of the in-process evaluation number for
 * number; a fit whose result file exists is not computed again; results that do not match what the
 * evaluation asks, or files that are not fit files, are refused with the file named.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluatePolicies } from '../../src/ope/evaluate.ts';
import { fitPath, planFits, readFitPlan, reportFromFits, runBundledFit, writeFitBundle } from '../../src/ope/fitBundle.ts';
import { readFitResult } from '../../src/ope/fitFiles.ts';
import { behaviorPolicy, constantPolicy } from '../../src/ope/policies.ts';
import { initBackend } from '../../src/ope/rl.ts';
import type { OpeReport } from '../../src/ope/schemas.ts';
import { tempDir } from '../helpers/tmp.ts';
import { loggedSessions, makeBatch } from './helpers.ts';

before(async () => {
  await initBackend('cpu');
});

const config = (over: Record<string, unknown> = {}) => ({
  fqe: { iterations: 40, batchSize: 32, hidden: [8], lr: 1e-3, logEvery: 20, gamma: 0.9, ...over },
  bootstrap: 3,
  bootstrapIterations: 15,
  oodStates: 40,
  oodNeighbours: 5,
  histogramBins: 5,
  backend: 'cpu' as const,
  workers: 1,
});

/** The report without what differs between two runs of the same evaluation: clocks. */
function comparable(r: OpeReport): unknown {
  const strip = (p: OpeReport['policies'][number]) => ({ ...p, fqe: { ...p.fqe, seconds: 0 } });
  return { ...r, created_at: '', seconds: 0, policies: r.policies.map(strip), baseline: r.baseline ? strip(r.baseline) : null };
}

async function fanOut(o: Parameters<typeof evaluatePolicies>[0], dir: string, cfg: unknown) {
  const plan = await writeFitBundle(o, dir);
  // in the order the jobs run them: every full-data fit, then the refits
  for (const at of planFits(plan)) await runBundledFit(dir, at, cfg, `test/${process.pid}#${at.policy}`);
  return reportFromFits(o, dir);
}

for (const [what, over] of [
  ['penalty everywhere (fqe.penaltySupport off)', { penaltySupport: 'off' }],
  ['penalty weighted by the logged support (fqe.penaltySupport nearest, the default)', { penaltySupport: 'nearest', supportNeighbours: 5 }],
] as const) {
  test(`the fits as separate computations from the bundle give the in-process report, field by field (${what})`, async () => {
    const batch = makeBatch(loggedSessions(50, 4));
    const policies = () => [constantPolicy([0.8, 0.5], 'good'), behaviorPolicy(), constantPolicy([0.3, 0.6], 'other')];
    const cfg = config(over);
    const inProcess = await evaluatePolicies({ batch, policies: policies(), baseline: constantPolicy([0.5, 0.5], 'live'), config: cfg });
    const dir = tempDir();
    const { report, workers } = await fanOut({ batch, policies: policies(), baseline: constantPolicy([0.5, 0.5], 'live'), config: cfg }, dir, cfg);
    assert.equal(workers.size, 4 * (1 + 3), 'every fit came from a result file');
    assert.ok(report.policies.some((p) => p.importance !== null), 'importance sampling ran (refit tables travel in the files)');
    // exactly: the same fits with the same seeds, read back bit for bit
    assert.deepEqual(comparable(report), comparable(inProcess));
  });
}

test('a fit whose result file exists is not computed again; a mismatched or corrupt result file is refused, named', async () => {
  const batch = makeBatch(loggedSessions(30, 5));
  const cfg = config();
  const o = { batch, policies: [constantPolicy([0.8, 0.5], 'good'), behaviorPolicy()], config: cfg };
  const dir = tempDir();
  const plan = await writeFitBundle(o, dir);
  assert.deepEqual(plan.policies, [{ key: 'p0', name: 'behavior' }, { key: 'p1', name: 'good' }]);
  assert.equal(readFitPlan(dir)!.bootstrap, 3);
  const first = await runBundledFit(dir, { policy: 'p1', refit: 0 }, cfg, 'w1');
  assert.equal(first.reused, false);
  const mtime = statSync(first.file).mtimeMs;
  const again = await runBundledFit(dir, { policy: 'p1', refit: 0 }, cfg, 'w2');
  assert.equal(again.reused, true);
  assert.equal(statSync(first.file).mtimeMs, mtime, 'not rewritten');
  assert.equal(readFitResult(first.file).meta.worker, 'w1');
  // a refit without its full-data fit, a key or refit the plan does not have
  await assert.rejects(runBundledFit(dir, { policy: 'p0', refit: 1 }, cfg, 'w'), /the full-data fit .*p0-0\.fit is missing/);
  await assert.rejects(runBundledFit(dir, { policy: 'p7', refit: 0 }, cfg, 'w'), /policy key 'p7' is not in/);
  await assert.rejects(runBundledFit(dir, { policy: 'p0', refit: 4 }, cfg, 'w'), /refit 4 is beyond the plan's 3/);
  for (const at of planFits(plan)) await runBundledFit(dir, at, cfg, 'w');
  // a result file of another fit in this one's place: its seed gives it away
  writeFileSync(fitPath(dir, { policy: 'p1', refit: 2 }), readFileSync(fitPath(dir, { policy: 'p1', refit: 1 })));
  await assert.rejects(reportFromFits(o, dir), /p1-2\.fit: fit p1-1 with seed \d+ .* asks p1-2/);
  // cut short (what an atomic write never leaves, but a copy can)
  const whole = readFileSync(fitPath(dir, { policy: 'p1', refit: 1 }));
  writeFileSync(fitPath(dir, { policy: 'p1', refit: 2 }), whole.subarray(0, whole.length - 100));
  await assert.rejects(reportFromFits(o, dir), /p1-2\.fit: not a fit file of this evaluation \(array '.+' runs past the end\)/);
  writeFileSync(fitPath(dir, { policy: 'p1', refit: 2 }), 'not a fit');
  await assert.rejects(reportFromFits(o, dir), /p1-2\.fit: not a fit file of this evaluation \(no MTFB header\)/);
  // other policies than planned (the live model changed between the steps)
  await assert.rejects(reportFromFits({ ...o, baseline: constantPolicy([0.1, 0.1], 'new-live') }, dir), /planned for the policies behavior, good, the evaluation has behavior, good, new-live/);
});
