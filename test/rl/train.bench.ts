/**
 * `npm run bench:train`: BCQ training iterations per second at hidden widths 64, 128 and 256 (256 is
 * the default size), against the PyTorch BCQ in ../shared/peers/ on the same dims (state 32, action 12),
 * batch 256, n = 10 and one thread, in the same run, rounds interleaved, each process pinned to one core.
 *
 *   npm run bench:train -- [--widths 64,128,256] [--rounds 3] [--iters 300] [--backends native,native-graph,wasm]
 *                          [--core 0] [--no-torch] [--no-micro]
 *
 * Backends: `native` = the native backend with BCQ's step fused into one C call (the default training
 * path, native/blas/mtf_fused.c); `native-graph` = the same backend running the tfjs graph of the step
 * (train.fusedStep: false, the reference); `wasm`.
 *
 * Ours is timed through the trainer's own loop (minibatch gathering from a 200k-row dataset, the step,
 * the NaN checks), `--iters` steps after 20 untimed ones, with the target networks updated every step
 * as the reference does (L = 1), so both sides do the same work. GFLOP/s uses the peer's FLOP count
 * (shared/peers/README.md, "FLOPs per BCQ iteration"; ours is its `--actor-grad lean` variant).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const S = 32;
const A = 12;
const B = 256;
const N_SAMPLES = 10;
const ROWS = 200_000;

if (args.includes('--worker')) await worker();
else if (args.includes('--micro-worker')) await microWorker();
else await main();

/**
 * The issue's MLP probe: one Adam step of a 76→256→256→1 ReLU MLP at batch 256, built (a) the plain
 * tfjs way (tf.fused.matMul, whose gradient uses transposed matMuls) and (b) with our `dense` op.
 */
async function microWorker(): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../../src/rl/backend.ts');
  const { dense } = await import('../../src/rl/kernels.ts');
  const { Adam } = await import('../../src/rl/adam.ts');
  const info = await initBackend(opt('backend', 'wasm') as 'wasm');
  const sizes = [76, 256, 256, 1];
  const x = tf.randomNormal([256, 76], 0, 1, 'float32', 1) as import('@tensorflow/tfjs').Tensor2D;
  const y = tf.randomNormal([256, 1], 0, 1, 'float32', 2);
  const vars = sizes.slice(1).flatMap((n, i) => [
    tf.variable(tf.randomUniform([sizes[i], n], -0.1, 0.1, 'float32', i)),
    tf.variable(tf.zeros([n])),
  ]);
  const named = vars.map((v, i): [string, import('@tensorflow/tfjs').Variable] => [`v${i}`, v]);
  const opt2 = new Adam(named, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const forward = (mode: 'tfjs' | 'dense') => {
    let h: import('@tensorflow/tfjs').Tensor2D = x;
    for (let i = 0; i < 3; i++) {
      const [W, b] = [vars[2 * i] as import('@tensorflow/tfjs').Tensor2D, vars[2 * i + 1] as import('@tensorflow/tfjs').Tensor1D];
      const act = i < 2 ? 'relu' : 'linear';
      h = mode === 'tfjs' ? (tf.fused.matMul({ a: h, b: W, bias: b, activation: act }) as import('@tensorflow/tfjs').Tensor2D) : dense(h, W, b, act);
    }
    return h;
  };
  const out: Record<string, number> = {};
  for (const mode of ['tfjs', 'dense'] as const) {
    const step = () => opt2.minimize(() => tf.losses.meanSquaredError(y, forward(mode)) as import('@tensorflow/tfjs').Scalar).dataSync();
    for (let i = 0; i < 10; i++) step();
    const reps = 60;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) step();
    out[`${mode}StepMs`] = (performance.now() - t0) / reps;
    const f0 = performance.now();
    for (let i = 0; i < reps; i++) tf.tidy(() => forward(mode).dataSync());
    out[`${mode}ForwardMs`] = (performance.now() - f0) / reps;
  }
  process.stdout.write(JSON.stringify({ side: 'micro', backend: info.detail, ...out }) + '\n');
}

/** MACs of one BCQ iteration (peers' formula); lean = the actor's backward pass differentiates only the actor. */
function bcqMacs(H: number, lean: boolean): number {
  const L = 2 * A;
  const e = (S + A) * H + H * H + 2 * H * L;
  const d = (S + L) * H + H * H + H * A;
  const p = (S + A) * H + H * H + H * A;
  const q = (S + A) * H + H * H + H;
  const vae = B * (2 * (e + d) + (e - (S + A) * H) + d);
  const target = N_SAMPLES * B * (d + p + 2 * q);
  const critic = B * (2 * 2 * q + 2 * (H * H + H));
  const actor = lean ? B * (d + p + q + p + (q + p - (S + A) * H)) : B * (3 * (d + p + q) - (S + L) * H);
  return vae + target + critic + actor;
}

