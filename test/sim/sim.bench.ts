/**
 * Simulator speed (README §5): simulated steps (requests) per second, one core, for a constant policy
 * and for an ONNX policy batched over the parallel sessions, plus the mixed behavior policy and the
 * whole `simulateLogs` path (with zstd parquet) for reference. Medians of several runs.
 *
 *   npm run bench:sim [-- --sessions 20000 --reps 5 --slots 128]
 *
 * Every step ranks `candidates` (100) candidates by Eq. 1 over k = 8 tasks. Steps per CPU-second are
 * printed beside wall-clock steps per second: on a shared machine the first is the fairer figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { behaviorPolicy, constantPolicy, DEFAULT_PRODUCTION_ALPHA, defaultWorld, onnxPolicy, rollout, simulateLogs, STATE_DIM, type FusionPolicy } from '../../src/sim/index.ts';
import { writeLinearOnnx } from './onnxModel.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '20000' },
    reps: { type: 'string', default: '5' },
    slots: { type: 'string', default: String(defaultWorld().config.session.slots) },
  },
});
const sessions = Number(values.sessions);
const reps = Number(values.reps);
const slots = Number(values.slots);
const world = defaultWorld();
const dir = mkdtempSync(join(tmpdir(), 'mtf-sim-bench-'));

interface Run {
  steps: number;
  wallS: number;
  cpuS: number;
}

async function measure(make: () => Promise<FusionPolicy> | FusionPolicy, seed: number, batch: number): Promise<Run> {
  const policy = await make();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await rollout({ world, policy, sessions, seed, slots: batch });
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  await policy.dispose?.();
  return { steps: r.steps, wallS, cpuS: (c.user + c.system) / 1e6 };
}

const median = (x: number[]) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// A state-dependent linear ONNX policy: α = state · W + b (W small, b = the production α).
const onnxFile = join(dir, 'linear-policy.onnx');
const W = new Float32Array(STATE_DIM * 8);
for (let i = 0; i < W.length; i++) W[i] = 0.01 * Math.sin(i);
writeLinearOnnx(onnxFile, { W, b: Float32Array.from(DEFAULT_PRODUCTION_ALPHA), d: STATE_DIM, k: 8 });

const cases: [string, () => Promise<FusionPolicy> | FusionPolicy, number][] = [
  [`constant α (batch ${slots})`, () => constantPolicy(DEFAULT_PRODUCTION_ALPHA), slots],
  [`ONNX linear policy (batch ${slots})`, () => onnxPolicy(onnxFile, { threads: 1 }), slots],
  ['ONNX linear policy (batch 1024)', () => onnxPolicy(onnxFile, { threads: 1 }), 1024],
  [`behavior (mixed exploration, batch ${slots})`, () => behaviorPolicy(), slots],
];

const rows: { name: string; steps: number; stepsPerS: number; stepsPerCpuS: number; runs: number[] }[] = [];
await measure(cases[0][1], 999, slots); // warm-up: JIT
for (const [name, make, batch] of cases) {
  const runs: Run[] = [];
  for (let rep = 0; rep < reps; rep++) runs.push(await measure(make, rep + 1, batch));
  rows.push({
    name,
    steps: Math.round(median(runs.map((r) => r.steps))),
    stepsPerS: median(runs.map((r) => r.steps / r.wallS)),
    stepsPerCpuS: median(runs.map((r) => r.steps / r.cpuS)),
    runs: runs.map((r) => Math.round(r.steps / r.wallS)),
  });
}

// The whole log path: behavior policy, rows, zstd parquet, atomic rename (one day of `sessions` sessions).
const logRuns: number[] = [];
for (let rep = 0; rep < Math.min(reps, 3); rep++) {
  const t0 = performance.now();
  const r = await simulateLogs({ world, out: join(dir, `logs-${rep}`), endDate: '2025-11-20', days: 1, sessionsPerDay: sessions, seed: rep + 1, slots });
  logRuns.push(r.rows / ((performance.now() - t0) / 1000));
}
rmSync(dir, { recursive: true, force: true });

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const lines = [
  `sessions ${sessions} per run, ${reps} runs, ${world.config.session.candidates} candidates × 8 tasks per step, one core, node ${process.version}`,
  '',
  '| policy | steps per run | steps/s (median) | steps per CPU-s (median) | runs (steps/s) |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${fmt(r.steps)} | ${fmt(r.stepsPerS)} | ${fmt(r.stepsPerCpuS)} | ${r.runs.map(fmt).join(', ')} |`),
  `| simulateLogs (behavior + zstd parquet) | — | ${fmt(median(logRuns))} rows/s | — | ${logRuns.map(fmt).join(', ')} |`,
];
process.stdout.write(lines.join('\n') + '\n');
process.stdout.write(JSON.stringify({ bench: 'sim', sessions, reps, slots, results: rows.map(({ name, stepsPerS, stepsPerCpuS }) => ({ name, stepsPerS, stepsPerCpuS })), logRowsPerS: median(logRuns) }) + '\n');
