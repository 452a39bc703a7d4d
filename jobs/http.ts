/**
 * What a worker serves when asked: Prometheus metrics (/metrics) and the Bull Board dashboard of every
 * mtf queue. Both are guarded the same way, whoever can reach the port:
 *
 * - **Bound to loopback** (127.0.0.1) unless `--http-host` says otherwise.
 * - **Host allow-list.** A request whose `Host` header is not a loopback name (localhost, 127.0.0.1,
 *   [::1]) or one of `allowedHosts` gets 403. A web page on another site that rebinds its DNS name to
 *   127.0.0.1 (DNS rebinding) sends its own name as Host, so it is refused; so is a write whose
 *   `Origin` is not an allowed host (a cross-site form or fetch).
 * - **Read-only by default.** The dashboard shows queues, jobs, logs and progress; it retries,
 *   promotes, cleans or adds nothing — every queue is in Bull Board's read-only mode and every method
 *   but GET/HEAD is refused before Bull Board sees it. `dashboardWrite` turns the write actions on,
 *   and only together with a password (HTTP basic auth, `MTF_DASHBOARD_PASSWORD` in the environment,
 *   user `MTF_DASHBOARD_USER`, default `mtf`: never a flag, which `ps` would show). With a password
 *   set, every dashboard request needs it; so does a dashboard bound to a non-loopback interface.
 * - Whatever ends up in a queue, the processors validate the job's data and refuse paths outside the
 *   worker's roots (jobs/jobData.ts): the dashboard is not the only way into Redis.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Queue } from 'bullmq';
import { InputError } from '../src/errors/index.ts';
import type { QueueConnection } from './connection.ts';
import type { WorkerMetrics } from './metrics.ts';
import { QUEUES } from './queues.ts';

export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;
export const DEFAULT_HTTP_HOST = '127.0.0.1';

export interface DashboardAuth {
  user: string;
  password: string;
}

export interface HttpOptions {
  conn: QueueConnection;
  metrics: WorkerMetrics | null;
  metricsPort: number | null;
  dashboardPort: number | null;
  /** interface to bind (default 127.0.0.1) */
  host?: string;
  /** Host header names accepted besides the loopback names (e.g. the name a reverse proxy forwards) */
  allowedHosts?: string[];
  /** let the dashboard retry, promote, clean and add jobs (needs `auth`) */
  dashboardWrite?: boolean;
  /** basic-auth credentials of the dashboard (from the environment: dashboardAuthFromEnv) */
  auth?: DashboardAuth | null;
}

