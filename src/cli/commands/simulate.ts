import type { Command } from 'commander';
import { InputError } from '../../errors/index.ts';
// Only what --help needs loads at start; the simulator (apache-arrow, parquet writers, onnxruntime) when it runs.
import { WorldConfigSchema } from '../../sim/config.ts';
import { REWARD_SPEC } from '../../sim/rewardSpec.ts';
import { POLICY_SPEC_HELP } from '../../sim/specHelp.ts';
import type { FusionPolicy } from '../../sim/index.ts';
import { parseNumberFlag } from '../flags.ts';

const DEFAULT_SESSIONS_PER_DAY = 10_000;

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('simulate logged sessions (mixed multi-exploration around a production policy) as Hive-partitioned zstd parquet')
    .requiredOption('--out <dir>', 'log folder: files go to <dir>/dt=YYYY-MM-DD/part-NNNNN.parquet')
    .requiredOption('--end-date <YYYY-MM-DD>', 'last day simulated (UTC)')
    .option('--days <n>', 'days simulated, ending at --end-date', '3')
    .option('--sessions-per-day <n>', 'sessions that start each day', String(DEFAULT_SESSIONS_PER_DAY))
    .option('--seed <n>', 'drives the sessions (the world comes from --world-seed)', '0')
    .option('--policy <spec>', `production policy the exploration centres on: ${POLICY_SPEC_HELP} (default: the hand-tuned constant α)`)
    .option('--world-seed <n>', `world seed (default ${WorldConfigSchema.parse({}).seed})`)
    .option('--quiet', 'print only the summary line')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { createWorld, parseDate, policyFromSpec, simulateLogs } = await import('../../sim/index.ts');
      const endDate = String(o.endDate);
      try {
        parseDate(endDate);
      } catch {
        throw new InputError(`--end-date: expected a date YYYY-MM-DD, got '${endDate}'`, { field: '--end-date' });
      }
      const days = parseNumberFlag(String(o.days), '--days', { integer: true, min: 1, max: 366 });
      const sessionsPerDay = parseNumberFlag(String(o.sessionsPerDay), '--sessions-per-day', { integer: true, min: 1 });
      const seed = parseNumberFlag(String(o.seed), '--seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
      const worldSeed = o.worldSeed === undefined ? undefined : parseNumberFlag(String(o.worldSeed), '--world-seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
      const world = createWorld(worldSeed === undefined ? {} : { world: { seed: worldSeed } });
      let production: FusionPolicy | undefined;
      if (o.policy !== undefined) {
        const spec = String(o.policy);
        if (spec.startsWith('behavior')) throw new InputError(`--policy: the production policy cannot be '${spec}'; the behavior policy is what simulate runs around it`, { field: '--policy' });
        production = await policyFromSpec(spec);
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
          out: String(o.out),
          onDay: o.quiet ? undefined : (d) => process.stderr.write(`  ${d.date}: ${d.sessions} sessions, ${d.rows} requests\n`),
        });
        const secs = (performance.now() - t0) / 1000;
        process.stdout.write(
          `simulated ${r.sessions} sessions (${r.rows} requests) in ${secs.toFixed(1)} s around ${r.policy} → ${r.files.length} files in ${r.out}; ` +
            `ingest with --reward-weights ${REWARD_SPEC}\n`,
        );
      } finally {
        await production?.dispose?.();
      }
    });
}
