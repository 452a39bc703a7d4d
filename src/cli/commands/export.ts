import type { Command } from 'commander';
import { InputError } from '../../errors/index.ts';
// Light modules only: onnxruntime and TensorFlow.js load when `export` actually runs.
import { DEFAULT_TOLERANCE } from '../../export/gate.ts';
import { DEFAULT_BETA, DEFAULT_LATENT_SEED } from '../../export/model.ts';
import { DEFAULT_KEEP } from '../../export/store.ts';
import { parseNumberFlag } from '../flags.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a trained policy as ONNX (policy.onnx, scorer.onnx), gate it on the OPE report and publish it to the model store')
    .requiredOption('--checkpoint <dir>', 'a training output directory (its latest checkpoint) or one checkpoint directory')
    .requiredOption('--ope <file>', 'ope-report.json: policies[] with name, v_hat and ci95 [lo, hi]')
    .requiredOption('--name <name>', 'model name: the store keeps it under <store>/<name>/')
    .option('--store <dir>', 'model store directory', 'models')
    .option('--data <dir>', 'trajectories directory (mtf ingest): feature and task names, data window and counts for the manifest, logged test states for the checks')
    .option('--beta <list>', `β of Eq. (1), scores = Σ α_i·log(o_i + β_i): one number for every task or one per task, comma-separated (default ${DEFAULT_BETA})`)
    .option('--tolerance <x>', `publish iff V̂ lower bound ≥ baseline V̂ − tolerance (default ${DEFAULT_TOLERANCE})`)
    .option('--candidate <name>', 'this model\'s name in the OPE report (default: the policy named --name, else the only one that is not behavior or the current model)')
    .option('--baseline <name>', 'the OPE report policy to compare with (default: the current model when the report has it, else behavior)')
    .option('--keep <n>', `old versions kept besides the current one (default ${DEFAULT_KEEP})`)
    .option('--version <v>', 'version name (default: v000001, v000002, …)')
    .option('--latent-seed <n>', `seed of the n latent samples baked into a BCQ graph (default ${DEFAULT_LATENT_SEED})`)
    .option('--check-states <n>', 'states drawn from the training normalisation for the parity and bounds checks (default 1000)')
    .action(async (o: Record<string, string | undefined>) => {
      const num = (flag: string, v: string | undefined, rule: Parameters<typeof parseNumberFlag>[2]) => (v === undefined ? undefined : parseNumberFlag(v, flag, rule));
      let beta: number | number[] | undefined;
      if (o.beta !== undefined) {
        const parts = o.beta.split(',').map((x) => parseNumberFlag(x.trim(), '--beta', { min: 0 }));
        beta = parts.length === 1 ? parts[0] : parts;
      }
      if (o.checkpoint === undefined || o.ope === undefined || o.name === undefined) throw new InputError('--checkpoint, --ope and --name are required');
      const { exportModel } = await import('../../export/index.ts');
      const r = await exportModel({
        checkpoint: o.checkpoint,
        opeReport: o.ope,
        storeDir: String(o.store),
        name: o.name,
        data: o.data,
        beta,
        tolerance: num('--tolerance', o.tolerance, { min: 0 }),
        keep: num('--keep', o.keep, { integer: true, min: 0 }),
        candidate: o.candidate,
        baseline: o.baseline,
        version: o.version,
        latentSeed: num('--latent-seed', o.latentSeed, { integer: true, min: 0, max: 2 ** 32 - 1 }),
        checkStates: num('--check-states', o.checkStates, { integer: true, min: 1, max: 1_000_000 }),
      });
      const g = r.manifest.gate;
      process.stdout.write(
        `published ${r.manifest.name}/${r.version} (replaces ${r.manifest.replaces ?? 'nothing'}): ${g.reason}` +
          `${r.removed.length ? `; removed old ${r.removed.join(', ')}` : ''} → ${r.dir}\n`,
      );
    });
}
