// Stale-lock take-over race: rounds of N processes that start together on a planted stale lock, each
// taking the lock once and holding it 300 ms; counts the rounds in which two held it at once.
// Measures the store's lease (src/io/lease.ts) against proper-lockfile, the library it was weighed
// against (src/export/lock.ts):
//   node test/export/lockRace.bench.mjs lease 30 6
//   npm install --no-save proper-lockfile@4.1.2 && node test/export/lockRace.bench.mjs proper 30 6
// (PROPER_LOCKFILE=/path/to/proper-lockfile/index.js uses a copy installed elsewhere.)
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function racer([impl, dir, go, log, id]) {
  let take;
  if (impl === 'proper') {
    const spec = process.env.PROPER_LOCKFILE ? pathToFileURL(process.env.PROPER_LOCKFILE).href : 'proper-lockfile';
    const pl = (await import(spec)).default;
    take = () => {
      try {
        const release = pl.lockSync(join(dir, 'target'), { stale: 2000, realpath: false });
        return () => release();
      } catch {
        return null;
      }
    };
  } else {
    (await import('tsx/esm/api')).register();
    const { acquireFileLease } = await import('../../src/io/lease.ts');
    take = () => {
      try {
        const l = acquireFileLease(join(dir, 'target.lock'), { ttlMs: 2000, host: `h${id}` });
        return () => l.release();
      } catch {
        return null;
      }
    };
  }
  process.stdout.write('ready\n');
  while (!existsSync(go)) sleep(1);
  const release = take();
  if (release) {
    appendFileSync(log, `enter ${performance.timeOrigin + performance.now()}\n`);
    sleep(300);
    appendFileSync(log, `exit ${performance.timeOrigin + performance.now()}\n`);
    release();
  }
}

async function bench(impl, rounds, n) {
  let doubles = 0;
  let most = 0;
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'lockrace-'));
    const old = (Date.now() - 60_000) / 1000;
    if (impl === 'proper') {
      mkdirSync(join(dir, 'target.lock'));
      utimesSync(join(dir, 'target.lock'), old, old);
    } else {
      writeFileSync(join(dir, 'target.lock'), JSON.stringify({ format: 'batchrl-mtf/lease@1', host: 'gone', pid: 1, token: 'old', expires_at: new Date(Date.now() - 60_000).toISOString() }) + '\n');
    }
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const go = join(dir, 'go');
    const kids = Array.from({ length: n }, (_, i) => spawn(process.execPath, [import.meta.filename, 'racer', impl, dir, go, log, String(i)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await Promise.all(kids.map((k) => new Promise((res) => { let o = ''; k.stdout.on('data', (b) => { o += b; if (o.includes('ready')) res(); }); })));
    writeFileSync(go, '');
    await Promise.all(kids.map((k) => new Promise((res) => k.on('close', res))));
    const events = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')).map(([e, t]) => ({ e, t: Number(t) })).sort((a, b) => a.t - b.t);
    let holders = 0;
    let max = 0;
    for (const x of events) max = Math.max(max, (holders += x.e === 'enter' ? 1 : -1));
    if (max > 1) doubles++;
    most = Math.max(most, max);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${impl}: ${rounds} rounds × ${n} racers on a stale lock: ${doubles} rounds with two or more holders at once (most at once: ${most})`);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'racer') await racer(rest);
else await bench(mode, Number(rest[0] ?? 30), Number(rest[1] ?? 6));
