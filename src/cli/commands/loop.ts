import { Option, type Command } from 'commander';
import { examples, intArg } from '../flags.ts';

export function registerLoop(program: Command): void {
  const cmd = program
    .command('loop')
    .description(
      'the nightly loop closed over successive nights, in the simulator: each night the ranking stack (FusionScorer on the model store, ' +
        'with its manifest\'s exploration) serves a day of traffic, the nightly pipeline retrains on the last 3 days and gates/publishes, ' +
        'and the simulator\'s truth of the served version and the candidate is recorded in <dir>/loop.json and <dir>/loop.html. ' +
        'Resumable: run the same command again to continue with the night it was in',
    )
    .requiredOption('--dir <dir>', 'the loop\'s folder: logs/, runs/, models/, loop.json, loop.html')
    .addOption(new Option('--start <name>', 'the constant α served before the first publish: tuned = the paper\'s setting, hand-tuned = the legacy production').choices(['tuned', 'hand-tuned']).default('tuned'))
    .addOption(new Option('--nights <n>', 'nights to run (in all, counting those done before)').argParser(intArg(1, 365)).default(7))
    .addOption(new Option('--size <name>', 'tiny (a test) or demo (the demo\'s sizes)').choices(['tiny', 'demo']).default('demo'))
    .addOption(new Option('--gate <rule>', "the gate's value check: interval = candidate's V̂ lower bound ≥ the served model's V̂; paired = the paired bootstrap interval of the difference ≥ 0").choices(['interval', 'paired']).default('paired'))
    .option('--stress', 'replace every night\'s candidate by a bad one (TD3, a wrong reward spec, a wrong β, half a day of data, in turn): the gate must keep them out')
    .action(async (o: { dir: string; start: 'tuned' | 'hand-tuned'; nights: number; size: 'tiny' | 'demo'; stress?: boolean; gate: 'interval' | 'paired' }) => {
      const { runLoop, loopPaths } = await import('../../stages/loop.ts');
      const t0 = performance.now();
      const state = await runLoop({ ...o, say: (line) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}\n`) });
      const p = loopPaths(o.dir);
      const last = state.nights.at(-1);
      const harmful = state.nights.filter((n) => n.verdict.harmful).length;
      process.stdout.write(
        `${state.nights.length} nights; served now: ${last?.current_after ?? 'the start constant'}` +
          (last ? `, true lift of the last served version vs the ${state.config.start} constant ${(100 * last.served.lift_vs_start.mean).toFixed(2)}%` : '') +
          `; harmful publishes ${harmful}\n${p.state}\n${p.html}\n`,
      );
    });
  examples(cmd, ['mtf loop --dir out/loop-tuned --nights 7', 'mtf loop --dir out/loop-stress --stress --nights 4', 'mtf loop --dir /tmp/loop --size tiny --nights 2']);
}
