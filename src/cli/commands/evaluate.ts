import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfigFile } from '../../config/index.ts';
import { readTrajectories } from '../../data/index.ts';
import { InputError } from '../../errors/index.ts';
// Only the (zod-only) config module is loaded eagerly: tfjs loads when `evaluate` actually runs.
import { describeOpeConfig, OpeConfigSchema } from '../../ope/config.ts';
import { parseNumberFlag } from '../flags.ts';

const ConfigFile = z.record(z.string(), z.unknown());
const SPEC_HELP = '[name=]behavior | const:a1,…,ak | model.onnx | training output or checkpoint dir | model store dir (CURRENT)';

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('off-policy evaluation (conservative FQE, BatchRL-MTF Alg. 2) of one or more policies on the test split; writes ope-report.json and ope-report.html')
    .option('--data <dir>', 'trajectories directory written by `mtf ingest` (its test split is used); required')
    .option('--policy <spec>', `policy to evaluate, repeatable, in report order: ${SPEC_HELP}`, (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--baseline <spec>', 'the live model (usually a model store dir): every policy is compared with it')
    .option('--out <dir>', 'output directory for ope-report.json and ope-report.html; required')
    .option('--config <file>', 'YAML or JSON: its `evaluate:` section (or the whole file) holds the fields of --help-config')
    .option('--iterations <n>', 'FQE steps K (default 5000, paper App. A)')
    .option('--alpha <x>', 'CQL penalty weight α (default 5e-3 with the log-sum-exp penalty; paper App. A: 5e-4, linear — see --help-config)')
    .option('--bootstrap <n>', 'session-bootstrap refits B per policy (default 20, at least 2)')
    .option('--bootstrap-iterations <n>', 'FQE steps per bootstrap refit (default 1000, warm-started)')
    .option('--seed <n>', 'seed of the one RNG (default 0)')
    .option('--latent-seed <n|fresh>', 'BCQ checkpoints act with the latent codes `mtf export --latent-seed <n>` bakes (default 0, as mtf export); fresh = new codes per call (Eq. 4\'s stochastic π)')
    .option('--backend <name>', 'compute backend: auto | tensorflow | native | wasm | cpu (default auto)')
    .option('--threads <n>', 'BLAS threads of the native backend (default 1)')
    .option('--help-config', 'list every evaluation setting with its default and meaning, then exit')
    .action(async (o: Record<string, unknown>) => {
      if (o.helpConfig) {
        process.stdout.write('evaluate settings (name (default): meaning)\n' + describeOpeConfig().map((l) => `  ${l}\n`).join(''));
        return;
      }
      const file = o.config ? loadConfigFile(String(o.config), ConfigFile) : {};
      const section = (file.evaluate ?? (o.config ? file : {})) as Record<string, unknown>;
      if (typeof section !== 'object' || section === null || Array.isArray(section)) {
        throw new InputError(`${o.config}: field 'evaluate': expected an object of evaluation settings`, { file: String(o.config), field: 'evaluate' });
      }
      const config = structuredClone(section) as Record<string, unknown> & { fqe?: Record<string, unknown> };
      const fqe = (config.fqe = { ...(config.fqe ?? {}) });
      const int = (flag: string, v: unknown, min: number) => parseNumberFlag(String(v), flag, { integer: true, min });
      if (o.iterations !== undefined) fqe.iterations = int('--iterations', o.iterations, 1);
      if (o.alpha !== undefined) fqe.alpha = parseNumberFlag(String(o.alpha), '--alpha', { min: 0 });
      if (o.seed !== undefined) fqe.seed = int('--seed', o.seed, 0);
      if (o.bootstrap !== undefined) config.bootstrap = int('--bootstrap', o.bootstrap, 2);
      if (o.bootstrapIterations !== undefined) config.bootstrapIterations = int('--bootstrap-iterations', o.bootstrapIterations, 1);
      if (o.threads !== undefined) config.threads = int('--threads', o.threads, 1);
      if (o.backend !== undefined) config.backend = o.backend;
      const parsed = OpeConfigSchema.safeParse(config);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        const field = first.path.join('.') || '(root)';
        throw new InputError(`evaluate config: ${field}: ${first.message}`, { field });
      }
      if (o.data === undefined) throw new InputError('--data: required (a trajectories directory written by `mtf ingest`)', { field: '--data' });
      if (o.out === undefined) throw new InputError('--out: required (the output directory)', { field: '--out' });
      const specs = (o.policy as string[] | undefined) ?? [];
      if (specs.length === 0) throw new InputError(`--policy: give at least one (${SPEC_HELP})`, { field: '--policy' });

      const { batch, metadata } = await readTrajectories(String(o.data), 'test');
      const ope = await import('../../ope/index.ts');
      const latentSeed = o.latentSeed === undefined ? undefined : String(o.latentSeed) === 'fresh' ? null : parseNumberFlag(String(o.latentSeed), '--latent-seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
      const dims = { stateDim: batch.stateDim, actionDim: batch.actionDim, backend: parsed.data.backend, ...(latentSeed !== undefined ? { latentSeed } : {}) };
      const policies = [];
      for (const s of specs) policies.push(await ope.loadEvalPolicy(s, { ...dims, field: '--policy' }));
      const names = new Set<string>();
      for (const p of policies) {
        if (names.has(p.name)) throw new InputError(`--policy: two policies are named '${p.name}'; name them with name=spec`, { field: '--policy' });
        names.add(p.name);
      }
      // A --baseline that is also a --policy is the same object: evaluated once, listed in policies too.
      const same = o.baseline !== undefined ? specs.indexOf(String(o.baseline)) : -1;
      const baseline = o.baseline === undefined ? null : same >= 0 ? policies[same] : await ope.loadEvalPolicy(String(o.baseline), { ...dims, field: '--baseline' });
      try {
        const report = await ope.evaluatePolicies({
          batch,
          metadata,
          dataDir: String(o.data),
          policies,
          baseline,
          config: parsed.data,
          onProgress: (line) => process.stderr.write(`evaluate: ${line}\n`),
        });
        const files = ope.writeOpeReport(String(o.out), report);
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
}
