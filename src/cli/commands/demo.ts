import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_SIZES, formatDemoTable, runDemo } from '../../stages/demo.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole pipeline on one machine, no Redis: simulate 3 days of logs, ingest, train BCQ + baselines, ' +
        "evaluate off-policy, gate and publish, and print the paper's Table 1 for the simulated world",
    )
    .option('--out <dir>', 'where to write logs, the run (trajectories, training, OPE report), baselines and the model store; its runs/ and models/ are replaced', 'out/demo')
    .option('--quick', `small sizes for a smoke test (${DEMO_SIZES.quick.sessionsPerDay} sessions/day, ${DEMO_SIZES.quick.trainSteps} steps)`)
    .action(async (o: { out: string; quick?: boolean }) => {
      const res = await runDemo({ out: o.out, quick: !!o.quick, say: (line) => process.stderr.write(line + '\n') });
      const table = formatDemoTable(res.rows);
      writeFileSync(join(o.out, 'table1.md'), table + '\n');
      process.stdout.write(
        [
          '',
          `Table 1 (simulated world; true values from the simulator on ${(o.quick ? DEMO_SIZES.quick : DEMO_SIZES.full).truthSessions} fresh sessions):`,
          table,
          '',
          `model store: ${join(o.out, 'models')} — BCQ version ${res.published?.version}: ${res.published?.status} (${res.published?.reason})`,
          `OPE report:  ${join(res.runDir, 'ope', 'ope-report.html')}`,
          `run record:  ${res.runDir} (npx mtf status --config … shows it)`,
          `finished in ${res.seconds.toFixed(0)} s`,
          '',
        ].join('\n'),
      );
    });
}
