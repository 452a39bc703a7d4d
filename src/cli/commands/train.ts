import { Option, type Command } from 'commander';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../errors/index.ts';
// Only the (zod-only) config module is loaded eagerly: YAML, the trajectory reader and tfjs load when `train` actually runs.
import { ALGOS, BACKENDS, describeConfig, runConfigSchema, type AlgoName } from '../../rl/config.ts';
import { examples, intArg, laterDefault, numberArg, requiredLater, requireFlag, seedArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

/** A config file may hold sections for every stage; `train` reads its `train:` section (or, without one, the whole file). */
const ConfigFile = z.record(z.string(), z.unknown());
const TRAINER_DEFAULTS = runConfigSchema('bcq').parse({}) as { steps: number; seed: number; checkpointEvery: number; logEvery: number; backend: string; threads: number };

interface TrainFlags {
  data?: string;
  sampleSessions?: number;
  out?: string;
  algo?: AlgoName;
  steps?: number;
  config?: string;
  seed?: number;
  backend?: string;
  threads?: number;
  checkpointEvery?: number;
  logEvery?: number;
  resume?: boolean;
  progress: 'auto' | 'bar' | 'lines' | 'none';
  helpConfig?: boolean;
}

/**
 * A new run never writes into another run's folder: its checkpoints would sit beside the old run's,
 * and a checkpoint picked by hand could mix the two. --resume continues the run that is there.
 */
function checkFreshOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InputError(`--out: ${out} is a file, not a folder`, { file: out, field: '--out' });
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  const latest = join(out, 'checkpoints', 'LATEST');
  const what = existsSync(latest) ? `a training run, latest checkpoint ${readFileSync(latest, 'utf8').trim()}` : `${entries.length} file(s): ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}`;
  throw new InputError(`--out: ${out} is not empty (${what}); --resume continues that run, or give a new --out (delete the folder to start over)`, { file: out, field: '--out' });
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description(DESCRIPTIONS.train)
    .addOption(requiredLater(new Option('--data <dir>', 'trajectories directory written by `mtf ingest` (its train split is used)')))
    .addOption(requiredLater(new Option('--out <dir>', 'output directory, new or empty unless --resume: checkpoints/, training-report.json, curves.csv')))
    .addOption(laterDefault(new Option('--algo <name>', 'algorithm').choices(ALGOS), 'bcq'))
    .addOption(laterDefault(new Option('--steps <n>', 'gradient steps in all (with --resume: the total to reach, not more steps)').argParser(intArg(1)), TRAINER_DEFAULTS.steps))
    .option('--config <file>', 'YAML or JSON: its `train:` section (or the whole file) holds trainer and algorithm fields; see --help-config')
    .addOption(laterDefault(new Option('--seed <n>', 'seed of the one RNG of the run').argParser(seedArg), TRAINER_DEFAULTS.seed))
    .addOption(laterDefault(new Option('--backend <name>', 'compute backend').choices(BACKENDS), TRAINER_DEFAULTS.backend))
    .addOption(laterDefault(new Option('--threads <n>', 'BLAS threads of the native backend').argParser(intArg(1)), TRAINER_DEFAULTS.threads))
    .addOption(laterDefault(new Option('--checkpoint-every <n>', 'steps between checkpoints').argParser(intArg(1)), TRAINER_DEFAULTS.checkpointEvery))
    .addOption(laterDefault(new Option('--log-every <n>', 'steps between curve records / log lines').argParser(intArg(1)), TRAINER_DEFAULTS.logEvery))
    .option('--sample-sessions <share>', 'train on a uniform sample of this share of the sessions (0 < share ≤ 1, whole sessions; memory holds only their rows)', numberArg({ min: 0, max: 1 }))
    .option('--resume', 'continue from the latest checkpoint in --out (same data and config)')
    .addOption(new Option('--progress <mode>', 'auto: a bar on a terminal, lines otherwise').choices(['auto', 'bar', 'lines', 'none']).default('auto'))
    .option('--help-config', 'list every config field with its default and meaning, then exit')
    .action(async (o: TrainFlags) => {
      const { loadConfigFile } = await import('../../config/load.ts');
      const file = o.config ? loadConfigFile(o.config, ConfigFile) : {};
      const section = (file.train ?? (o.config ? file : {})) as Record<string, unknown>;
      if (typeof section !== 'object' || section === null || Array.isArray(section)) {
        throw new InputError(`${o.config}: field 'train': expected an object of trainer and algorithm fields`, { file: String(o.config), field: 'train' });
      }
      const config: Record<string, unknown> = { ...section };
      if (o.algo !== undefined) config.algo = o.algo;
      if (o.helpConfig) {
        const algo = (config.algo ?? 'bcq') as AlgoName;
        process.stdout.write(`config fields for --algo ${algo} (name (default): meaning)\n` + describeConfig(runConfigSchema(algo)).map((l) => `  ${l}\n`).join(''));
        return;
      }
      const data = requireFlag(o.data, '--data <dir>');
      const out = requireFlag(o.out, '--out <dir>');
      if (o.steps !== undefined) config.steps = o.steps;
      if (o.seed !== undefined) config.seed = o.seed;
      if (o.threads !== undefined) config.threads = o.threads;
      if (o.checkpointEvery !== undefined) config.checkpointEvery = o.checkpointEvery;
      if (o.logEvery !== undefined) config.logEvery = o.logEvery;
      if (o.backend !== undefined) config.backend = o.backend;
      if (!o.resume) checkFreshOut(out);

      const { readTrajectories } = await import('../../data/trajectoryStore.ts');
      const { batch, metadata } = await readTrajectories(data, 'train', { sessionShare: o.sampleSessions ?? 1 });
      const { train } = await import('../../rl/index.ts');
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const { policy, report } = await train({
          batch,
          stats: { state: metadata.state_stats, action: metadata.action_stats },
          actionNames: metadata.action_names,
          beta: metadata.beta,
          config,
          outDir: out,
          resume: !!o.resume,
          progress: o.progress,
          consumeStates: true, // read for this run only: normalised in place
          signal: abort.signal,
        });
        policy.dispose();
        if (report.resumedFrom !== null && report.resumedFrom >= report.stepsRequested) {
          process.stdout.write(`nothing to do: ${out} already holds ${report.resumedFrom} steps of ${report.algo} (--steps ${report.stepsRequested}); give a larger --steps to train further\n`);
          return;
        }
        const f = report.final;
        const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toPrecision(4));
        process.stdout.write(
          `${report.status} ${report.algo}: ${report.stepsDone}/${report.stepsRequested} steps at ${report.itPerSec.toFixed(1)} it/s on ${report.backend}; ` +
            `critic ${fmt(f.criticLoss)}, actor ${fmt(f.actorLoss)}, vae ${fmt(f.vaeLoss)}, Q(π) ${fmt(f.policyQMean)} → ${out}\n`,
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
  examples(cmd, [
    'mtf train --data traj --out runs/bcq --steps 20000',
    'mtf train --data traj --out runs/bcq --steps 40000 --resume   # continue the same run to 40,000 steps',
    'mtf train --help-config --algo td3bc',
  ]);
}
