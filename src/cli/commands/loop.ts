import { InvalidArgumentError, Option, type Command } from 'commander';
import { ALGOS, type AlgoName } from '../../rl/config.ts';
import { examples, intArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

/** --train-config: a JSON object (its fields are checked against --algo's schema by runLoop). */
function jsonObjectArg(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON (${(err as Error).message}): expected an object such as '{"expectile":0.7}'`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`expected a JSON object of train config fields, got ${text}`);
  return v as Record<string, unknown>;
}

export function registerLoop(program: Command): void {
  const cmd = program
    .command('loop')
    .description(DESCRIPTIONS.loop)
    .requiredOption('--dir <dir>', 'the loop\'s folder: logs/, runs/, models/, loop.json, loop.html')
    .addOption(new Option('--start <name>', 'the constant α served before the first publish: tuned = the paper\'s setting, hand-tuned = the legacy production').choices(['tuned', 'hand-tuned']).default('tuned'))
    .addOption(new Option('--nights <n>', 'nights to run (in all, counting those done before)').argParser(intArg(1, 365)).default(7))
    .addOption(new Option('--size <name>', 'tiny (a test) or demo (the demo\'s sizes)').choices(['tiny', 'demo']).default('demo'))
    .addOption(new Option('--gate <rule>', "the gate's value check: interval = candidate's V̂ lower bound ≥ the served model's V̂; paired = the paired bootstrap interval of the difference ≥ 0").choices(['interval', 'paired']).default('paired'))
    .addOption(
      new Option(
        '--exploration <preset>',
        "online exploration of the published versions and of the start constant before them: gaussian = the paper's random (σ 0.3) and action-noise (σ 0.1) arms; " +
          'uniform = bounded uniform α ~ U[μ ± 0.13] (issue 21 §3, after UnifiedRL); both 90% of sessions beside a 10% control group (schemas/exploration.md)',
      )
        .choices(['gaussian', 'uniform'])
        .default('gaussian'),
    )
    .addOption(new Option('--algo <name>', 'the nightly training algorithm (mtf train --algo)').choices([...ALGOS]).default('bcq'))
    .addOption(
      new Option(
        '--train-config <json>',
        "a JSON object merged into the pipeline's train.config: the flat fields of `mtf train --algo <name> --help-config`, e.g. '{\"expectile\":0.7,\"temperature\":3}' for iql; checked against --algo's schema (a field it does not have is an error)",
      ).argParser(jsonObjectArg),
    )
    .option('--stress', 'replace every night\'s candidate by a bad one (TD3, a wrong reward spec, a wrong β, half a day of data, in turn): the gate must keep them out')
    .action(async (o: { dir: string; start: 'tuned' | 'hand-tuned'; nights: number; size: 'tiny' | 'demo'; stress?: boolean; gate: 'interval' | 'paired'; exploration: 'gaussian' | 'uniform'; algo: AlgoName; trainConfig?: Record<string, unknown> }) => {
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
  examples(cmd, [
    'mtf loop --dir out/loop-tuned --nights 7',
    'mtf loop --dir out/loop-uniform-iql-box --nights 7 --exploration uniform --algo iql --train-config \'{"behaviorBox":{"halfWidth":0.13}}\'',
    'mtf loop --dir out/loop-stress --stress --nights 4',
  ]);
}
