import { Option, type Command } from 'commander';
import { InputError } from '../../errors/index.ts';
// Only what --help needs loads at start; the simulator (apache-arrow, parquet writers, onnxruntime) when it runs.
import { DEFAULT_SCENARIO, SCENARIOS, WorldConfigSchema, type ScenarioName } from '../../sim/config.ts';
import { REWARD_SPEC } from '../../sim/rewardSpec.ts';
import { POLICY_SPEC_HELP } from '../../sim/specHelp.ts';
import type { FusionPolicy } from '../../sim/index.ts';
import { dateArg, examples, intArg, laterDefault, seedArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

const DEFAULT_SESSIONS_PER_DAY = 10_000;

interface SimulateFlags {
  out: string;
  endDate: string;
  days: number;
  sessionsPerDay: number;
  seed: number;
  policy?: string;
  scenario: ScenarioName;
  worldSeed?: number;
  quiet?: boolean;
}

export function registerSimulate(program: Command): void {
  const cmd = program
    .command('simulate')
    .description(DESCRIPTIONS.simulate)
    .requiredOption('--out <dir>', 'log folder: files go to <dir>/dt=YYYY-MM-DD/part-NNNNN.parquet')
    .addOption(new Option('--end-date <YYYY-MM-DD>', 'last day simulated (UTC)').argParser(dateArg).makeOptionMandatory())
    .addOption(new Option('--days <n>', 'days simulated, ending at --end-date').argParser(intArg(1, 366)).default(3))
    .addOption(new Option('--sessions-per-day <n>', 'sessions that start each day').argParser(intArg(1)).default(DEFAULT_SESSIONS_PER_DAY))
    .addOption(new Option('--seed <n>', 'drives the sessions (the world comes from --world-seed)').argParser(seedArg).default(0))
    .addOption(
      new Option('--scenario <name>', `the world's production policy: ${Object.entries(SCENARIOS).map(([k, v]) => `${k} = ${v.doc}`).join('; ')}`)
        .choices(Object.keys(SCENARIOS))
        .default(DEFAULT_SCENARIO),
    )
    .addOption(
      laterDefault(
        new Option(
          '--policy <spec>',
          `production policy the exploration centres on, instead of the scenario's: ${POLICY_SPEC_HELP} | a training output dir | a model store version dir; ` +
            'or store:<store>/<model>: the ranking stack itself serves the traffic (FusionScorer following CURRENT, with its manifest\'s exploration arms: policy_id <arm>:<version>)',
        ),
        "the scenario's constant α",
      ),
    )
    .addOption(laterDefault(new Option('--world-seed <n>', 'world seed').argParser(seedArg), WorldConfigSchema.parse({}).seed))
    .option('--quiet', 'print only the summary line')
    .action(async (o: SimulateFlags) => {
      const { createWorld, simulateLogs } = await import('../../sim/index.ts');
      const { resolvePolicy } = await import('../policyArg.ts');
      const { endDate, days, sessionsPerDay, seed, worldSeed } = o;
      const world = createWorld(worldSeed === undefined ? {} : { world: { seed: worldSeed } });
      let production: FusionPolicy | undefined;
      let stack: FusionPolicy | undefined;
      let closeStack: (() => Promise<void>) | undefined;
      if (o.policy?.startsWith('store:')) {
        const { openStackPolicy } = await import('../policyArg.ts');
        ({ policy: stack, close: closeStack } = await openStackPolicy(o.policy.slice('store:'.length)));
      } else if (o.policy !== undefined) {
        const spec = o.policy;
        if (spec.startsWith('behavior')) throw new InputError(`--policy: the production policy cannot be '${spec}'; the behavior policy is what simulate runs around it`, { field: '--policy' });
        // a store version or training dir too: the next night's logs, explored around last night's model
        production = await resolvePolicy(spec);
      } else if (o.scenario !== DEFAULT_SCENARIO) {
        const { constantPolicy } = await import('../../sim/index.ts');
        production = constantPolicy(SCENARIOS[o.scenario].productionAlpha, o.scenario);
      }
      const t0 = performance.now();
      try {
        const r = await simulateLogs({
          world,
          endDate,
          days,
          sessionsPerDay,
          seed,
          production,
          stack,
          out: o.out,
          onDay: o.quiet ? undefined : (d) => process.stderr.write(`  ${d.date}: ${d.sessions} sessions, ${d.rows} requests\n`),
        });
        const secs = (performance.now() - t0) / 1000;
        process.stdout.write(
          `simulated ${r.sessions} sessions (${r.rows} requests) in ${secs.toFixed(1)} s around ${r.policy} → ${r.files.length} files in ${r.out}; ` +
            `ingest with --reward-weights ${REWARD_SPEC}\n`,
        );
      } finally {
        await production?.dispose?.();
        await closeStack?.();
      }
    });
  examples(cmd, [
    'mtf simulate --out logs --end-date 2026-11-20 --days 3 --sessions-per-day 10000 --seed 1',
    'mtf simulate --out logs --end-date 2026-11-20 --scenario hand-tuned-production --quiet',
    'mtf simulate --out logs --end-date 2026-11-21 --days 1 --policy models/fusion/nightly-2026-11-20/policy.onnx',
  ]);
}
