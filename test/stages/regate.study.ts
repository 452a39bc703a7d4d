/**
 * `npm run study:regate -- --loop <dir> [--variant name=<evaluate json>]… [--out <dir>] [--parallel 2]`:
 * the gate's decisions of a finished `mtf loop`, replayed night by night with other evaluation settings.
 *
 * For every night of <loop>/loop.json it runs `mtf evaluate` on that night's test split with the night's
 * candidate (its training output) and the model that served that night as the baseline (its
 * policy.onnx in the loop's store, or the training output that produced it when the store has pruned
 * it; the start constant on night 1), with each variant's `evaluate:` settings, and prints per night the
 * estimated lift over the served model with the lower end of its paired 95% interval (what the paired
 * gate publishes on) beside the lift the loop measured in the simulator (loop.json's truth, recorded by
 * the loop; the evaluations never read it). The data, candidates and served models are the loop's own,
 * so every variant is judged on the same decisions. Issue 21's harmful publish was investigated with it
 * (src/stages/README.md §4). Reports are kept in <out>/<variant>/n<night>/ and not recomputed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loopPaths, loopPipeline } from '../../src/stages/loop.ts';
import { LoopState } from '../../src/stages/loopRecord.ts';
import { readRunRecord, runDirs, specOf } from '../../src/stages/run.ts';
import { ROOT } from '../helpers/cli.ts';
/** the loop's demo-size evaluation (src/stages/demoSizes.ts: FQE 2000 steps, 5 refits of 300) */
const LOOP_DEMO = { fqe: { iterations: 2000 }, bootstrap: 5, bootstrapIterations: 300 };

function mtfEvaluate(args: string[], log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'mtf.js'), 'evaluate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('close', (code) => {
      writeFileSync(log, out);
      if (code === 0) resolve();
      else reject(new Error(`mtf evaluate ${args.join(' ')} exited ${code}: see ${log}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { loop: { type: 'string' }, variant: { type: 'string', multiple: true, default: [] }, out: { type: 'string' }, parallel: { type: 'string', default: '2' } },
  });
  if (!values.loop) throw new Error('--loop <dir>: the folder of a finished `mtf loop` is required');
  const loop = LoopState.parse(JSON.parse(readFileSync(join(values.loop, 'loop.json'), 'utf8')));
  const out = values.out ?? join(values.loop, 'regate');
  const variants: [string, unknown][] = [['loop', LOOP_DEMO]];
  for (const v of values.variant) {
    const at = v.indexOf('=');
    if (at <= 0) throw new Error(`--variant ${v}: expected name=<evaluate settings as JSON>`);
    variants.push([v.slice(0, at), { ...LOOP_DEMO, ...JSON.parse(v.slice(at + 1)) }]);
  }
  const pipeline = loopPipeline({ ...loop.config, dir: values.loop }, true);
  const store = join(loopPaths(values.loop).store, pipeline.publish.model);
  /** the night's run folders (trajectories, train), of the attempt its run.json names */
  const runOf = (date: string) => {
    const record = readRunRecord(pipeline, date);
    if (!record) throw new Error(`${values.loop}: no run of ${date} (run.json) in the loop's artifacts`);
    return runDirs(specOf(record));
  };
  const trainOf = new Map(loop.nights.map((n) => [n.candidate.version, runOf(n.date).train]));
  const jobs: (() => Promise<void>)[] = [];
  for (const [name, settings] of variants) {
    for (const n of loop.nights) {
      const dir = join(out, name, `n${n.night}`);
      if (existsSync(join(dir, 'ope-report.json'))) continue;
      const served = n.served.version;
      const baseline = served === null ? `const:${loop.config.startAlpha.join(',')}` : existsSync(join(store, served, 'policy.onnx')) ? join(store, served, 'policy.onnx') : trainOf.get(served);
      if (!baseline) throw new Error(`night ${n.night}: served ${served} is neither in ${store} nor a candidate of this loop`);
      jobs.push(async () => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'settings.json'), JSON.stringify({ evaluate: settings }));
        const run = runOf(n.date);
        await mtfEvaluate(['--data', run.trajectories, '--policy', `candidate=${run.train}`, '--baseline', `served=${baseline}`, '--out', dir, '--config', join(dir, 'settings.json')], join(dir, 'log.txt'));
        process.stderr.write(`regate: ${name} night ${n.night} done\n`);
      });
    }
  }
  const parallel = Math.max(1, Number(values.parallel));
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) await job();
  }));

  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  const lines = [
    `Gate decisions of ${values.loop} replayed (paired rule, tolerance 0): estimated lift over the served model, % (lower end of the paired 95% interval); **P** = published`,
    '',
    `| settings | ${loop.nights.map((n) => `night ${n.night}`).join(' | ')} |`,
    `|---|${loop.nights.map(() => '---').join('|')}|`,
    `| truth (loop.json) | ${loop.nights.map((n) => pct(100 * n.candidate.lift_vs_served!.mean)).join(' | ')} |`,
  ];
  for (const [name] of variants) {
    const cells = loop.nights.map((n) => {
      const r = JSON.parse(readFileSync(join(out, name, `n${n.night}`, 'ope-report.json'), 'utf8'));
      const p = r.policies[0];
      const base = r.baseline.v_hat as number;
      const [lo] = p.vs_baseline.ci95 as [number, number];
      return `${pct((100 * p.vs_baseline.abs) / base)} (${pct((100 * lo) / base)})${lo >= 0 ? ' **P**' : ''}`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