async function worker(): Promise<void> {
  const { train } = await import('../../src/rl/index.ts');
  const { Rng } = await import('../../src/rl/rng.ts');
  const H = Number(opt('hidden', '256'));
  const iters = Number(opt('iters', '300'));
  const backendArg = opt('backend', 'native');
  const graph = backendArg.endsWith('-graph');
  const backend = graph ? backendArg.slice(0, -'-graph'.length) : backendArg;
  const warmup = 20;
  const rng = new Rng(0);
  const n = ROWS;
  const batch = {
    n, stateDim: S, actionDim: A,
    state: rng.fillNormal(new Float32Array(n * S)),
    action: rng.fillUniform(new Float32Array(n * A), -1, 1),
    reward: rng.fillNormal(new Float32Array(n)),
    nextState: rng.fillNormal(new Float32Array(n * S)),
    done: new Uint8Array(n).map((_, i) => (i % 50 === 49 ? 1 : 0)),
    truncated: new Uint8Array(n),
    sessionIndex: new Int32Array(n), step: new Int32Array(n), requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n), feedback: {}, policyId: null, sessionIds: [],
  };
  const hidden = [H, H];
  let t0 = 0;
  let t1 = 0;
  const { policy, backend: info, report } = await train({
    batch,
    config: {
      algo: 'bcq', steps: warmup + iters, backend, threads: 1, fusedStep: !graph, logEvery: 1e9, checkpointEvery: 1e9, probeStates: 1,
      vaeHidden: hidden, actorHidden: hidden, criticHidden: hidden, batchSize: B, numSamples: N_SAMPLES, targetUpdateInterval: 1,
    },
    progress: 'none',
    onStep: (step) => {
      if (step === warmup) t0 = performance.now();
      if (step === warmup + iters) t1 = performance.now();
    },
  });
  policy.dispose();
  const seconds = (t1 - t0) / 1000;
  const itPerSec = iters / seconds;
  const gflopPerIter = (2 * bcqMacs(H, true)) / 1e9;
  let gemm: number | null = null;
  if (info.name === 'native') {
    const { loadNativeBlas } = await import('../../src/rl/native.ts');
    const load = loadNativeBlas(1);
    if (load.ok) {
      const [x, y, z] = [new Float32Array(65536).fill(0.5), new Float32Array(65536).fill(0.25), new Float32Array(65536)];
      for (let i = 0; i < 50; i++) load.blas.sgemm(false, false, 256, 256, 256, x, y, z, 1, 0, 0);
      const g0 = performance.now();
      for (let i = 0; i < 300; i++) load.blas.sgemm(false, false, 256, 256, 256, x, y, z, 1, 0, 0);
      gemm = (2 * 256 ** 3 * 300) / ((performance.now() - g0) / 1000) / 1e9;
    }
  }
  process.stdout.write(JSON.stringify({ side: 'tfjs', backend: report.backend, hidden: H, iters, seconds, itPerSec, gflopPerIter, gflopPerSec: gflopPerIter * itPerSec, gemm256GflopPerSec: gemm }) + '\n');
}

