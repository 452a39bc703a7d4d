import { Option, type Command } from 'commander';
import { z } from 'zod';
// Only zod-only modules load eagerly (for the help's defaults): the reader (DuckDB) and YAML load when `ingest` runs.
import { IngestConfig } from '../../config/ingest.ts';
import { parseRewardWeights, type RewardSpec } from '../../data/rewardSpec.ts';
import { dateArg, examples, intArg, laterDefault, numberArg, parsedArg, parseNumberList, UsageError } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

/** A config file may hold sections for every stage; `ingest` reads its own. */
const ConfigFile = z.object({ ingest: IngestConfig.default(IngestConfig.parse({})) }).passthrough();
/** the library's defaults (data/ingest.ts INGEST_DEFAULTS is made from the same parse) */
const INGEST_DEFAULTS = IngestConfig.parse({});

interface IngestFlags {
  logs: string;
  out: string;
  rewardWeights?: RewardSpec;
  endDate?: string;
  days?: number;
  gapMinutes?: number;
  testFraction?: number;
  threads?: number;
  beta?: number | number[];
  config?: string;
  quiet?: boolean;
}

export function registerIngest(program: Command): void {
  const cmd = program
    .command('ingest')
    .description(DESCRIPTIONS.ingest)
    .requiredOption('--logs <path>', 'a parquet file or a folder of them (Hive partitions dt=YYYY-MM-DD)')
    .requiredOption('--out <dir>', 'output directory (replaced atomically when the ingest succeeds)')
    .addOption(
      new Option('--reward-weights <spec>', 'reward r = Σ w·v over feedback columns (Eq. 2), e.g. play_time_s=1,like=2,share=4; required unless --config has ingest.reward_weights').argParser(
        parsedArg('--reward-weights', (t) => parseRewardWeights(t)),
      ),
    )
    .addOption(new Option('--end-date <YYYY-MM-DD>', 'last day of the data window (inclusive); without it every file is read and no session is truncated').argParser(dateArg))
    // defaults come from --config's ingest: section, else the library's: commander must not fill them in
    .addOption(laterDefault(new Option('--days <n>', 'days in the window, ending at --end-date').argParser(intArg(1)), INGEST_DEFAULTS.window_days))
    .addOption(laterDefault(new Option('--gap-minutes <m>', 'a session whose last request is this close to the window end is truncated, not terminal').argParser(numberArg({ min: 0 })), INGEST_DEFAULTS.inactivity_gap_minutes))
    .addOption(laterDefault(new Option('--test-fraction <f>', 'share of sessions (the latest by start) held out as the test split').argParser(numberArg({ min: 0, max: 0.99 })), INGEST_DEFAULTS.test_fraction))
    .addOption(laterDefault(new Option('--threads <n>', 'DuckDB reader threads').argParser(intArg(1)), INGEST_DEFAULTS.threads))
    .addOption(
      laterDefault(
        new Option('--beta <list>', "β of Eq. (1) the logs were ranked with, f = Σ α_i·log(o_i + β_i): one number or one per action element, comma-separated; for logs whose writer cannot set the parquet footer key mtf.beta (must agree with it where files have it)").argParser(
          parsedArg('--beta', (t) => parseNumberList(t, '--beta', { min: 0 })),
        ),
        "the files' footer key mtf.beta, else unknown (null in metadata.json)",
      ),
    )
    .option('--config <file>', 'YAML or JSON config; its `ingest:` section sets defaults that flags override')
    .option('--quiet', 'print only the summary line')
    .action(async (o: IngestFlags) => {
      const { loadConfigFile } = await import('../../config/load.ts');
      const { ingest } = await import('../../data/ingest.ts');
      const cfg = o.config ? loadConfigFile(o.config, ConfigFile).ingest : IngestConfig.parse({});
      let reward: RewardSpec;
      if (o.rewardWeights !== undefined) reward = o.rewardWeights;
      else if (cfg.reward_weights) reward = { weights: cfg.reward_weights };
      else throw new UsageError("required option '--reward-weights <spec>' not specified (or ingest.reward_weights in --config)", '--reward-weights');
      if (o.days !== undefined && o.endDate === undefined) throw new UsageError('--days needs --end-date', '--days');
      const result = await ingest({
        logs: o.logs,
        window: o.endDate ? { endDate: o.endDate, days: o.days ?? cfg.window_days } : null,
        reward,
        out: o.out,
        inactivityGapMinutes: o.gapMinutes ?? cfg.inactivity_gap_minutes,
        testFraction: o.testFraction ?? cfg.test_fraction,
        threads: o.threads ?? cfg.threads,
        beta: o.beta ?? cfg.beta,
        onProgress: o.quiet ? undefined : (line) => process.stderr.write(`  ${line}\n`),
      });
      const r = result.report;
      process.stdout.write(
        `ingested ${r.rows_read} rows from ${r.files} files in ${r.seconds.toFixed(2)} s: ${r.sessions} sessions ` +
          `(${r.train_sessions} train, ${r.test_sessions} test), ${r.transitions} transitions, ` +
          `${r.sessions_dropped} sessions dropped, ${Object.values(r.rows_rejected).reduce((a, b) => a + b, 0)} rows rejected → ${result.out}\n`,
      );
    });
  examples(cmd, [
    'mtf ingest --logs logs --end-date 2026-11-20 --days 3 --reward-weights play_time_s=1,like=2,share=4 --out traj',
    'mtf ingest --logs logs/dt=2026-11-20/part-00000.parquet --config mtf.yaml --out traj --quiet   # mtf.yaml: ingest: { reward_weights: { like: 1 } }',
  ]);
}