/** The dashboard's credentials from `MTF_DASHBOARD_PASSWORD` (and `MTF_DASHBOARD_USER`), or null. */
export function dashboardAuthFromEnv(env: NodeJS.ProcessEnv = process.env): DashboardAuth | null {
  const password = env.MTF_DASHBOARD_PASSWORD;
  if (password === undefined || password === '') return null;
  if (password.length < 12) throw new InputError('MTF_DASHBOARD_PASSWORD: at least 12 characters', { field: 'MTF_DASHBOARD_PASSWORD' });
  return { user: env.MTF_DASHBOARD_USER || 'mtf', password };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** The host name of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased; null if malformed. */
export function hostOfHeader(value: string | undefined): string | null {
  if (!value) return null;
  const v = value.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(v) ?? /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(v);
  return m ? m[1] : null;
}

/** The `onRequest` guard: Host on the allow-list; writes only from an allowed Origin; read-only unless told. */
export function requestGuard(o: { allowedHosts: string[]; allowWrites: boolean }) {
  const allowed = new Set([...LOOPBACK_HOSTS, ...o.allowedHosts.map((h) => h.toLowerCase())]);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const host = hostOfHeader(req.headers.host);
    if (host === null || !allowed.has(host)) {
      return reply.code(403).send({ error: 'forbidden', message: `Host '${req.headers.host ?? ''}' is not allowed (allowed: ${[...allowed].join(', ')}; add names with --allowed-hosts)` });
    }
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (safe) return;
    if (!o.allowWrites) {
      return reply.code(405).send({ error: 'read_only', message: 'the dashboard is read-only (start the worker with --dashboard-write and MTF_DASHBOARD_PASSWORD to allow retry, promote and clean)' });
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        originHost = hostOfHeader(new URL(origin).host);
      } catch {
        originHost = null;
      }
      if (originHost === null || !allowed.has(originHost)) {
        return reply.code(403).send({ error: 'forbidden', message: `Origin '${origin}' is not allowed to change jobs` });
      }
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

async function requireBasicAuth(app: FastifyInstance, auth: DashboardAuth): Promise<void> {
  const { default: basicAuth } = await import('@fastify/basic-auth');
  const user = digest(auth.user);
  const password = digest(auth.password);
  await app.register(basicAuth, {
    authenticate: { realm: 'mtf dashboard' },
    // Digests of equal length, compared in constant time: neither the length nor a prefix leaks.
    validate: async (u: string, p: string) => {
      const ok = timingSafeEqual(digest(u), user) && timingSafeEqual(digest(p), password);
      if (!ok) return new Error('wrong user or password');
    },
  });
  app.addHook('onRequest', app.basicAuth);
}

export async function startHttp(o: HttpOptions) {
  const host = o.host ?? DEFAULT_HTTP_HOST;
  const allowedHosts = o.allowedHosts ?? [];
  const auth = o.auth ?? null;
  if (o.dashboardPort !== null && o.dashboardWrite && !auth) {
    throw new InputError('--dashboard-write: needs MTF_DASHBOARD_PASSWORD in the environment (HTTP basic auth; user MTF_DASHBOARD_USER, default mtf)', { field: '--dashboard-write' });
  }
  if (o.dashboardPort !== null && !isLoopback(host) && !auth) {
    throw new InputError(`--http-host ${host}: a dashboard reachable from the network needs MTF_DASHBOARD_PASSWORD in the environment`, { field: '--http-host' });
  }
  const servers: { close(): Promise<unknown> }[] = [];
  const lines: string[] = [];
  try {
    if (o.metrics && o.metricsPort !== null) {
      const app = Fastify();
      app.addHook('onRequest', requestGuard({ allowedHosts, allowWrites: false }));
      const reg = o.metrics.registry;
      app.get('/metrics', async (_req, reply) => reply.type(reg.contentType).send(await reg.metrics()));
      const addr = await listen(app, host, o.metricsPort, '--metrics-port');
      servers.push(app);
      lines.push(`metrics: ${addr}/metrics`);
    }
    if (o.dashboardPort !== null) {
      const writable = !!o.dashboardWrite;
      const { app, queues } = await dashboard(o.conn, { allowedHosts, writable, auth });
      const close = async () => (await app.close(), await Promise.all(queues.map((q) => q.close())));
      let addr: string;
      try {
        addr = await listen(app, host, o.dashboardPort, '--dashboard-port');
      } catch (err) {
        await close();
        throw err;
      }
      servers.push({ close });
      lines.push(`dashboard: ${addr}/ (${writable ? 'write actions on, basic auth' : auth ? 'read-only, basic auth' : 'read-only'})`);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return { servers, lines };
}

async function listen(app: FastifyInstance, host: string, port: number, flag: string): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new InputError(`${flag} ${port}: the port is in use on ${host}; choose another`, { field: flag });
    throw err;
  }
}

async function dashboard(conn: QueueConnection, o: { allowedHosts: string[]; writable: boolean; auth: DashboardAuth | null }): Promise<{ app: FastifyInstance; queues: Queue[] }> {
  const { createBullBoard } = await import('@bull-board/api');
  const { BullMQAdapter } = await import('@bull-board/api/bullMQAdapter');
  const { FastifyAdapter } = await import('@bull-board/fastify');
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: conn.redis, prefix: conn.prefix }));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !o.writable })), serverAdapter });
  const app = Fastify();
  // The guard runs first (a foreign Host learns nothing, not even that a password is asked), then auth.
  app.addHook('onRequest', requestGuard({ allowedHosts: o.allowedHosts, allowWrites: o.writable }));
  if (o.auth) await requireBasicAuth(app, o.auth);
  await app.register(serverAdapter.registerPlugin(), { prefix: '/' });
  return { app, queues };
}
