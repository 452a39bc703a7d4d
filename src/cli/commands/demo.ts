import type { Command } from 'commander';
import { join } from 'node:path';
import { GateRejectedError } from '../../export/gate.ts';
// the sizes only: the pipeline (stages/demo.ts) loads when `demo` runs
import { DEMO_SIZES } from '../../stages/demoSizes.ts';
import { examples } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description(DESCRIPTIONS.demo)
    .option('--out <dir>', 'where to write logs, the run (trajectories, training, OPE report), baselines, the model store, pipeline.json and Table 1 (table1.md, table1.json, table1.csv); its runs/, baselines/ and models/ are replaced', 'out/demo')
    .option('--quick', `small sizes for a smoke test (${DEMO_SIZES.quick.sessionsPerDay} sessions/day, ${DEMO_SIZES.quick.trainSteps} steps)`)
    .action(async (o: { out: string; quick?: boolean }) => {
      const { DEMO_PIPELINE_FILE, formatDemoTable, runDemo, writeDemoTable1 } = await import('../../stages/demo.ts');
      const res = await runDemo({ out: o.out, quick: !!o.quick, say: (line) => process.stderr.write(line + '\n') });
      const table = formatDemoTable(res.rows);
      const sizes = o.quick ? DEMO_SIZES.quick : DEMO_SIZES.full;
      // the same table for tools: table1.json and table1.csv beside table1.md
      writeDemoTable1(res.out, res.rows, { truthSessions: sizes.truthSessions });
      const pub = res.published;
      const rejected = pub?.status !== 'published';
      process.stdout.write(
        [
          '',
          `Table 1 (simulated world; true values from the simulator on ${sizes.truthSessions} fresh sessions):`,
          table,
          '',
          `model store: ${join(o.out, 'models')} — BCQ version ${pub?.version}: ${pub?.status} (${pub?.reason})`,
          ...(rejected
            ? [
                `gate:        REJECTED — nothing was published, CURRENT unchanged (exit code 5)${o.quick ? `; expected at --quick's toy sizes (${DEMO_SIZES.quick.trainSteps} training steps: BCQ is barely trained), run without --quick for the real demo` : ''}`,
              ]
            : []),
          `Table 1:     ${join(o.out, 'table1.md')}, table1.json, table1.csv`,
          `OPE report:  ${join(res.runDir, 'ope', 'ope-report.html')}`,
          `run record:  ${res.runDir}`,
          `its status:  npx mtf status --config ${join(o.out, DEMO_PIPELINE_FILE)} --no-redis`,
          `finished in ${res.seconds.toFixed(0)} s`,
          '',
        ].join('\n'),
      );
      if (rejected && pub) {
        const manifest = join(o.out, 'models', 'fusion', pub.version, 'manifest.json');
        throw new GateRejectedError(`demo: the gate rejected BCQ (${pub.version}): nothing was published, CURRENT unchanged (see ${manifest})`, pub.version, manifest);
      }
    });
  examples(cmd, ['mtf demo --quick --out /tmp/demo   # toy sizes, about a minute', 'mtf demo   # the full demo, a few minutes; writes out/demo']);
}
