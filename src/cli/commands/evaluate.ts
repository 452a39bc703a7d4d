import { Option, type Command } from 'commander';
import { z } from 'zod';
import { InputError } from '../../errors/index.ts';
// Only the (zod-only) config module is loaded eagerly: YAML, the trajectory reader and tfjs load when `evaluate` actually runs.
import { describeOpeConfig, OpeConfigSchema } from '../../ope/config.ts';
import { collect, examples, intArg, laterDefault, numberArg, requiredLater, requireFlag, seedArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

const ConfigFile = z.record(z.string(), z.unknown());
const SPEC_HELP = '[name=]behavior | const:a1,…,ak | model.onnx | training output or checkpoint dir | model store dir (CURRENT)';

interface EvaluateFlags {
  data?: string;
  policy?: string[];
  baseline?: string;
  out?: string;
  config?: string;
  iterations?: number;
  alpha?: number;
  bootstrap?: number;
  bootstrapIterations?: number;
  seed?: number;
  latentSeed?: number | null;
  backend?: string;
  threads?: number;
  helpConfig?: boolean;
}

const latentSeedArg = (text: string): number | null => (text === 'fresh' ? null : seedArg(text));

export function registerEvaluate(program: Command): void {
  const d = OpeConfigSchema.parse({});
  const cmd = program
    .command('evaluate')
    .description(DESCRIPTIONS.evaluate)
    .addOption(requiredLater(new Option('--data <dir>', 'trajectories directory written by `mtf ingest` (its test split is used)')))
    .addOption(requiredLater(new Option('--policy <spec>', `policy to evaluate, repeatable, in report order: ${SPEC_HELP}`).argParser(collect)))
    .option('--baseline <spec>', 'the live model (usually a model store dir): every policy is compared with it')
    .addOption(requiredLater(new Option('--out <dir>', 'output directory for ope-report.json and ope-report.html')))
    .option('--config <file>', 'YAML or JSON: its `evaluate:` section (or the whole file) holds the fields of --help-config')
    .addOption(laterDefault(new Option('--iterations <n>', 'FQE steps K (paper App. A: 5000)').argParser(intArg(1)), d.fqe.iterations))
    .addOption(laterDefault(new Option('--alpha <x>', 'CQL penalty weight α, with the log-sum-exp penalty (paper App. A: 5e-4, linear — see --help-config)').argParser(numberArg({ min: 0 })), d.fqe.alpha))
    .addOption(laterDefault(new Option('--bootstrap <n>', 'session-bootstrap refits B per policy, at least 2').argParser(intArg(2)), d.bootstrap))
    .addOption(laterDefault(new Option('--bootstrap-iterations <n>', 'FQE steps per bootstrap refit (warm-started)').argParser(intArg(1)), String(d.bootstrapIterations)))
    .addOption(laterDefault(new Option('--seed <n>', 'seed of the one RNG').argParser(seedArg), d.fqe.seed))
    .addOption(
      laterDefault(
        new Option('--latent-seed <n|fresh>', "BCQ checkpoints act with the latent codes `mtf export --latent-seed <n>` bakes (as mtf export); fresh = new codes per call (Eq. 4's stochastic π)").argParser(latentSeedArg),
        0,
      ),
    )
    .addOption(laterDefault(new Option('--backend <name>', 'compute backend').choices(['auto', 'tensorflow', 'native', 'wasm', 'cpu']), d.backend))
    .addOption(laterDefault(new Option('--threads <n>', 'BLAS threads of the native backend').argParser(intArg(1)), d.threads))
    .option('--help-config', 'list every evaluation setting with its default and meaning, then exit')
    .action(async (o: EvaluateFlags) => {
      if (o.helpConfig) {
        process.stdout.write('evaluate settings (name (default): meaning)\n' + describeOpeConfig().map((l) => `  ${l}\n`).join(''));
        return;
      }
      const dataDir = requireFlag(o.data, '--data <dir>');
      const outDir = requireFlag(o.out, '--out <dir>');
      const specs = requireFlag(o.policy, '--policy <spec>');
      const { loadConfigFile } = await import('../../config/load.ts');
      const file = o.config ? loadConfigFile(o.config, ConfigFile) : {};
      const section = (file.evaluate ?? (o.config ? file : {})) as Record<string, unknown>;
      if (typeof section !== 'object' || section === null || Array.isArray(section)) {
        throw new InputError(`${o.config}: field 'evaluate': expected an object of evaluation settings`, { file: String(o.config), field: 'evaluate' });
      }
      const config = structuredClone(section) as Record<string, unknown> & { fqe?: Record<string, unknown> };
      const fqe = (config.fqe = { ...(config.fqe ?? {}) });
      if (o.iterations !== undefined) fqe.iterations = o.iterations;
      if (o.alpha !== undefined) fqe.alpha = o.alpha;
      if (o.seed !== undefined) fqe.seed = o.seed;
      if (o.bootstrap !== undefined) config.bootstrap = o.bootstrap;
      if (o.bootstrapIterations !== undefined) config.bootstrapIterations = o.bootstrapIterations;
      if (o.threads !== undefined) config.threads = o.threads;
      if (o.backend !== undefined) config.backend = o.backend;
      const parsed = OpeConfigSchema.safeParse(config);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        const field = first.path.join('.') || '(root)';
        throw new InputError(`evaluate config: ${field}: ${first.message}`, { field });
      }

      const { readTrajectories } = await import('../../data/trajectoryStore.ts');
      const { batch, metadata } = await readTrajectories(dataDir, 'test');
      const ope = await import('../../ope/index.ts');
      const latentSeed = o.latentSeed;
      const dims = { stateDim: batch.stateDim, actionDim: batch.actionDim, backend: parsed.data.backend, ...(latentSeed !== undefined ? { latentSeed } : {}) };
      const policies = [];
      for (const s of specs) policies.push(await ope.loadEvalPolicy(s, { ...dims, field: '--policy' }));
      const names = new Set<string>();
      for (const p of policies) {
        if (names.has(p.name)) throw new InputError(`--policy: two policies are named '${p.name}'; name them with name=spec`, { field: '--policy' });
        names.add(p.name);
      }
      // A --baseline that is also a --policy is the same object: evaluated once, listed in policies too.
      const same = o.baseline !== undefined ? specs.indexOf(o.baseline) : -1;
      const baseline = o.baseline === undefined ? null : same >= 0 ? policies[same] : await ope.loadEvalPolicy(o.baseline, { ...dims, field: '--baseline' });
      try {
        const report = await ope.evaluatePolicies({
          batch,
          metadata,
          dataDir,
          policies,
          baseline,
          config: parsed.data,
          onProgress: (line) => process.stderr.write(`evaluate: ${line}\n`),
        });
        const files = ope.writeOpeReport(outDir, report);
        const fmt = (x: number) => x.toPrecision(5);
        const extra = report.baseline && !report.policies.some((p) => p.name === report.baseline!.name) ? [report.baseline] : [];
        const lines = [...report.policies, ...extra].map((p) => {
          const lift = p.lift?.rel != null ? ` lift ${(100 * p.lift.rel).toFixed(1)}%` : '';
          return `  ${p.name.padEnd(24)} V̂ ${fmt(p.v_hat)} [${fmt(p.ci95[0])}, ${fmt(p.ci95[1])}]${lift}  OOD ${(100 * p.ood.share).toFixed(0)}%  ${p.name === report.baseline?.name ? 'live' : p.verdict}`;
        });
        const b = report.behavior;
        process.stdout.write(
          [
            `behavior check ${b.check}: FQE ${fmt(b.v_hat_complete)} vs empirical ${fmt(b.empirical_complete.mean)} on ${b.empirical_complete.sessions} uncut sessions`,
            ...lines,
            `→ ${files.json}`,
            `→ ${files.html}`,
            '',
          ].join('\n'),
        );
      } finally {
        for (const p of new Set([...policies, ...(baseline ? [baseline] : [])])) if (p.kind === 'fn') await p.dispose?.();
      }
    });
  examples(cmd, [
    'mtf evaluate --data traj --policy bcq=runs/bcq --policy behavior --baseline models/fusion --out ope',
    "mtf evaluate --data traj --policy runs/bcq --policy 'const:1,0.5,0.4,0.2,0.2,0.2,0.5,1.2' --bootstrap 5 --out ope",
    'mtf evaluate --help-config',
  ]);
}
