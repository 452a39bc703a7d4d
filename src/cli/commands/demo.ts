import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { ingest, parseRewardWeights } from '../../data/index.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
/** The embedded default log: a Spark-style Hive-partitioned export committed with the test fixtures. */
export const DEMO_LOGS = join(ROOT, 'test/fixtures/logs/duckdb-hive-spark-window');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline end to end on an embedded default log, no Redis needed (today: the ingest stage)')
    .option('--out <dir>', 'where to write the demo outputs', 'out/demo')
    .option('--quick', 'small sizes (smoke test)')
    .action(async (o: { out: string; quick?: boolean }) => {
      const out = join(o.out, 'trajectories');
      process.stdout.write(`ingest: ${DEMO_LOGS} (window 2026-11-18 … 2026-11-20)\n`);
      const { report: r, metadata: m } = await ingest({
        logs: DEMO_LOGS,
        window: { endDate: '2026-11-20', days: 3 },
        reward: parseRewardWeights('play_time_s=1,like=2,share=4'),
        out,
      });
      const rejected = Object.entries(r.rows_rejected).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
      process.stdout.write(
        [
          `  files read        ${r.files}`,
          `  rows read         ${r.rows_read} (rejected: ${rejected}; duplicates removed: ${r.duplicate_rows_removed})`,
          `  sessions          ${r.sessions} kept (${r.train_sessions} train / ${r.test_sessions} test), ${r.sessions_dropped} dropped`,
          `  transitions       ${r.transitions}: ${r.terminal_transitions} terminal, ${r.truncated_transitions} truncated by the window's end`,
          `  reward sum        ${r.reward_sum.toFixed(2)} (r = ${Object.entries(m.reward_weights).map(([k, v]) => `${v}·${k}`).join(' + ')})`,
          `  dims              state ${r.state_dim}, action ${r.action_dim}`,
          `  written           ${out}/{train,test}.arrow, metadata.json, ingest-report.json`,
          '',
        ].join('\n'),
      );
    });
}
