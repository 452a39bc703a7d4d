/**
 * The three-log trust study (issue 19): `npm run study:trust`.
 *
 *   node --import tsx test/ope/trust.study.ts [--seeds 101,202,303] [--work /tmp/mtf-trust]
 *     [--sessions-per-day 5000] [--days 3] [--bootstrap 8] [--bootstrap-iterations 400] [--truth-sessions 20000]
 *     [--out src/ope/figures] [--tag ''] [--summary-only]
 *
 * Per log seed (new sessions of the default world, the tuned constant in production, nothing tuned on
 * them): simulate → ingest → train BC, TD3, TD3+BC, TSCAC and BCQ (checkpoints) → `evaluatePolicies`
 * with the product's defaults (except the bootstrap count, stated) → roll every policy out in the
 * simulator → save <work>/s<seed>/trust.json. Then one summary over the seeds (src/ope/figures/trust<tag>.md
 * and .json): in-distribution ρ and regret@1 of the point estimates, the same for the report's
 * tie-aware ranking (paired intervals), interval coverage, and the out-of-support policies' place.
 * Everything expensive is cached in the work folders, so a rerun only repeats what is missing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStudy, type StudyRow } from './study.ts';
import { summarizeTrust, trustMarkdown, type TrustLog } from './trust.ts';
import { TUNED_PRODUCTION_ALPHA } from '../../src/sim/config.ts';
import { Rng } from '../../src/rl/rng.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const num = (name: string, def: number) => Number(opt(name, String(def)));
const seeds = opt('seeds', '101,202,303').split(',').map(Number);
const work = opt('work', '/tmp/mtf-trust');
const out = opt('out', join(import.meta.dirname, '..', '..', 'src', 'ope', 'figures'));
const tag = opt('tag', '');
const sessionsPerDay = num('sessions-per-day', 5000);
// --variant <name> --fqe '{json}': the same logs, policies and truths, the in-distribution policies of the
// default run re-evaluated with an FQE override; saved as trust-<name>.json beside trust.json
const variant = opt('variant', '');
const fqe = JSON.parse(opt('fqe', '{}')) as Record<string, unknown>;

/**
 * Constants near the tuned one (inside the logged support: the behavior policy explores around it with
 * σ 0.3 and 0.1) and one far from it; drawn from a fixed seed, the same on every log.
 */
function perturbations(): Record<string, number[]> {
  const rng = new Rng(19);
  const near = (s: number) => TUNED_PRODUCTION_ALPHA.map((x) => x + s * rng.normal());
  return {
    'tuned+δ1': near(0.1),
    'tuned+δ2': near(0.1),
    'tuned+δ3': near(0.2),
    'far-constant': TUNED_PRODUCTION_ALPHA.map((x, j) => x + (j % 2 === 0 ? 0.9 : -0.9)),
  };
}

const logs: TrustLog[] = [];
for (const seed of seeds) {
  const dir = join(work, `s${seed}`);
  const file = join(dir, variant ? `trust-${variant}.json` : 'trust.json');
  if (!existsSync(file)) {
    const base = join(dir, 'trust.json');
    // a variant re-evaluates the default run's in-distribution policies, or those --include names
    const named = opt('include', '');
    if (variant && !named && !existsSync(base)) throw new Error(`${base}: run the default study of seed ${seed} before a variant, or name its policies with --include`);
    const include = named ? named.split(',') : variant ? (JSON.parse(readFileSync(base, 'utf8')) as TrustLog).rows.filter((r) => r.ood < 0.2).map((r) => r.name) : undefined;
    if (args.includes('--summary-only')) continue;
    const t0 = performance.now();
    const r = await runStudy({
      work: dir,
      seed,
      sessionsPerDay,
      days: num('days', 3),
      train: { bc: 3000, td3: 4000, td3bc: 5000, tscac: 6000, bcq: 6000, checkpointEvery: 2000 },
      // TSCAC's stage one (the per-response policies) scaled with the run: 2000 of its 6000 steps (default 10,000 of 20,000)
      algoConfig: { tscac: { stageOneSteps: 2000 } },
      checkpoints: { bcq: [2000, 4000] },
      constants: perturbations(),
      ope: { bootstrap: num('bootstrap', 8), bootstrapIterations: num('bootstrap-iterations', 400), fqe },
      include,
      truthSessions: num('truth-sessions', 20000),
      log: (l) => process.stderr.write(`[s${seed}] ${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${l}\n`),
    });
    const saved: TrustLog = {
      seed,
      sessionsPerDay,
      rows: r.rows.map((row: StudyRow, i) => ({ ...row, replicates: r.report.policies[i].bootstrap.values })),
      shipMaxOod: r.report.config.shipMaxOod,
      data: { sessions: r.report.data.sessions, transitions: r.report.data.transitions },
      bootstrap: { resamples: r.report.config.bootstrap, iterations: r.report.config.bootstrapIterations ?? r.report.config.fqe.iterations },
      seconds: r.seconds,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, variant ? `ope-report-${variant}.json` : 'ope-report.json'), JSON.stringify(r.report) + '\n');
    writeFileSync(file, JSON.stringify(saved, null, 1) + '\n');
  }
  const log = JSON.parse(readFileSync(file, 'utf8')) as TrustLog;
  // --merge <variant>: add that variant's rows (policies not already here; resamples are shared, so
  // paired comparisons stay valid across the two runs)
  const merge = opt('merge', '');
  const extra = merge ? join(dir, `trust-${merge}.json`) : '';
  if (extra && existsSync(extra)) for (const r of (JSON.parse(readFileSync(extra, 'utf8')) as TrustLog).rows) if (!log.rows.some((x) => x.name === r.name)) log.rows.push(r);
  logs.push(log);
}
const summary = summarizeTrust(logs);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `trust${tag}.json`), JSON.stringify({ command: `npm run study:trust -- ${args.join(' ')}`.trim(), ...summary }, null, 1) + '\n');
const md = trustMarkdown(summary);
writeFileSync(join(out, `trust${tag}.md`), md + '\n');
process.stdout.write(md + '\n');