async function main(): Promise<void> {
  const widths = opt('widths', '64,128,256').split(',').map(Number);
  const rounds = Number(opt('rounds', '3'));
  const iters = Number(opt('iters', '300'));
  const backends = opt('backends', 'native,native-graph,wasm').split(',');
  const core = opt('core', '0');
  const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
  const peers = join(root, '..', 'shared', 'peers');
  const pin = hasTaskset() ? ['taskset', '-c', core] : [];
  if (!pin.length) console.log('taskset not found: processes are not pinned');

  let torch: string | null = null;
  if (args.includes('--no-torch')) torch = null;
  else if (!existsSync(join(peers, 'bcq_torch.py'))) console.log(`PyTorch peer skipped: ${peers}/bcq_torch.py not found`);
  else if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    console.log('PyTorch peer skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch python3-numpy libopenblas0-pthread; see ../shared/peers/README.md)');
  } else torch = '/usr/bin/python3';

  type Row = { itPerSec: number; gflopPerSec: number; detail: string; gemm?: number | null };
  const results = new Map<string, Row[]>();
  const add = (key: string, r: Row) => results.set(key, [...(results.get(key) ?? []), r]);
  for (let round = 1; round <= rounds; round++) {
    for (const H of widths) {
      for (const be of backends) {
        // wasm is an order of magnitude slower: fewer iterations keep the bench within minutes
        const n = be === 'wasm' ? Math.max(20, Math.round(iters / (H >= 256 ? 10 : 4))) : iters;
        const cmd = [...pin, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--worker', '--hidden', String(H), '--iters', String(n), '--backend', be];
        const r = runJson(cmd, root);
        if (r) add(`${be}:${H}`, { itPerSec: r.itPerSec, gflopPerSec: r.gflopPerSec, detail: r.backend, gemm: r.gemm256GflopPerSec });
      }
      if (torch) {
        const cmd = [...pin, torch, join(peers, 'bcq_torch.py'), '--synthetic', String(ROWS), '--iters', String(iters), '--hidden', String(H), '--threads', '1', '--state-dim', String(S), '--action-dim', String(A), '--batch', String(B), '--n-samples', String(N_SAMPLES)];
        const r = runJson(cmd, peers);
        if (r) add(`torch:${H}`, { itPerSec: r.iters_per_s, gflopPerSec: r.gflop_per_s, detail: `torch ${r.torch ?? ''} openblas ${r.openblas_core ?? ''}` });
      }
      console.log(`round ${round}/${rounds}, hidden ${H}: ${[...results].filter(([k]) => k.endsWith(`:${H}`)).map(([k, v]) => `${k.split(':')[0]} ${v.at(-1)!.itPerSec.toFixed(1)}`).join(', ')} it/s`);
    }
  }

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nBCQ training, state ${S}, action ${A}, batch ${B}, n = ${N_SAMPLES}, 1 thread${pin.length ? `, pinned to core ${core}` : ''}; median of ${rounds} (min–max)`);
  const sides = [...backends, ...(torch ? ['torch'] : [])];
  for (const side of sides) {
    const d = results.get(`${side}:${widths[0]}`)?.[0]?.detail;
    if (d) console.log(`  ${side}: ${d}`);
  }
  console.log('\n| hidden | ' + sides.map((s) => `${s} it/s | ${s} GFLOP/s`).join(' | ') + (torch ? ' | ' + backends.map((b) => `${b}/torch`).join(' | ') : '') + ' |');
  console.log('|---|' + sides.map(() => '---|---|').join('') + (torch ? backends.map(() => '---|').join('') : ''));
  for (const H of widths) {
    const cells: string[] = [];
    const m: Record<string, number> = {};
    for (const side of sides) {
      const rs = results.get(`${side}:${H}`) ?? [];
      if (!rs.length) {
        cells.push('–', '–');
        continue;
      }
      const its = rs.map((r) => r.itPerSec);
      m[side] = med(its);
      cells.push(`${m[side].toFixed(1)} (${Math.min(...its).toFixed(1)}–${Math.max(...its).toFixed(1)})`, med(rs.map((r) => r.gflopPerSec)).toFixed(1));
    }
    const ratios = torch ? backends.map((b) => (m[b] && m.torch ? `${(m[b] / m.torch).toFixed(2)}×` : '–')) : [];
    console.log(`| ${H} | ${[...cells, ...ratios].join(' | ')} |`);
  }
  if (!args.includes('--no-micro')) {
    console.log('\nMLP probe (issue §2): one Adam step of 76→256→256→1 at batch 256, median of 3 processes, ms');
    console.log('| backend | tf.fused.matMul + autograd: step | forward | our dense op: step | forward |\n|---|---|---|---|---|');
    for (const be of backends) {
      const rs = [0, 1, 2].map(() => runJson([...pin, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--micro-worker', '--backend', be], root)).filter((r) => r);
      if (!rs.length) continue;
      const m = (k: string) => med(rs.map((r) => r![k] as number)).toFixed(2);
      console.log(`| ${rs[0]!.backend} | ${m('tfjsStepMs')} | ${m('tfjsForwardMs')} | ${m('denseStepMs')} | ${m('denseForwardMs')} |`);
    }
  }
  const gemms = [...results.values()].flat().map((r) => r.gemm).filter((g): g is number => typeof g === 'number');
  if (gemms.length) console.log(`\nnative sgemm 256×256×256: ${med(gemms).toFixed(0)} GFLOP/s (median over the runs)`);
  console.log(`FLOP per iteration (peers' count, lean actor step): ${widths.map((H) => `${H}: ${((2 * bcqMacs(H, true)) / 1e9).toFixed(3)} G`).join(', ')}`);
}

function runJson(cmd: string[], cwd: string): Record<string, any> | null {
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd, encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout?.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    console.log(`failed (${r.status}): ${cmd.join(' ')}\n${(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`);
    return null;
  }
  return JSON.parse(line);
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
