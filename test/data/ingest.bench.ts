/**
 * npm run bench:ingest [-- --rows 1000000 --reps 3 --cpu 1 --no-pin]
 *
 * Writes a 1,000,000-row interaction log (zstd, list<float32> state of dim 64, action dim 8, ~10 steps per
 * session; 48 profile features constant per user + 16 varying per request, as a serving stack logs them)
 * and measures parquet → trajectory files, each repetition in fresh processes pinned to one core
 * (`taskset -c <cpu>`, default core 1, when taskset exists):
 *
 *   - `mtf ingest` as a user runs it: wall time including process start, CPU time, peak RSS;
 *   - ingest() inside a process (test/data/ingestRun.bench.ts): wall and CPU time (process.cpuUsage,
 *     every thread) and where they went, phase by phase;
 *   - in the same run, as the reference, DuckDB's own scan-and-group of the same file (one thread,
 *     test/data/duckdbGroup.bench.mjs): the query's wall and CPU time, and the process's;
 *   - the floors (test/data/ingestFloors.bench.ts): DuckDB streaming the ingest's query to JavaScript
 *     with nothing done to the rows, touching as much fresh memory as the rows kept take, and writing
 *     as many bytes as the trajectory files hold.
 *
 * Prints medians of the repetitions and the ratios (CPU time is the steadier figure on a shared machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbRun } from '../helpers/duckdbWriter.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const ROWS = Number(arg('rows', '1000000'));
const REPS = Number(arg('reps', '3'));
const CPU = arg('cpu', '1');
const PIN = !args.includes('--no-pin') && spawnSync('taskset', ['-c', CPU, 'true']).status === 0;
const ROOT = join(import.meta.dirname, '..', '..');
const WEIGHTS = 'play_time_s=1,like=2,share=4';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (s: number) => Math.round(ROWS / s).toLocaleString('en');

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

interface Proc {
  /** wall seconds, including process start */
  seconds: number;
  /** user + system CPU seconds of the whole process */
  cpu: number;
  maxRssMb: number;
  stdout: string;
}

function timed(cmd: string[]): Proc {
  const full = PIN ? ['taskset', '-c', CPU, ...cmd] : cmd;
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...full], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`${full.join(' ')} failed:\n${r.stderr}`);
  const [e, u, s, m] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: e, cpu: u + s, maxRssMb: m / 1024, stdout: r.stdout };
}

interface InProcess {
  wall: number;
  cpu: number;
  import_wall: number;
  import_cpu: number;
  phases: Record<string, { wall: number; cpu: number }>;
  transitions: number;
  max_rss_mb: number;
}

