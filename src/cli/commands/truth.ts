import { Option, type Command } from 'commander';
import { WorldConfigSchema } from '../../sim/config.ts';
import { POLICY_SPEC_HELP } from '../../sim/specHelp.ts';
import type { FusionPolicy } from '../../sim/index.ts';
import { examples, intArg, laterDefault, seedArg } from '../flags.ts';
import { resolvePolicy, STORE_POLICY_HELP } from '../policyArg.ts';
import { DESCRIPTIONS } from './index.ts';

interface TruthFlags {
  policy: string;
  sessions: number;
  seed: number;
  baseline?: string;
  worldSeed?: number;
}

export function registerTruth(program: Command): void {
  const cmd = program
    .command('truth')
    .description(DESCRIPTIONS.truth)
    .requiredOption('--policy <spec>', `${STORE_POLICY_HELP} | a training output dir (mtf train --out) | ${POLICY_SPEC_HELP}`)
    .addOption(new Option('--sessions <n>', 'sessions rolled out').argParser(intArg(2)).default(10_000))
    .addOption(new Option('--seed <n>', 'drives the sessions; the same seed gives every policy the same users and random numbers').argParser(seedArg).default(0))
    .option('--baseline <spec>', 'also roll this policy out on the same sessions and add the paired difference (policy − baseline)')
    .addOption(laterDefault(new Option('--world-seed <n>', 'world seed').argParser(seedArg), WorldConfigSchema.parse({}).seed))
    .action(async (o: TruthFlags) => {
      const { sessions, seed, worldSeed } = o;
      const { compareTruth, createWorld, groundTruth } = await import('../../sim/index.ts');
      const world = createWorld(worldSeed === undefined ? {} : { world: { seed: worldSeed } });
      const policies: FusionPolicy[] = [];
      try {
        const policy = await resolvePolicy(o.policy);
        policies.push(policy);
        if (o.baseline === undefined) {
          process.stdout.write(JSON.stringify(await groundTruth(policy, { world, sessions, seed }), null, 2) + '\n');
          return;
        }
        const baseline = await resolvePolicy(o.baseline, '--baseline');
        policies.push(baseline);
        const c = await compareTruth(baseline, policy, { world, sessions, seed });
        process.stdout.write(JSON.stringify({ ...c.b, baseline: c.a, difference: c.diff, relative_difference: c.relative }, null, 2) + '\n');
      } finally {
        for (const p of policies) await p.dispose?.();
      }
    });
  examples(cmd, [
    'mtf truth --policy best --sessions 10000 --seed 3',
    'mtf truth --policy runs/bcq --baseline behavior --sessions 5000',
    'mtf truth --policy models/fusion --baseline models/fusion/v000001/policy.onnx --sessions 5000   # the served scorer vs its policy',
  ]);
}
