/**
 * The loop's stress nights (issue 18 §4): the night's candidate is replaced by a bad one, and the rest
 * of the pipeline — evaluate, export, gate — runs as on any night. The gate must keep them out with
 * what it has (OPE, its intervals, the export's checks); the loop's record says whether it did.
 *   td3           TD3 without a batch constraint (the paper's extrapolation-error case)
 *   wrong-reward  trained on r with play time weighted 0 (an operator's reward-spec mistake); evaluated
 *                 with the pipeline's true reward spec
 *   wrong-beta    exported with a β the logs were not ranked with (×10)
 *   half-day      trained on the first sixth of the window's sessions (half a day of three)
 */
import type { PipelineConfig } from '../config/pipeline.ts';
import type { TransitionBatch } from '../data/index.ts';
import { claimRun, runDirs, specOf, type RunSpec } from './run.ts';
import { recordedStage } from './embedded.ts';
import { evaluateStage, ingestShardStage, mergeStage, planIngest, publishStage, type StageContext } from './stages.ts';

export const STRESS_KINDS = ['td3', 'wrong-reward', 'wrong-beta', 'half-day'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];

/** The reward spec mistake of `wrong-reward`: play time forgotten, interactions only. */
const WRONG_REWARD = { play_time_s: 0, like: 10, share: 30, comment: 20, follow: 40 };

export async function runStressNight(base: PipelineConfig, date: string, kind: StressKind, say: (line: string) => void): Promise<void> {
  const pipeline = structuredClone(base);
  if (kind === 'td3') {
    pipeline.train.algo = 'td3';
    const h = (base.train.config as { actorHidden?: number[] }).actorHidden;
    pipeline.train.config = { actorHidden: h, criticHidden: h, logEvery: base.train.config.logEvery };
  }
  const claim = claimRun(pipeline, date, 'embedded');
  const spec: RunSpec = claim.claimed ? claim.spec : specOf(claim.record);
  const run = <T extends Record<string, unknown>>(key: string, fn: (ctx: StageContext) => Promise<T>) => recordedStage(spec, key, fn, (l) => say(`  ${l}`));
  say(`  stress night: ${kind}`);
  const keys = await planIngest(spec);
  for (const key of keys) await run(`ingest-${key}`, (ctx) => ingestShardStage(spec, key, ctx));
  await run('ingest', (ctx) => mergeStage(spec, keys, ctx));
  if (kind === 'td3') {
    const { trainStage } = await import('./stages.ts');
    await run('train', (ctx) => trainStage(spec, ctx));
  } else {
    await run('train', () => trainBad(spec, kind === 'half-day' ? halfDay : kind === 'wrong-reward' ? wrongReward : (b) => b));
  }
  await run('evaluate', (ctx) => evaluateStage(spec, ctx));
  if (kind === 'wrong-beta') await run('publish', (ctx) => publishWrongBeta(spec, ctx));
  else await run('publish', (ctx) => publishStage(spec, ctx));
}

async function trainBad(spec: RunSpec, transform: (b: TransitionBatch) => TransitionBatch) {
  const { readTrajectories } = await import('../data/index.ts');
  const { train } = await import('../rl/index.ts');
  const dirs = runDirs(spec);
  const t = spec.pipeline.train;
  const { batch, metadata } = await readTrajectories(dirs.trajectories, 'train');
  const { policy, report } = await train({
    batch: transform(batch),
    stats: { state: metadata.state_stats, action: metadata.action_stats },
    actionNames: metadata.action_names,
    beta: metadata.beta,
    config: { ...t.config, algo: t.algo, steps: t.steps, checkpointEvery: t.checkpoint_every },
    outDir: dirs.train,
    progress: 'none',
  });
  policy.dispose();
  return { status: report.status, train: dirs.train, steps: report.stepsDone, algo: report.algo, it_per_s: report.itPerSec, resumed: false };
}

/** r recomputed from the logged feedback with WRONG_REWARD (Eq. 2 with the wrong weights). */
function wrongReward(b: TransitionBatch): TransitionBatch {
  const reward = new Float32Array(b.n);
  for (const [col, w] of Object.entries(WRONG_REWARD)) {
    const v = b.feedback[col];
    if (!v) throw new Error(`wrong-reward stress: the trajectories have no feedback column '${col}'`);
    for (let i = 0; i < b.n; i++) reward[i] += w * v[i];
  }
  return { ...b, reward };
}

/** The transitions of the first sixth of the sessions (rows are ordered by session). */
function halfDay(b: TransitionBatch): TransitionBatch {
  const sessions = b.sessionIds.length;
  const keep = Math.max(1, Math.floor(sessions / 6));
  let m = 0;
  while (m < b.n && b.sessionIndex[m] < keep) m++;
  const rows = <T extends Float32Array | Float64Array | Int32Array | Uint8Array>(x: T, w = 1): T => x.subarray(0, m * w) as T;
  const S = b.stateDim;
  const A = b.actionDim;
  return {
    ...b,
    n: m,
    state: rows(b.state, S),
    action: rows(b.action, A),
    reward: rows(b.reward),
    nextState: rows(b.nextState, S),
    done: rows(b.done),
    truncated: rows(b.truncated),
    sessionIndex: rows(b.sessionIndex),
    step: rows(b.step),
    requestTs: rows(b.requestTs),
    actionLogp: rows(b.actionLogp),
    feedback: Object.fromEntries(Object.entries(b.feedback).map(([k, v]) => [k, rows(v)])),
    policyId: b.policyId ? { codes: rows(b.policyId.codes), values: b.policyId.values } : null,
    sessionIds: b.sessionIds.slice(0, keep),
  };
}

/** The night's candidate exported with β × 10: the export refuses a β that disagrees with the logs'. */
async function publishWrongBeta(spec: RunSpec, ctx: StageContext) {
  const { readTrajectories } = await import('../data/index.ts');
  const { DEFAULT_BETA } = await import('../export/index.ts');
  const { metadata } = await readTrajectories(runDirs(spec).trajectories, 'test');
  const beta = (metadata.beta ?? new Array<number>(metadata.action_dim).fill(DEFAULT_BETA)).map((b) => b * 10);
  try {
    return await publishStage(spec, ctx, { beta });
  } catch (err) {
    return { version: null, decision: 'refused', reason: err instanceof Error ? err.message : String(err) };
  }
}
