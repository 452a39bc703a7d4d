import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { ingest, parseRewardWeights } from '../../data/index.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline end to end on an embedded default, no Redis needed')
    .option('--out <dir>', 'where to write the demo outputs', 'out/demo')
    .option('--quick', 'small sizes (smoke test)')
    .action(async (o: { out: string; quick?: boolean }) => {
      const logs = join(ROOT, 'test/fixtures/logs/hive_window');
      const result = await ingest({
        logs,
        window: { endDate: '2026-11-20', days: 3 },
        reward: parseRewardWeights('play_time_s=1,like=2,share=4'),
        out: join(o.out, 'trajectories'),
      });
      process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
    });
}
