import { Option, type Command } from 'commander';
// Light modules only: onnxruntime and TensorFlow.js load when `export` actually runs.
import { DEFAULT_TOLERANCE } from '../../export/gate.ts';
import { DEFAULT_BETA, DEFAULT_LATENT_SEED } from '../../export/model.ts';
import { checkName, DEFAULT_KEEP } from '../../export/store.ts';
import { examples, intArg, laterDefault, numberArg, parsedArg, parseNumberList, seedArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

interface ExportFlags {
  checkpoint: string;
  ope: string;
  name: string;
  store: string;
  data?: string;
  beta?: number | number[];
  tolerance?: number;
  candidate?: string;
  baseline?: string;
  keep?: number;
  version?: string;
  latentSeed?: number;
  checkStates?: number;
}

export function registerExport(program: Command): void {
  const cmd = program
    .command('export')
    .description(DESCRIPTIONS.export)
    .requiredOption('--checkpoint <dir>', 'a training output directory (its latest checkpoint) or one checkpoint directory')
    .requiredOption('--ope <file>', 'ope-report.json: policies[] with name, v_hat and ci95 [lo, hi]')
    .addOption(new Option('--name <name>', 'model name: the store keeps it under <store>/<name>/').argParser(parsedArg('--name', (t) => (checkName(t, 'name'), t))).makeOptionMandatory())
    .option('--store <dir>', 'model store directory', 'models')
    .option('--data <dir>', 'trajectories directory (mtf ingest): feature and task names, data window and counts for the manifest, logged test states for the checks')
    .addOption(
      laterDefault(
        new Option('--beta <list>', "β of Eq. (1), scores = Σ α_i·log(o_i + β_i): one number for every task or one per task, comma-separated; refused when it disagrees with the logs' β").argParser(
          parsedArg('--beta', (t) => parseNumberList(t, '--beta', { min: 0 })),
        ),
        `the logs' β (metadata.json of --data, else the training data's), else ${DEFAULT_BETA} with a warning`,
      ),
    )
    .addOption(laterDefault(new Option('--tolerance <x>', 'publish iff V̂ lower bound ≥ baseline V̂ − tolerance').argParser(numberArg({ min: 0 })), DEFAULT_TOLERANCE))
    .addOption(laterDefault(new Option('--candidate <name>', "this model's name in the OPE report"), 'the policy named --name, else the only one that is not behavior or the current model'))
    .addOption(laterDefault(new Option('--baseline <name>', 'the OPE report policy to compare with'), 'the current model when the report has it, else behavior'))
    .addOption(laterDefault(new Option('--keep <n>', 'old versions kept besides the current one').argParser(intArg(0)), DEFAULT_KEEP))
    .addOption(laterDefault(new Option('--version <v>', 'version name').argParser(parsedArg('--version', (t) => (checkName(t, 'version'), t))), 'v000001, v000002, …'))
    .addOption(laterDefault(new Option('--latent-seed <n>', 'seed of the n latent samples baked into a BCQ graph').argParser(seedArg), DEFAULT_LATENT_SEED))
    .addOption(laterDefault(new Option('--check-states <n>', 'states drawn from the training normalisation for the parity and bounds checks').argParser(intArg(1, 1_000_000)), 1000))
    .action(async (o: ExportFlags) => {
      const { exportModel } = await import('../../export/index.ts');
      // A rejection throws GateRejectedError (exit 5) after the rejected version's manifest is written.
      const r = await exportModel({
        checkpoint: o.checkpoint,
        opeReport: o.ope,
        storeDir: o.store,
        name: o.name,
        data: o.data,
        beta: o.beta,
        tolerance: o.tolerance,
        keep: o.keep,
        candidate: o.candidate,
        baseline: o.baseline,
        version: o.version,
        latentSeed: o.latentSeed,
        checkStates: o.checkStates,
        onWarning: (line) => process.stderr.write(`mtf export: warning: ${line}\n`),
      });
      const g = r.manifest.gate;
      process.stdout.write(
        `published ${r.manifest.name}/${r.version} (replaces ${r.manifest.replaces ?? 'nothing'}): ${g.reason}` +
          `${r.removed.length ? `; removed old ${r.removed.join(', ')}` : ''} → ${r.dir}\n`,
      );
    });
  examples(cmd, [
    'mtf export --checkpoint runs/bcq --ope ope/ope-report.json --data traj --store models --name fusion',
    'mtf export --checkpoint runs/bcq/checkpoints/step-000020000 --ope ope/ope-report.json --name fusion --tolerance 2',
  ]);
}
