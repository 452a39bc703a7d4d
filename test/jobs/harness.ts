/**
 * Real parts for the job tests: the Redis on 127.0.0.1:6379 (each test under its own key prefix), or
 * a redis-server of the test's own on a free port when the test stops it; `mtf worker` processes
 * started as an operator starts them; polling helpers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { queueConnection, type QueueConnection } from '../../jobs/connection.ts';
import { ROOT } from '../helpers/cli.ts';

export const SHARED_REDIS = process.env.MTF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why a test that needs `what` cannot run here, or undefined when it can (MTF_TEST_REQUIRE_REDIS=1: it must). */
function unavailable(what: string, reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (process.env.MTF_TEST_REQUIRE_REDIS === '1') throw new Error(`MTF_TEST_REQUIRE_REDIS=1 but ${what} is not available: ${reason}`);
  return `${what} not available (${reason}); set MTF_TEST_REDIS_URL or start one (README, "Tests")`;
}

async function probeRedis(url: string): Promise<string | undefined> {
  const c = new Redis({ ...queueConnection({}, { url }).redis, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  let cause = '';
  c.on('error', (err: Error) => (cause ||= err.message));
  try {
    await c.connect();
    await c.ping();
    return undefined;
  } catch (err) {
    return `${queueConnection({}, { url }).display}: ${cause || (err as Error).message}`;
  } finally {
    c.disconnect();
  }
}

function probeRedisServer(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `redis-server: ${r.error?.message ?? `exit ${r.status}`}`;
}

/**
 * `{ skip: NO_REDIS }` on every test that needs the shared Redis: without one it is skipped with the
 * reason (CI sets MTF_TEST_REQUIRE_REDIS=1, which makes a missing Redis a failure instead).
 */
export const NO_REDIS = unavailable(`Redis at ${SHARED_REDIS}`, await probeRedis(SHARED_REDIS));
/** `{ skip: NO_REDIS_SERVER }` on tests that start a redis-server of their own. */
export const NO_REDIS_SERVER = unavailable('the redis-server program', probeRedisServer());

/** A key prefix of this test's own on the shared Redis; its keys are deleted when the file ends. */
export function testConnection(url = SHARED_REDIS): QueueConnection {
  const prefix = `mtftest-${randomBytes(4).toString('hex')}`;
  const conn = queueConnection({}, { url, prefix });
  after(async () => {
    const r = new Redis({ ...conn.redis, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
    r.on('error', () => {}); // a test's own server may be gone already (connect() rejects as well)
    try {
      await r.connect();
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) await r.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch {
      // a test's own server may be gone already
    } finally {
      r.disconnect();
    }
  });
  return conn;
}

/**
 * A BullMQ Queue under the test's prefix, closed when the test file ends — also when an assertion
 * failed before the test's own close: an open Redis connection would keep the test process alive.
 */
export function testQueue(conn: QueueConnection, name: string): Queue {
  const q = new Queue(name, { connection: conn.redis, prefix: conn.prefix });
  after(() => q.close());
  return q;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A redis-server of the test's own (append-only file on, so a restart keeps the queues). */
export class OwnRedis {
  proc: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(dir: string): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), dir);
    mkdirSync(dir, { recursive: true });
    await r.up();
    after(() => r.kill());
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--protected-mode', 'no'], { stdio: 'ignore' });
    await waitFor(async () => {
      const c = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {}); // refused until the server listens: connect() rejects, the loop tries again
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    }, 10_000, 'redis-server up');
  }

  /** SHUTDOWN (the append-only file is complete), like a restart for maintenance. */
  async down(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM
    await exited;
    this.proc = null;
  }

  kill(): void {
    this.proc?.kill('SIGKILL');
    this.proc = null;
  }
}

export interface WorkerProc {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * `mtf worker` in its own process, as an operator runs it. Without `--config` or `--allow-root` in
 * `args` it may use the system's temporary folder, where the tests keep their pipelines' paths.
 */
export function startWorker(conn: QueueConnection, url: string, args: string[] = [], logFile?: string): WorkerProc {
  const roots = args.includes('--config') || args.includes('--allow-root') ? [] : ['--allow-root', tmpdir()];
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'mtf.js'), 'worker', ...roots, ...args], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: url, MTF_QUEUE_PREFIX: conn.prefix, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (logFile && process.env.MTF_TEST_KEEP_LOGS) writeFileSync(logFile, out);
  });
  return { proc, output: () => out, exited };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 200): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The step of the latest checkpoint of a training directory (0: none yet). */
export function latestCheckpointStep(trainDir: string): number {
  const latest = join(trainDir, 'checkpoints', 'LATEST');
  if (!existsSync(latest)) return 0;
  const name = readFileSync(latest, 'utf8').trim();
  const m = join(trainDir, 'checkpoints', name, 'manifest.json');
  return existsSync(m) ? JSON.parse(readFileSync(m, 'utf8')).step : 0;
}
