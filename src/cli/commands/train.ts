import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfigFile } from '../../config/index.ts';
import { readTrajectories } from '../../data/index.ts';
import { InputError } from '../../errors/index.ts';
// Only the (zod-only) config module is loaded eagerly: tfjs loads when `train` actually runs.
import { ALGOS, BACKENDS, describeConfig, runConfigSchema, type AlgoName } from '../../rl/config.ts';
import { parseNumberFlag } from '../flags.ts';

/** A config file may hold sections for every stage; `train` reads its `train:` section (or, without one, the whole file). */
const ConfigFile = z.record(z.string(), z.unknown());

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('learn a fusion policy from trajectories with batch RL (BCQ, or a baseline); writes checkpoints, training-report.json and curves.csv')
    .option('--data <dir>', 'trajectories directory written by `mtf ingest` (its train split is used); required')
    .option('--out <dir>', 'output directory: checkpoints/, training-report.json, curves.csv; required')
    .option('--algo <name>', `algorithm: ${ALGOS.join(' | ')} (default bcq)`)
    .option('--steps <n>', 'gradient steps (default 100000)')
    .option('--config <file>', 'YAML or JSON: its `train:` section (or the whole file) holds trainer and algorithm fields; see --help-config')
    .option('--seed <n>', 'seed of the one RNG of the run (default 0)')
    .option('--backend <name>', `compute backend: ${BACKENDS.join(' | ')} (default auto)`)
    .option('--threads <n>', 'BLAS threads of the native backend (default 1)')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 5000)')
    .option('--log-every <n>', 'steps between curve records / log lines (default 1000)')
    .option('--resume', 'continue from the latest checkpoint in --out (same data and config)')
    .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise) | bar | lines | none', 'auto')
    .option('--help-config', 'list every config field with its default and meaning, then exit')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const file = o.config ? loadConfigFile(String(o.config), ConfigFile) : {};
      const section = (file.train ?? (o.config ? file : {})) as Record<string, unknown>;
      if (typeof section !== 'object' || section === null || Array.isArray(section)) {
        throw new InputError(`${o.config}: field 'train': expected an object of trainer and algorithm fields`, { file: String(o.config), field: 'train' });
      }
      const config: Record<string, unknown> = { ...section };
      if (o.algo !== undefined) {
        if (!(ALGOS as readonly string[]).includes(String(o.algo))) throw new InputError(`--algo: expected one of ${ALGOS.join(', ')}, got '${o.algo}'`, { field: '--algo' });
        config.algo = o.algo;
      }
      if (o.helpConfig) {
        const algo = (config.algo ?? 'bcq') as AlgoName;
        process.stdout.write(`config fields for --algo ${algo} (name (default): meaning)\n` + describeConfig(runConfigSchema(algo)).map((l) => `  ${l}\n`).join(''));
        return;
      }
      if (o.data === undefined) throw new InputError('--data: required (a trajectories directory written by `mtf ingest`)', { field: '--data' });
      if (o.out === undefined) throw new InputError('--out: required (the output directory)', { field: '--out' });
      const int = (flag: string, v: unknown, min: number) => parseNumberFlag(String(v), flag, { integer: true, min });
      if (o.steps !== undefined) config.steps = int('--steps', o.steps, 1);
      if (o.seed !== undefined) config.seed = int('--seed', o.seed, 0);
      if (o.threads !== undefined) config.threads = int('--threads', o.threads, 1);
      if (o.checkpointEvery !== undefined) config.checkpointEvery = int('--checkpoint-every', o.checkpointEvery, 1);
      if (o.logEvery !== undefined) config.logEvery = int('--log-every', o.logEvery, 1);
      if (o.backend !== undefined) {
        if (!(BACKENDS as readonly string[]).includes(String(o.backend))) throw new InputError(`--backend: expected one of ${BACKENDS.join(', ')}, got '${o.backend}'`, { field: '--backend' });
        config.backend = o.backend;
      }
      const progress = String(o.progress);
      if (!['auto', 'bar', 'lines', 'none'].includes(progress)) throw new InputError(`--progress: expected auto, bar, lines or none, got '${progress}'`, { field: '--progress' });

      const { batch, metadata } = await readTrajectories(String(o.data), 'train');
      const { train } = await import('../../rl/index.ts');
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const { policy, report } = await train({
          batch,
          stats: { state: metadata.state_stats, action: metadata.action_stats },
          actionNames: metadata.action_names,
          config,
          outDir: String(o.out),
          resume: !!o.resume,
          progress: progress as 'auto',
          signal: abort.signal,
        });
        policy.dispose();
        const f = report.final;
        const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toPrecision(4));
        process.stdout.write(
          `${report.status} ${report.algo}: ${report.stepsDone}/${report.stepsRequested} steps at ${report.itPerSec.toFixed(1)} it/s on ${report.backend}; ` +
            `critic ${fmt(f.criticLoss)}, actor ${fmt(f.actorLoss)}, vae ${fmt(f.vaeLoss)}, Q(π) ${fmt(f.policyQMean)} → ${String(o.out)}\n`,
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
