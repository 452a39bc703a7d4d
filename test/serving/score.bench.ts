/**
 * `npm run bench:score`: latency and throughput of FusionScorer.score (onnxruntime-node, one intra-op
 * thread) for 1 request × 500 candidates and for batches of 64 requests × 500 candidates, and in the
 * same run the same computation in plain TypeScript loops (src/export/reference.ts) as the reference.
 * Goal (issue 6 §4): p99 ≤ 1 ms for 1 × 500.
 *
 * The model has the paper's sizes (§4.2: [256, 256] ReLU layers, n = 10 latent samples, latent 2k) with
 * random weights — the cost does not depend on their values — for a 27-feature state and k = 8 tasks
 * (the simulator's). Options: --state-dim, --tasks, --hidden 256,256, --samples 10, --candidates 500,
 * --batch 64, --seconds 3 (per case and implementation).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fusionModel, ReferenceModel } from '../../src/export/index.ts';
import { FusionScorer } from '../../src/serving/index.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores } from '../export/helpers.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const stateDim = Number(arg('state-dim', '27'));
const tasks = Number(arg('tasks', '8'));
const hidden = arg('hidden', '256,256').split(',').map(Number);
const numSamples = Number(arg('samples', '10'));
const candidates = Number(arg('candidates', '500'));
const batch = Number(arg('batch', '64'));
const seconds = Number(arg('seconds', '3'));

interface Stats {
  p50: number;
  p99: number;
  mean: number;
  calls: number;
}

/** Runs `fn` for `seconds` (after a warm-up), timing each call. */
async function measure(fn: () => unknown | Promise<unknown>, maxCalls: number): Promise<Stats> {
  for (let i = 0; i < 20; i++) await fn();
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && times.length < maxCalls) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: q(0.5), p99: q(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length, calls: times.length };
}

const specOpts = { kind: 'bcq' as const, stateDim, actionDim: tasks, hidden, numSamples, seed: 1 };
const store = mkdtempSync(join(tmpdir(), 'mtf-bench-'));
publishRandom(store, 'bench', { spec: specOpts });
const scorer = await FusionScorer.open(store, 'bench', { pollMs: 0, threads: 1 });
const reference = new ReferenceModel(fusionModel(randomSpec(specOpts)));

console.log(`score benchmark: state ${stateDim}, k ${tasks}, hidden [${hidden.join(', ')}], n ${numSamples} samples, ${candidates} candidates; ` + `onnxruntime-node 1 thread; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0].toFixed(1)}; node ${process.version}`);
console.log('case          impl            p50 ms    p99 ms   mean ms   requests/s   candidates/s   calls');
const results: Record<string, Stats> = {};
for (const n of [1, batch]) {
  const states = randomStates(randomSpec(specOpts), n);
  const o = randomTaskScores(n, candidates, tasks);
  const impls: [string, () => unknown][] = [
    ['onnxruntime', () => scorer.score(states, o)],
    ['typescript', () => reference.score(states, o, n, candidates)],
  ];
  for (const [impl, fn] of impls) {
    const s = await measure(fn, n === 1 ? 100_000 : 5_000);
    results[`${n}x${candidates}/${impl}`] = s;
    const rps = (n * 1000) / s.mean;
    console.log(
      `${`${n} × ${candidates}`.padEnd(14)}${impl.padEnd(14)}${s.p50.toFixed(3).padStart(8)}${s.p99.toFixed(3).padStart(10)}${s.mean.toFixed(3).padStart(10)}` +
        `${rps.toFixed(0).padStart(13)}${(rps * candidates).toExponential(2).padStart(15)}${String(s.calls).padStart(8)}`,
    );
  }
}
await scorer.close();
rmSync(store, { recursive: true, force: true });
const p99 = results[`1x${candidates}/onnxruntime`].p99;
console.log(`goal p99 ≤ 1 ms for 1 × ${candidates}: ${p99 <= 1 ? 'met' : 'NOT met'} (${p99.toFixed(3)} ms)`);