const dir = mkdtempSync(join(tmpdir(), 'mtf-bench-ingest-'));
try {
  const file = join(dir, 'log.parquet');
  process.stdout.write(`writing ${ROWS} rows … `);
  await writeLog(file);
  console.log(`${(statSync(file).size / 1e6).toFixed(0)} MB (zstd)`);
  const load0 = loadavg()[0];
  const cli: Proc[] = [];
  const inner: InProcess[] = [];
  const duckProc: Proc[] = [];
  const duck: { seconds: number; cpu: number }[] = [];
  type Floor = { wall: number; cpu: number };
  const floors: { decode: Floor; touch: Floor; write: Floor }[] = [];
  let outBytes = 0;
  // the rows kept: 64 + 8 floats per row, as the reader's buffers hold them
  const rowBytes = ROWS * (64 + 8) * 4;
  for (let rep = 0; rep < REPS; rep++) {
    const out = join(dir, `out-${rep}`);
    cli.push(timed([process.execPath, 'bin/mtf.js', 'ingest', '--logs', file, '--reward-weights', WEIGHTS, '--out', out, '--quiet']));
    const report = JSON.parse(readFileSync(join(out, 'ingest-report.json'), 'utf8'));
    if (report.transitions !== ROWS) throw new Error(`expected ${ROWS} transitions, got ${report.transitions}`);
    outBytes = ['train.arrow', 'test.arrow', 'train-sessions.arrow', 'test-sessions.arrow'].reduce((s, f) => s + statSync(join(out, f)).size, 0);
    rmSync(out, { recursive: true, force: true });

    const run = timed([process.execPath, '--import', 'tsx', join(import.meta.dirname, 'ingestRun.bench.ts'), file, out, WEIGHTS]);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as InProcess;
    if (r.transitions !== ROWS) throw new Error(`expected ${ROWS} transitions, got ${r.transitions}`);
    inner.push(r);
    rmSync(out, { recursive: true, force: true });

    const d = timed([process.execPath, join(import.meta.dirname, 'duckdbGroup.bench.mjs'), file]);
    duckProc.push(d);
    duck.push(JSON.parse(d.stdout.trim().split('\n').pop()!));

    const fl = timed([process.execPath, '--import', 'tsx', join(import.meta.dirname, 'ingestFloors.bench.ts'), file, dir, String(outBytes), String(rowBytes)]);
    floors.push(JSON.parse(fl.stdout.trim().split('\n').pop()!));
  }
  const load1 = loadavg()[0];
  const m = {
    cliWall: median(cli.map((r) => r.seconds)),
    cliCpu: median(cli.map((r) => r.cpu)),
    cliRss: median(cli.map((r) => r.maxRssMb)),
    inWall: median(inner.map((r) => r.wall)),
    inCpu: median(inner.map((r) => r.cpu)),
    duckWall: median(duck.map((r) => r.seconds)),
    duckCpu: median(duck.map((r) => r.cpu)),
    duckProcWall: median(duckProc.map((r) => r.seconds)),
    duckProcCpu: median(duckProc.map((r) => r.cpu)),
    duckRss: median(duckProc.map((r) => r.maxRssMb)),
  };
  console.log(
    `\n${PIN ? `pinned to one core (taskset -c ${CPU})` : 'not pinned'}; ${REPS} repetitions, medians; ` +
      `load average ${load0.toFixed(1)} → ${load1.toFixed(1)}; output ${(outBytes / 1e6).toFixed(0)} MB of Arrow`,
  );
  console.log('| what | wall s | rows/s (wall) | CPU s | rows/s (CPU) | peak RSS MB |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| mtf ingest, whole process (incl. start) | ${m.cliWall.toFixed(2)} | ${rate(m.cliWall)} | ${m.cliCpu.toFixed(2)} | ${rate(m.cliCpu)} | ${m.cliRss.toFixed(0)} |`);
  console.log(`| ingest() inside the process | ${m.inWall.toFixed(2)} | ${rate(m.inWall)} | ${m.inCpu.toFixed(2)} | ${rate(m.inCpu)} | |`);
  console.log(`| DuckDB scan-and-group, the query (1 thread) | ${m.duckWall.toFixed(2)} | ${rate(m.duckWall)} | ${m.duckCpu.toFixed(2)} | ${rate(m.duckCpu)} | |`);
  console.log(`| DuckDB scan-and-group, whole process | ${m.duckProcWall.toFixed(2)} | ${rate(m.duckProcWall)} | ${m.duckProcCpu.toFixed(2)} | ${rate(m.duckProcCpu)} | ${m.duckRss.toFixed(0)} |`);
  console.log(
    `\nratio ingest() / DuckDB query throughput: ${(m.duckCpu / m.inCpu).toFixed(2)} (CPU), ${(m.duckWall / m.inWall).toFixed(2)} (wall); ` +
      `whole processes: ${(m.duckProcCpu / m.cliCpu).toFixed(2)} (CPU), ${(m.duckProcWall / m.cliWall).toFixed(2)} (wall)`,
  );
  const phases = Object.keys(inner[0].phases);
  console.log('\ningest() phases, medians (CPU s / wall s):');
  console.log(`  module loading before ingest(): ${median(inner.map((r) => r.import_cpu)).toFixed(2)} / ${median(inner.map((r) => r.import_wall)).toFixed(2)}`);
  for (const p of phases) {
    console.log(`  ${p}: ${median(inner.map((r) => r.phases[p]?.cpu ?? 0)).toFixed(2)} / ${median(inner.map((r) => r.phases[p]?.wall ?? 0)).toFixed(2)}`);
  }
  const fm = (k: 'decode' | 'touch' | 'write') => `${median(floors.map((f) => f[k].cpu)).toFixed(2)} / ${median(floors.map((f) => f[k].wall)).toFixed(2)}`;
  console.log('\nfloors, medians (CPU s / wall s):');
  console.log(`  DuckDB streams the ingest's query to JS (vectors fetched, rows untouched): ${fm('decode')}`);
  console.log(`  fresh memory for the rows kept (${(rowBytes / 1e6).toFixed(0)} MB allocated and filled): ${fm('touch')}`);
  console.log(`  writing ${(outBytes / 1e6).toFixed(0)} MB into a new file (16 MB writes) + fsync: ${fm('write')}`);
  console.log(`\nruns (wall s): mtf ingest ${cli.map((r) => r.seconds.toFixed(2)).join(', ')}; ingest() ${inner.map((r) => r.wall.toFixed(2)).join(', ')}; duckdb query ${duck.map((r) => r.seconds.toFixed(2)).join(', ')}`);
  console.log(`runs (CPU s):  mtf ingest ${cli.map((r) => r.cpu.toFixed(2)).join(', ')}; ingest() ${inner.map((r) => r.cpu.toFixed(2)).join(', ')}; duckdb query ${duck.map((r) => r.cpu.toFixed(2)).join(', ')}`);
} finally {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmpdir(), { recursive: true });
}
