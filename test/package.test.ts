/**
 * The package a Node ranking stack installs (issue 22): `npm pack`'s tarball, installed into an empty
 * project with the one setting a consumer needs (README, "Use as a library": the `.npmrc` line
 * `onnxruntime-node-install=skip`), scores a model through the public import, type-checks against the
 * shipped declarations, runs `npx mtf --help`, and holds neither TypeScript sources nor tsx/esbuild.
 *
 * It builds dist/ (`node scripts/build.mjs --no-check`: type errors are `npm run typecheck`'s to report)
 * and installs from the registry, preferring npm's cache; without the registry it skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fusionModel, ReferenceModel } from '../src/export/index.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores } from './export/helpers.ts';
import { ROOT } from './helpers/cli.ts';
import { tempDir } from './helpers/tmp.ts';

/** What a consumer puts in its project's .npmrc (README): onnxruntime-node's postinstall then skips its CUDA download from api.nuget.org. */
const CONSUMER_NPMRC = 'onnxruntime-node-install=skip\n';

/**
 * The environment of a consumer: none of this checkout's npm settings (`npm test` exports its .npmrc,
 * onnxruntime-node-install=skip included, as npm_config_* variables), no onnxruntime override, no test-runner state.
 */
const consumerEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !/^ONNXRUNTIME_NODE_INSTALL/i.test(k) && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS' && k !== 'MTF_COMPILED'),
);

/** seconds each command took (reported as test diagnostics: the install dominates) */
const timings: string[] = [];

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { timeout: number }): string {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', killSignal: 'SIGKILL', env: consumerEnv, ...opts });
  timings.push(`${cmd === process.execPath ? 'node' : cmd} ${args[0].split('/').pop()}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}\n${out}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${out.slice(-4000)}`);
  return String(r.stdout);
}

const SPEC = { stateDim: 5, actionDim: 3 };

const SCORE_SCRIPT = `
import { readFileSync } from 'node:fs';
import { FusionScorer } from 'batchrl-mtf';
import { readCurrent } from 'batchrl-mtf/store';
import { LOG_CONTRACT } from 'batchrl-mtf/log-contract';
import { createWorld } from 'batchrl-mtf/sim';
const [store, input] = process.argv.slice(2);
const { states, taskScores } = JSON.parse(readFileSync(input, 'utf8'));
const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
try {
  const r = await scorer.score(Float32Array.from(states), Float32Array.from(taskScores));
  process.stdout.write(JSON.stringify({
    version: r.version, current: readCurrent(store, 'feed'), fusionWeights: Array.from(r.fusionWeights), scores: Array.from(r.scores),
    contractColumns: LOG_CONTRACT.length, createWorld: typeof createWorld,
  }));
} finally {
  await scorer.close();
}
`;

/** A consumer's TypeScript against the shipped .d.ts: it must compile, and the @ts-expect-error must be needed (the types are not `any`). */
const CHECK_TS = `
import { FusionScorer, type ScoreResult } from 'batchrl-mtf';
import { readCurrent } from 'batchrl-mtf/store';
import type { FileLayout } from 'batchrl-mtf/log-contract';
import { createWorld } from 'batchrl-mtf/sim';
export async function scoreOnce(store: string, states: Float32Array, taskScores: Float32Array): Promise<string> {
  const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
  const r: ScoreResult = await scorer.score(states, taskScores);
  // @ts-expect-error: score takes typed arrays
  await scorer.score('states', 1);
  const layout: FileLayout | null = null;
  void layout; void createWorld; void readCurrent;
  return r.version;
}
`;

