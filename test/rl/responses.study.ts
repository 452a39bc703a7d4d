/**
 * BCQ with one critic on r (the paper) against BCQ with per-response critics (TSCAC's multi-critic,
 * config `responses`) on simulator logs: the true discounted return of each policy in the simulator,
 * its lift over the behavior policy and its difference to the single-critic BCQ of the same training
 * seed, all paired over the same fresh sessions (common random numbers). The table of src/rl/README.md §7.
 *
 *   node --import tsx test/rl/responses.study.ts [--work /tmp/mtf-rl-responses] [--sessions-per-day 1000]
 *     [--days 3] [--log-seed 21] [--steps 3000] [--seeds 0,1,2] [--variants single,decomposed-separate,tscac-separate]
 *     [--truth-sessions 2000] [--truth-seed 22] [--markdown out.md]
 *
 * Variants (every other setting at its default; networks 64 wide as in study.ts):
 *   single                — one twin critic on r = Σ w_i v_i (the paper; the default)
 *   decomposed-<kind>     — one critic per feedback column of the simulator's reward spec, the spec's
 *                           weights, all γ = 0.95: the same objective as `single`, split into per-response critics
 *   tscac-<kind>          — the same columns and weights, γ = 0.95 for play_time_s and γ = 0 for the
 *                           interactions (like, share, comment, follow), as TSCAC treats them: a different,
 *                           more myopic objective
 * with <kind> = separate (one twin pair of MLPs per response) or multihead (`responseCritic`).
 * Runs are cached in --work by their config, like study.ts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readTrajectories } from '../../src/data/index.ts';
import { loadPolicy, train } from '../../src/rl/index.ts';
import { REWARD_WEIGHTS } from '../../src/sim/config.ts';
import { batchPolicy, behaviorPolicy, compareResults, defaultWorld, rollout, type Estimate, type RolloutResult } from '../../src/sim/index.ts';
import { prepareData, STUDY_CONFIG, type StudyOptions } from './study.ts';

const INTERACTIONS = new Set(['like', 'share', 'comment', 'follow']);

const decomposed = Object.entries(REWARD_WEIGHTS).map(([name, weight]) => ({ name, weight, gamma: 0.95 }));
const tscac = Object.entries(REWARD_WEIGHTS).map(([name, weight]) => ({ name, weight, gamma: INTERACTIONS.has(name) ? 0 : 0.95 }));
export const VARIANTS: Record<string, Record<string, unknown>> = {
  single: {},
  'decomposed-multihead': { responses: decomposed, responseCritic: 'multihead' },
  'decomposed-separate': { responses: decomposed, responseCritic: 'separate' },
  'tscac-multihead': { responses: tscac, responseCritic: 'multihead' },
  'tscac-separate': { responses: tscac, responseCritic: 'separate' },
};

export interface ResponsesStudyOptions extends Omit<StudyOptions, 'algos' | 'config'> {
  variants: string[];
}

export interface ResponsesRow {
  variant: string;
  seed: number;
  truth: Estimate;
  /** − behavior, paired */
  lift: Estimate;
  /** − single-critic BCQ of the same seed, paired (null for `single`) */
  vsSingle: Estimate | null;
  itPerSec: number;
  trainSeconds: number;
  /** final Q1(s, π(s)) on the probe states, reward units, and per response (response units) */
  policyQ: Record<string, number | null>;
}

async function trainVariant(o: ResponsesStudyOptions, data: Awaited<ReturnType<typeof readTrajectories>>, variant: string, seed: number) {
  const dir = join(o.work, 'runs', `${variant}-seed${seed}`);
  const config = { ...STUDY_CONFIG, checkpointEvery: 1_000_000, logEvery: 1000, ...VARIANTS[variant], algo: 'bcq', steps: o.steps, seed };
  const stampFile = join(dir, 'study-config.json');
  const reportFile = join(dir, 'training-report.json');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === JSON.stringify(config) && existsSync(reportFile)) {
    const r = JSON.parse(readFileSync(reportFile, 'utf8'));
    if (r.status === 'completed') return { dir, report: r };
  }
  rmSync(dir, { recursive: true, force: true });
  o.log?.(`training BCQ ${variant} (seed ${seed}) for ${o.steps} steps`);
  const { policy, report } = await train({
    batch: data.batch,
    stats: { state: data.metadata.state_stats, action: data.metadata.action_stats },
    actionNames: data.metadata.action_names,
    config,
    outDir: dir,
    keepCheckpoints: 1,
    progress: 'none',
  });
  policy.dispose();
  writeFileSync(stampFile, JSON.stringify(config));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1) + '\n');
  o.log?.(`  ${report.itPerSec.toFixed(1)} it/s, ${report.trainSeconds.toFixed(0)} s`);
  return { dir, report };
}

