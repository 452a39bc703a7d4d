import type { Command } from 'commander';
import { WorldConfigSchema } from '../../sim/config.ts';
import { POLICY_SPEC_HELP } from '../../sim/specHelp.ts';
import type { FusionPolicy } from '../../sim/index.ts';
import { parseNumberFlag } from '../flags.ts';
import { resolvePolicy } from '../policyArg.ts';

export function registerTruth(program: Command): void {
  program
    .command('truth')
    .description('roll a policy out in the simulator and print its true value as JSON (mean and 95% CI per metric)')
    .requiredOption('--policy <spec>', `a training output dir (mtf train --out) | ${POLICY_SPEC_HELP}`)
    .option('--sessions <n>', 'sessions rolled out', '10000')
    .option('--seed <n>', 'drives the sessions; the same seed gives every policy the same users and random numbers', '0')
    .option('--baseline <spec>', 'also roll this policy out on the same sessions and add the paired difference (policy − baseline)')
    .option('--world-seed <n>', `world seed (default ${WorldConfigSchema.parse({}).seed})`)
    .action(async (o: Record<string, string | undefined>) => {
      const sessions = parseNumberFlag(String(o.sessions), '--sessions', { integer: true, min: 2 });
      const seed = parseNumberFlag(String(o.seed), '--seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
      const worldSeed = o.worldSeed === undefined ? undefined : parseNumberFlag(String(o.worldSeed), '--world-seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
      const { compareTruth, createWorld, groundTruth } = await import('../../sim/index.ts');
      const world = createWorld(worldSeed === undefined ? {} : { world: { seed: worldSeed } });
      const policies: FusionPolicy[] = [];
      try {
        const policy = await resolvePolicy(String(o.policy));
        policies.push(policy);
        if (o.baseline === undefined) {
          process.stdout.write(JSON.stringify(await groundTruth(policy, { world, sessions, seed }), null, 2) + '\n');
          return;
        }
        const baseline = await resolvePolicy(String(o.baseline), '--baseline');
        policies.push(baseline);
        const c = await compareTruth(baseline, policy, { world, sessions, seed });
        process.stdout.write(JSON.stringify({ ...c.b, baseline: c.a, difference: c.diff, relative_difference: c.relative }, null, 2) + '\n');
      } finally {
        for (const p of policies) await p.dispose?.();
      }
    });
}
