import type { Command } from 'commander';
import { z } from 'zod';
import { IngestConfig, loadConfigFile } from '../../config/index.ts';
import { ingest, INGEST_DEFAULTS, parseRewardWeights, type RewardSpec } from '../../data/index.ts';
import { InputError } from '../../errors/index.ts';
import { parseNumberFlag } from '../flags.ts';

/** A config file may hold sections for every stage; `ingest` reads its own. */
const ConfigFile = z.object({ ingest: IngestConfig.default(IngestConfig.parse({})) }).passthrough();

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('read parquet interaction logs and write session trajectories (train/test Arrow files, metadata.json, ingest-report.json)')
    .requiredOption('--logs <path>', 'a parquet file or a folder of them (Hive partitions dt=YYYY-MM-DD)')
    .requiredOption('--out <dir>', 'output directory (replaced atomically when the ingest succeeds)')
    .option('--reward-weights <spec>', 'reward r = Σ w·v over feedback columns (Eq. 2), e.g. play_time_s=1,like=2,share=4 (or ingest.reward_weights in --config)')
    .option('--end-date <YYYY-MM-DD>', 'last day of the data window (inclusive); without it every file is read and no session is truncated')
    .option('--days <n>', `days in the window, ending at --end-date (default ${INGEST_DEFAULTS.windowDays})`)
    .option('--gap-minutes <m>', `a session whose last request is this close to the window end is truncated, not terminal (default ${INGEST_DEFAULTS.inactivityGapMinutes})`)
    .option('--test-fraction <f>', `share of sessions (the latest by start) held out as the test split (default ${INGEST_DEFAULTS.testFraction})`)
    .option('--threads <n>', `DuckDB reader threads (default ${INGEST_DEFAULTS.threads})`)
    .option('--config <file>', 'YAML or JSON config; its `ingest:` section sets defaults that flags override')
    .option('--quiet', 'print only the summary line')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const cfg = o.config ? loadConfigFile(String(o.config), ConfigFile).ingest : IngestConfig.parse({});
      let reward: RewardSpec;
      if (o.rewardWeights !== undefined) reward = parseRewardWeights(String(o.rewardWeights));
      else if (cfg.reward_weights) reward = { weights: cfg.reward_weights };
      else throw new InputError('--reward-weights: required (or ingest.reward_weights in --config)', { field: '--reward-weights' });
      if (o.days !== undefined && o.endDate === undefined) throw new InputError('--days needs --end-date', { field: '--days' });
      const num = (flag: string, v: unknown, fallback: number, rule: Parameters<typeof parseNumberFlag>[2]) =>
        v === undefined ? fallback : parseNumberFlag(String(v), flag, rule);
      const result = await ingest({
        logs: String(o.logs),
        window: o.endDate ? { endDate: String(o.endDate), days: num('--days', o.days, cfg.window_days, { integer: true, min: 1 }) } : null,
        reward,
        out: String(o.out),
        inactivityGapMinutes: num('--gap-minutes', o.gapMinutes, cfg.inactivity_gap_minutes, { min: 0 }),
        testFraction: num('--test-fraction', o.testFraction, cfg.test_fraction, { min: 0, max: 0.99 }),
        threads: num('--threads', o.threads, cfg.threads, { integer: true, min: 1 }),
        onProgress: o.quiet ? undefined : (line) => process.stderr.write(`  ${line}\n`),
      });
      const r = result.report;
      process.stdout.write(
        `ingested ${r.rows_read} rows from ${r.files} files in ${r.seconds.toFixed(2)} s: ${r.sessions} sessions ` +
          `(${r.train_sessions} train, ${r.test_sessions} test), ${r.transitions} transitions, ` +
          `${r.sessions_dropped} sessions dropped, ${Object.values(r.rows_rejected).reduce((a, b) => a + b, 0)} rows rejected → ${result.out}\n`,
      );
    });
}
