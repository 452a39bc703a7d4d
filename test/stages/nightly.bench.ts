/**
 * `npm run bench:nightly`: the whole nightly (`mtf run`, pipelines/nightly.yaml defaults) on simulated
 * logs of a given size, stage by stage, with wall time and peak resident memory — the table of issue 20.
 *
 *   npm run bench:nightly -- [--scale paper|quarter|<sessions per day>] [--work /tmp/mtf-nightly-bench]
 *                            [--config pipelines/nightly.yaml]
 *
 * paper = 190,000 sessions a day × 3 days ≈ 570,000 sessions, 11 M requests (BatchRL-MTF §4.1: 3.142 M
 * sessions, 11.155 M interactions); quarter = 47,500 a day. The logs are simulated once into
 * <work>/logs-<sessions per day> (kept between runs: simulating is not part of the nightly); every run
 * starts from an empty store and artifacts folder. Needs GNU time (/usr/bin/time, Debian `time`) for
 * the peak RSS of the run (GNU time reports the largest of the process and its children; shards read at
 * once in child processes add up: their own peaks are in the table). Prints one markdown table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { scale: { type: 'string', default: 'paper' }, work: { type: 'string', default: '/tmp/mtf-nightly-bench' }, config: { type: 'string', default: 'pipelines/nightly.yaml' } },
});
const perDay = values.scale === 'paper' ? 190_000 : values.scale === 'quarter' ? 47_500 : Number(values.scale);
if (!Number.isInteger(perDay) || perDay <= 0) throw new Error(`--scale: paper, quarter or sessions per day, got ${values.scale}`);
if (!existsSync('/usr/bin/time')) throw new Error('bench:nightly needs GNU time at /usr/bin/time (apt-get install time)');
const mtf = resolve('bin/mtf.js');
const work = resolve(values.work);
const endDate = '2026-11-20';

/** runs `node bin/mtf.js …` under GNU time: wall seconds, peak RSS (MiB), exit code */
function timed(args: string[]): { wall: number; rssMib: number; code: number } {
  const tfile = join(work, 'time.txt');
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', tfile, process.execPath, mtf, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  const wall = (performance.now() - t0) / 1000;
  const rssKib = Number(readFileSync(tfile, 'utf8').trim().split('\n').at(-1));
  return { wall, rssMib: rssKib / 1024, code: r.status ?? -1 };
}

mkdirSync(work, { recursive: true });
const logs = join(work, `logs-${perDay}`);
let sim: ReturnType<typeof timed> | null = null;
if (!existsSync(logs)) {
  sim = timed(['simulate', '--out', logs, '--end-date', endDate, '--days', '3', '--sessions-per-day', String(perDay), '--quiet']);
  if (sim.code !== 0) throw new Error(`simulate exited ${sim.code}`);
}
const artifacts = join(work, 'artifacts');
const store = join(work, 'models');
rmSync(artifacts, { recursive: true, force: true });
rmSync(store, { recursive: true, force: true });
const run = timed(['run', '--config', values.config, '--logs', logs, '--artifacts', artifacts, '--store', store, '--end-date', endDate]);
if (run.code !== 0 && run.code !== 5) throw new Error(`mtf run exited ${run.code}`);

// the run's stage records: seconds and the process's peak RSS when each stage ended
const runs = join(artifacts, 'runs');
const name = readdirSync(runs)[0];
const attempt = join(runs, name, endDate, 'a1', 'stages');
const stages = readdirSync(attempt).map((f) => JSON.parse(readFileSync(join(attempt, f), 'utf8')) as { stage: string; seconds: number; peak_rss_mib?: number; started_at: string; result?: { child_peak_rss_mib?: number } });
stages.sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);
const lines = [
  `sessions per day ${perDay} × 3 days; ${process.arch}, ${(await import('node:os')).cpus().length} cores`,
  '',
  '| stage | wall | process peak RSS at its end |',
  '|---|---:|---:|',
  ...(sim ? [`| simulate (not part of the nightly) | ${fmt(sim.wall)} | ${(sim.rssMib / 1024).toFixed(2)} GiB |`] : []),
  // a shard read in a child process: its own peak beside the runner's
  ...stages.map((s) => `| ${s.stage} | ${fmt(s.seconds)} | ${s.peak_rss_mib ? `${(s.peak_rss_mib / 1024).toFixed(2)} GiB` : '–'}${s.result?.child_peak_rss_mib ? ` (+ its child process: ${(s.result.child_peak_rss_mib / 1024).toFixed(2)} GiB)` : ''} |`),
  `| **whole \`mtf run\`** (exit ${run.code}) | **${fmt(run.wall)}** | **${(run.rssMib / 1024).toFixed(2)} GiB** |`,
];
console.log(lines.join('\n'));
