/**
 * npm run bench:ingest [-- --rows 1000000 --reps 3 --no-pin]
 *
 * Writes a 1,000,000-row interaction log (zstd, list<float32> state of dim 64, action dim 8, ~10 steps per
 * session; 48 profile features constant per user + 16 varying per request, as a serving stack logs them)
 * and measures parquet → trajectory files (`mtf ingest`): rows/s and peak RSS, each repetition in a fresh
 * process. In the same run, as the reference, DuckDB's own scan-and-group of the same file (one thread).
 * Processes are pinned to one core with `taskset -c 0` (when taskset exists) so "one core" is literal.
 * Prints medians and the ratio.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbRun } from '../helpers/duckdbWriter.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const ROWS = Number(arg('rows', '1000000'));
const REPS = Number(arg('reps', '3'));
const PIN = !args.includes('--no-pin') && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const ROOT = join(import.meta.dirname, '..', '..');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function writeLog(file: string): Promise<void> {
  // Session = 10 requests, 30 s apart; user = session / 3. Profile dims: a deterministic function of the
  // user (constant through the session); context dims: fresh per request. All float32.
  await duckdbRun(`COPY (
    SELECT 'sess-' || lpad((i // 10)::VARCHAR, 8, '0') AS session_id,
           (i // 30)::BIGINT AS user_id,
           make_timestamptz(1763510400000000 + (i // 10) * 800000 + (i % 10) * 30000000) AS request_ts,
           list_transform(range(64), j -> CASE WHEN j < 48
               THEN round(((hash(i // 30, j) % 2000)::DOUBLE / 1000.0 - 1.0), 3)
               ELSE random() END::FLOAT) AS state,
           list_transform(range(8), j -> (1.0 + 0.3 * random())::FLOAT) AS action,
           (random() * 40)::FLOAT AS play_time_s, random() < 0.08 AS "like", (random() < 0.01)::TINYINT AS share,
           -3.2::DOUBLE AS action_logp, 'explore' AS policy_id
    FROM range(${ROWS}) t(i)
  ) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
}

interface Run {
  seconds: number;
  maxRssMb: number;
}

function timed(cmd: string[]): Run {
  const full = PIN ? ['taskset', '-c', '0', ...cmd] : cmd;
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...full], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`${full.join(' ')} failed:\n${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop()!.split(' ');
  return { seconds: Number(last[0]), maxRssMb: Number(last[1]) / 1024 };
}

const dir = mkdtempSync(join(tmpdir(), 'mtf-bench-ingest-'));
try {
  const file = join(dir, 'log.parquet');
  process.stdout.write(`writing ${ROWS} rows … `);
  await writeLog(file);
  console.log(`${(statSync(file).size / 1e6).toFixed(0)} MB (zstd)`);
  const ours: Run[] = [];
  const duck: Run[] = [];
  const inner: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const out = join(dir, `out-${rep}`);
    ours.push(timed([process.execPath, 'bin/mtf.js', 'ingest', '--logs', file, '--reward-weights', 'play_time_s=1,like=2,share=4', '--out', out, '--quiet']));
    const report = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(out, 'ingest-report.json'), 'utf8')));
    if (report.transitions !== ROWS) throw new Error(`expected ${ROWS} transitions, got ${report.transitions}`);
    inner.push(report.seconds);
    rmSync(out, { recursive: true, force: true });
    duck.push(timed([process.execPath, join(import.meta.dirname, 'duckdbGroup.bench.mjs'), file]));
  }
  const oursS = median(ours.map((r) => r.seconds));
  const duckS = median(duck.map((r) => r.seconds));
  console.log(`\n${PIN ? 'pinned to one core (taskset -c 0)' : 'not pinned'}; ${REPS} repetitions, medians; wall time includes process start`);
  console.log('| what | seconds | rows/s | peak RSS MB |');
  console.log('|---|---|---|---|');
  console.log(`| mtf ingest (parquet → trajectory files) | ${oursS.toFixed(2)} | ${Math.round(ROWS / oursS).toLocaleString('en')} | ${median(ours.map((r) => r.maxRssMb)).toFixed(0)} |`);
  console.log(`| mtf ingest, inside the process (report.seconds) | ${median(inner).toFixed(2)} | ${Math.round(ROWS / median(inner)).toLocaleString('en')} | |`);
  console.log(`| DuckDB scan-and-group (1 thread) | ${duckS.toFixed(2)} | ${Math.round(ROWS / duckS).toLocaleString('en')} | ${median(duck.map((r) => r.maxRssMb)).toFixed(0)} |`);
  console.log(`\nratio mtf ingest / DuckDB scan-and-group throughput: ${(duckS / oursS).toFixed(2)}`);
  console.log(`runs: ours ${ours.map((r) => r.seconds.toFixed(2)).join(', ')} s; duckdb ${duck.map((r) => r.seconds.toFixed(2)).join(', ')} s`);
} finally {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmpdir(), { recursive: true });
}
