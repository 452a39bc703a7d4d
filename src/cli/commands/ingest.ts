import type { Command } from 'commander';
import { ingest, INGEST_DEFAULTS, parseRewardWeights } from '../../data/index.ts';
import { InputError } from '../../errors/index.ts';
import { parseNumberFlag } from '../flags.ts';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('read parquet interaction logs and write session trajectories (train/test Arrow files, metadata.json, ingest-report.json)')
    .requiredOption('--logs <path>', 'a parquet file or a folder of them (Hive partitions dt=YYYY-MM-DD)')
    .requiredOption('--reward-weights <spec>', 'reward r = Σ w·v over feedback columns (Eq. 2), e.g. play_time_s=1,like=2,share=4')
    .requiredOption('--out <dir>', 'output directory (replaced atomically when the ingest succeeds)')
    .option('--end-date <YYYY-MM-DD>', 'last day of the data window (inclusive)')
    .option('--days <n>', 'days in the window, ending at --end-date', '3')
    .option('--gap-minutes <m>', 'a session whose last request is this close to the window end is truncated, not terminal', String(INGEST_DEFAULTS.inactivityGapMinutes))
    .option('--test-fraction <f>', 'share of sessions (the latest by start) held out as the test split', String(INGEST_DEFAULTS.testFraction))
    .option('--threads <n>', 'DuckDB reader threads', String(INGEST_DEFAULTS.threads))
    .option('--quiet', 'print only the summary line')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const days = parseNumberFlag(String(o.days), '--days', { integer: true, min: 1 });
      if (o.endDate === undefined && program.getOptionValueSource?.('days') === 'cli') {
        throw new InputError('--days needs --end-date', { field: '--days' });
      }
      const result = await ingest({
        logs: String(o.logs),
        window: o.endDate ? { endDate: String(o.endDate), days } : null,
        reward: parseRewardWeights(String(o.rewardWeights)),
        out: String(o.out),
        inactivityGapMinutes: parseNumberFlag(String(o.gapMinutes), '--gap-minutes', { min: 0 }),
        testFraction: parseNumberFlag(String(o.testFraction), '--test-fraction', { min: 0, max: 0.99 }),
        threads: parseNumberFlag(String(o.threads), '--threads', { integer: true, min: 1 }),
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