test('the packed tarball installs into an empty project, scores through the public import and runs npx mtf', { timeout: 600_000 }, (t) => {
  const started = Date.now();
  const ping = spawnSync('npm', ['ping'], { encoding: 'utf8', timeout: 30_000, env: consumerEnv });
  timings.push(`npm ping: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (ping.status !== 0) {
    t.skip(`the npm registry is unreachable (npm ping: ${(ping.stderr || ping.error?.message || '').trim().split('\n').pop()}); the install needs it`);
    return;
  }
  const tmp = tempDir('mtf-package-');

  try {
    // the tarball: only compiled JavaScript, declarations and the runtime files
    run(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--no-check'], { cwd: ROOT, timeout: 300_000, env: process.env });
    const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, timeout: 120_000, env: process.env })) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path);
    const sources = files.filter((f) => /\.[cm]?ts$/.test(f) && !/\.d\.[cm]?ts$/.test(f));
    assert.deepEqual(sources, [], 'TypeScript sources in the tarball');
    assert.deepEqual(files.filter((f) => /^(src|test|scripts|jobs)\//.test(f)), [], 'files outside dist/ that only a checkout needs');
    for (const f of ['bin/mtf.js', 'dist/src/cli/main.js', 'dist/src/serving/index.js', 'dist/src/serving/index.d.ts', 'dist/jobs/sandbox.mjs', 'dist/jobs/processors/stage.js',
      'dist/src/data/shardChild.js', 'dist/src/ope/fitWorker.js', 'dist/src/sim/referenceStatePolicies.json', 'native/blas/mtf_blas.c', 'pipelines/nightly.yaml']) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
    assert.match(pkg.scripts.prepack, /npm run build/, 'npm pack / npm publish must build dist/ first');

    // a model store with one published version, and the reference scores for it
    const store = join(tmp, 'store');
    publishRandom(store, 'feed', { seed: 4, spec: SPEC });
    const model = fusionModel(randomSpec({ seed: 4, ...SPEC }));
    const [n, C] = [3, 20];
    const states = randomStates(model, n);
    const taskScores = randomTaskScores(n, C, SPEC.actionDim);
    const ref = new ReferenceModel(model).score(states, taskScores, n, C);
    const input = join(tmp, 'input.json');
    writeFileSync(input, JSON.stringify({ states: Array.from(states), taskScores: Array.from(taskScores) }));

    // an empty project with the consumer's setting, then the install
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    writeFileSync(join(app, '.npmrc'), CONSUMER_NPMRC);
    run('npm', ['install', join(tmp, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 420_000 });

    // scoring through the public import equals the reference computation
    writeFileSync(join(app, 'score.mjs'), SCORE_SCRIPT);
    const got = JSON.parse(run(process.execPath, ['score.mjs', store, input], { cwd: app, timeout: 120_000 })) as {
      version: string; current: string; fusionWeights: number[]; scores: number[]; contractColumns: number; createWorld: string;
    };
    assert.equal(got.version, 'v000001');
    assert.equal(got.current, 'v000001');
    assert.ok(got.contractColumns > 0);
    assert.equal(got.createWorld, 'function');
    assert.equal(got.fusionWeights.length, ref.alpha.length);
    for (let i = 0; i < ref.alpha.length; i++) assert.ok(Math.abs(got.fusionWeights[i] - ref.alpha[i]) <= 1e-4, `α[${i}] ${got.fusionWeights[i]} vs ${ref.alpha[i]}`);
    for (let i = 0; i < ref.scores.length; i++) assert.ok(Math.abs(got.scores[i] - ref.scores[i]) <= 1e-4 * Math.max(1, Math.abs(ref.scores[i])), `score[${i}]`);

    // the declarations: a consumer's TypeScript (NodeNext) compiles against them
    writeFileSync(join(app, 'check.ts'), CHECK_TS);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] }, files: ['check.ts'] }),
    );
    run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: app, timeout: 180_000 });

    // the CLI from the compiled files (tsx is not installed: the sources could not run)
    const help = run('npx', ['mtf', '--help'], { cwd: app, timeout: 120_000 });
    assert.match(help, /^Usage: mtf /);
    assert.equal(run('npx', ['mtf', '--version'], { cwd: app, timeout: 120_000 }), `${pkg.version}\n`);

    // runtime dependencies only: no tsx, no esbuild anywhere in the installed tree
    const ls = spawnSync('npm', ['ls', '--all', '--json'], { cwd: app, encoding: 'utf8', env: consumerEnv, timeout: 120_000, maxBuffer: 64 << 20 });
    if (!ls.stdout) throw new Error(`npm ls printed nothing (exit ${ls.status ?? ls.signal}): ${ls.stderr}`);
    const names = new Set<string>();
    const walk = (deps: Record<string, { dependencies?: Record<string, unknown> }> | undefined) => {
      for (const [name, d] of Object.entries(deps ?? {})) {
        names.add(name);
        walk(d.dependencies as never);
      }
    };
    walk((JSON.parse(ls.stdout) as { dependencies?: never }).dependencies);
    assert.ok(names.has('batchrl-mtf') && names.has('onnxruntime-node'), `npm ls saw ${[...names].slice(0, 10).join(', ')}…`);
    assert.deepEqual([...names].filter((d) => d === 'tsx' || d === 'esbuild' || d.startsWith('@esbuild/')), [], 'dev tools installed for a consumer');
  } finally {
    t.diagnostic(`${timings.join(', ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  }
});
