/**
 * Training speed of BCQ with one critic against per-response critics (README §7): iterations per
 * second through the trainer's loop for the single critic, `responseCritic: multihead` and `separate`
 * with R responses, at the given widths, rounds interleaved so that machine load hits all alike.
 *
 *   node --import tsx test/rl/responses.bench.ts [--widths 64,256] [--responses 5] [--steps 300] [--rounds 3] [--backend native]
 */
import { train } from '../../src/rl/index.ts';
import { syntheticBatch } from './helpers.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const widths = opt('widths', '64,256').split(',').map(Number);
const R = Number(opt('responses', '5'));
const steps = Number(opt('steps', '300'));
const rounds = Number(opt('rounds', '3'));
const backend = opt('backend', 'native');

const batch = syntheticBatch({ n: 20_000, stateDim: 32, actionDim: 8, len: 20 });
batch.feedback = Object.fromEntries(Array.from({ length: R }, (_, i) => [`f${i}`, batch.reward.map((r) => r * (i + 1))]));
const responses = Array.from({ length: R }, (_, i) => ({ name: `f${i}`, weight: 1, gamma: i === 0 ? 0.95 : 0 }));
const variants: Record<string, Record<string, unknown>> = {
  single: {},
  multihead: { responses, responseCritic: 'multihead' },
  separate: { responses, responseCritic: 'separate' },
};

const results: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const w of widths) {
    for (const [name, extra] of Object.entries(variants)) {
      const hidden = [w, w];
      const config = { algo: 'bcq', steps, backend, logEvery: steps, checkpointEvery: 1_000_000, probeStates: 256, actorHidden: hidden, criticHidden: hidden, vaeHidden: hidden, ...extra };
      const { policy, report } = await train({ batch, config, progress: 'none' });
      policy.dispose();
      (results[`${name} @${w}`] ??= []).push(report.itPerSec);
      process.stderr.write(`round ${round} width ${w} ${name}: ${report.itPerSec.toFixed(1)} it/s (${report.backend})\n`);
    }
  }
}
const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
for (const [k, v] of Object.entries(results)) process.stdout.write(`${k}: median ${median(v).toFixed(1)} it/s (${v.map((x) => x.toFixed(1)).join(', ')})\n`);