export async function runResponsesStudy(o: ResponsesStudyOptions) {
  mkdirSync(o.work, { recursive: true });
  for (const v of o.variants) if (!(v in VARIANTS)) throw new Error(`unknown variant '${v}' (have ${Object.keys(VARIANTS).join(', ')})`);
  const traj = await prepareData({ ...o, algos: ['bcq'], config: {} });
  const data = await readTrajectories(traj, 'train');
  const world = defaultWorld();
  const roll = (p: Parameters<typeof rollout>[0]['policy']) => rollout({ world, policy: p, sessions: o.truthSessions, seed: o.truthSeed, slots: o.slots });
  const base = await roll(behaviorPolicy());
  const results = new Map<string, RolloutResult>();
  const rows: ResponsesRow[] = [];
  const order = ['single', ...o.variants.filter((v) => v !== 'single')];
  for (const seed of o.seeds) {
    for (const variant of order) {
      const { dir, report } = await trainVariant(o, data, variant, seed);
      const policy = await loadPolicy(dir);
      let r: RolloutResult;
      try {
        r = await roll(batchPolicy(`${variant}-${seed}`, policy.act));
      } finally {
        policy.dispose();
      }
      results.set(`${variant}-${seed}`, r);
      const single = results.get(`single-${seed}`)!;
      const policyQ: Record<string, number | null> = { total: report.final.policyQMean ?? null };
      for (const [k, v] of Object.entries(report.final as Record<string, number | null>)) if (k.startsWith('policyQMean.')) policyQ[k.slice('policyQMean.'.length)] = v;
      rows.push({
        variant,
        seed,
        truth: compareResults(base, r, 'behavior', variant).b.discounted_return,
        lift: compareResults(base, r).diff.discounted_return,
        vsSingle: variant === 'single' ? null : compareResults(single, r).diff.discounted_return,
        itPerSec: report.itPerSec,
        trainSeconds: report.trainSeconds,
        policyQ,
      });
      o.log?.(`  ${variant} seed ${seed}: lift ${fmt(rows.at(-1)!.lift)}${variant === 'single' ? '' : `, vs single ${fmt(rows.at(-1)!.vsSingle!)}`}`);
    }
  }
  return { rows, behavior: compareResults(base, base).a.discounted_return, trainRows: data.batch.n, trainSessions: data.batch.sessionIds.length };
}

const fmt = (e: Estimate, d = 1) => `${e.mean >= 0 ? '+' : ''}${e.mean.toFixed(d)} [${e.ci95[0].toFixed(d)}, ${e.ci95[1].toFixed(d)}]`;

export function markdown(r: Awaited<ReturnType<typeof runResponsesStudy>>): string {
  const lines = [
    `behavior: ${r.behavior.mean.toFixed(1)} [${r.behavior.ci95[0].toFixed(1)}, ${r.behavior.ci95[1].toFixed(1)}]; ${r.trainSessions} train sessions (${r.trainRows} transitions)`,
    '',
    '| variant | seed | true discounted return | − behavior (paired 95% CI) | − single critic, same seed (paired 95% CI) | it/s | Q(π) total | Q(π) per response (response units) |',
    '|---|---|---:|---|---|---:|---:|---|',
  ];
  for (const x of r.rows) {
    const per = Object.entries(x.policyQ)
      .filter(([k]) => k !== 'total')
      .map(([k, v]) => `${k} ${v === null ? '–' : v.toPrecision(3)}`)
      .join(', ');
    lines.push(
      `| ${x.variant} | ${x.seed} | ${x.truth.mean.toFixed(1)} | ${fmt(x.lift)} | ${x.vsSingle ? fmt(x.vsSingle) : '—'} | ${x.itPerSec.toFixed(1)} | ${x.policyQ.total?.toFixed(1) ?? '–'} | ${per || '—'} |`,
    );
  }
  lines.push('', '| variant | mean over seeds: − behavior | − single critic (each seed\'s paired mean) | it/s (median) |', '|---|---:|---|---:|');
  for (const v of [...new Set(r.rows.map((x) => x.variant))]) {
    const xs = r.rows.filter((x) => x.variant === v);
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    const its = xs.map((x) => x.itPerSec).sort((a, b) => a - b);
    const vs = xs.filter((x) => x.vsSingle).map((x) => x.vsSingle!.mean);
    lines.push(
      `| ${v} | ${mean(xs.map((x) => x.lift.mean)).toFixed(1)} | ${vs.length ? `${mean(vs) >= 0 ? '+' : ''}${mean(vs).toFixed(1)} (${vs.map((x) => (x >= 0 ? '+' : '') + x.toFixed(1)).join(', ')})` : '—'} | ${its[its.length >> 1].toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const o: ResponsesStudyOptions = {
    work: resolve(opt('work', '/tmp/mtf-rl-responses')),
    sessionsPerDay: Number(opt('sessions-per-day', '1000')),
    days: Number(opt('days', '3')),
    endDate: opt('end-date', '2026-11-20'),
    logSeed: Number(opt('log-seed', '21')),
    steps: Number(opt('steps', '3000')),
    seeds: opt('seeds', '0,1,2').split(',').map(Number),
    variants: opt('variants', 'single,decomposed-separate,tscac-separate').split(','),
    truthSessions: Number(opt('truth-sessions', '2000')),
    truthSeed: Number(opt('truth-seed', '22')),
  };
  const t0 = performance.now();
  const result = await runResponsesStudy({ ...o, log: (l) => process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${l}\n`) });
  const text = markdown(result) + `\n\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s\n`;
  process.stdout.write(text);
  writeFileSync(join(o.work, 'responses-study.json'), JSON.stringify(result, null, 1) + '\n');
  const md = argv.includes('--markdown') ? opt('markdown', '') : null;
  if (md) writeFileSync(md, text);
}
