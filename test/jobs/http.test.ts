/**
 * The worker's HTTP side (metrics, Bull Board) as an attacker and an operator meet it, over real HTTP
 * on 127.0.0.1 with the real Redis behind the dashboard:
 * - read-only by default: nothing can be added, retried or cleaned, whatever the request looks like;
 * - a foreign Host (DNS rebinding) or Origin is refused on both servers;
 * - write actions only with --dashboard-write and the password from the environment.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, test } from 'node:test';
import { dashboardAuthFromEnv, hostOfHeader, startHttp } from '../../jobs/http.ts';
import { WorkerMetrics } from '../../jobs/metrics.ts';
import { QUEUES } from '../../jobs/queues.ts';
import { InputError } from '../../src/errors/index.ts';
import { freePort, NO_REDIS, testConnection, testQueue } from './harness.ts';

interface Reply {
  status: number;
  body: string;
}

/** One HTTP request with the headers as given (fetch would not let a test set Host). */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) } : {}), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on('error', reject);
    req.end(data);
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const PASSWORD = 'correct horse battery staple';
const evilJob = { name: 'shard', data: { run: { runId: 'x', pipeline: { paths: { artifacts: '/tmp/evil' } } } }, options: {} };

test('Host header names: loopback names, ports, IPv6; malformed ones are null', () => {
  assert.equal(hostOfHeader('127.0.0.1:3000'), '127.0.0.1');
  assert.equal(hostOfHeader('LOCALHOST'), 'localhost');
  assert.equal(hostOfHeader('[::1]:3000'), '::1');
  assert.equal(hostOfHeader('attacker.example:3000'), 'attacker.example');
  assert.equal(hostOfHeader(undefined), null);
  assert.equal(hostOfHeader('a b'), null);
  assert.equal(hostOfHeader('evil.example@127.0.0.1'), null);
});

test('the password comes from the environment and must not be trivial', () => {
  assert.equal(dashboardAuthFromEnv({}), null);
  assert.deepEqual(dashboardAuthFromEnv({ MTF_DASHBOARD_PASSWORD: PASSWORD }), { user: 'mtf', password: PASSWORD });
  assert.deepEqual(dashboardAuthFromEnv({ MTF_DASHBOARD_PASSWORD: PASSWORD, MTF_DASHBOARD_USER: 'ops' }), { user: 'ops', password: PASSWORD });
  assert.throws(() => dashboardAuthFromEnv({ MTF_DASHBOARD_PASSWORD: 'short' }), /MTF_DASHBOARD_PASSWORD: at least 12/);
});

describe('read-only dashboard and metrics (the default)', { skip: NO_REDIS }, async () => {
  const conn = testConnection();
  const [metricsPort, dashboardPort] = [await freePort(), await freePort()];
  const http = await startHttp({ conn, metrics: new WorkerMetrics(false), metricsPort, dashboardPort });
  const ingest = testQueue(conn, QUEUES.ingest);
  after(async () => {
    await Promise.all(http.servers.map((s) => s.close()));
    await ingest.close();
  });

  test('loopback names see the dashboard, its API and the metrics', async () => {
    for (const host of [`127.0.0.1:${dashboardPort}`, `localhost:${dashboardPort}`, `[::1]:${dashboardPort}`]) {
      const page = await send(dashboardPort, 'GET', '/', { host });
      assert.equal(page.status, 200, host);
      assert.match(page.body, /<html/i);
    }
    const api = await send(dashboardPort, 'GET', '/api/queues', { host: `127.0.0.1:${dashboardPort}` });
    assert.equal(api.status, 200);
    const queues = (JSON.parse(api.body) as { queues: { name: string; readOnlyMode: boolean }[] }).queues;
    assert.deepEqual(queues.map((q) => q.name).sort(), Object.values(QUEUES).sort());
    assert.ok(queues.every((q) => q.readOnlyMode), 'every queue read-only');
    const m = await send(metricsPort, 'GET', '/metrics', { host: `localhost:${metricsPort}` });
    assert.equal(m.status, 200);
    assert.match(m.body, /mtf_stage_duration_seconds/);
  });

  test('a foreign Host (DNS rebinding) is refused on both servers', async () => {
    for (const [port, path] of [[dashboardPort, '/api/queues'], [dashboardPort, '/'], [metricsPort, '/metrics']] as const) {
      const r = await send(port, 'GET', path, { host: 'attacker.example' });
      assert.equal(r.status, 403, `${port}${path}`);
      assert.match(r.body, /Host 'attacker\.example' is not allowed/);
    }
  });

  test('no job can be added, retried or cleaned — not even from a loopback Host', async () => {
    const attempts: [string, string, Record<string, string>][] = [
      ['POST', `/api/queues/${QUEUES.ingest}/add`, { host: 'attacker.example', origin: 'http://attacker.example' }],
      ['POST', `/api/queues/${QUEUES.ingest}/add`, { host: `127.0.0.1:${dashboardPort}`, origin: 'http://attacker.example' }],
      ['POST', `/api/queues/${QUEUES.ingest}/add`, { host: `127.0.0.1:${dashboardPort}` }],
      ['PUT', `/api/queues/${QUEUES.ingest}/retry/failed`, { host: `127.0.0.1:${dashboardPort}` }],
      ['PUT', `/api/queues/${QUEUES.ingest}/clean/completed`, { host: `127.0.0.1:${dashboardPort}` }],
    ];
    for (const [method, path, headers] of attempts) {
      const r = await send(dashboardPort, method, path, headers, evilJob);
      assert.ok(r.status === 403 || r.status === 405, `${method} ${path} ${JSON.stringify(headers)}: ${r.status} ${r.body}`);
    }
    const counts = await ingest.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
    assert.deepEqual(Object.values(counts), [0, 0, 0, 0, 0], 'nothing reached the queue');
  });
});

describe('dashboard with write actions', { skip: NO_REDIS }, async () => {
  test('--dashboard-write without a password does not start; nor does a dashboard on the network', async () => {
    const conn = testConnection();
    await assert.rejects(
      startHttp({ conn, metrics: null, metricsPort: null, dashboardPort: await freePort(), dashboardWrite: true }),
      (e: unknown) => e instanceof InputError && /--dashboard-write: needs MTF_DASHBOARD_PASSWORD/.test(e.message),
    );
    await assert.rejects(
      startHttp({ conn, metrics: null, metricsPort: null, dashboardPort: await freePort(), host: '0.0.0.0' }),
      (e: unknown) => e instanceof InputError && /needs MTF_DASHBOARD_PASSWORD/.test(e.message),
    );
  });

  const conn = testConnection();
  const port = await freePort();
  const http = await startHttp({ conn, metrics: null, metricsPort: null, dashboardPort: port, dashboardWrite: true, auth: { user: 'mtf', password: PASSWORD } });
  const ingest = testQueue(conn, QUEUES.ingest);
  after(async () => {
    await Promise.all(http.servers.map((s) => s.close()));
    await ingest.close();
  });
  const host = `127.0.0.1:${port}`;

  test('every request needs the password; a write also an allowed Origin', async () => {
    assert.equal((await send(port, 'GET', '/api/queues', { host })).status, 401);
    assert.equal((await send(port, 'GET', '/api/queues', { host, authorization: basic('mtf', 'wrong password!') })).status, 401);
    assert.equal((await send(port, 'GET', '/api/queues', { host, authorization: basic('mtf', PASSWORD) })).status, 200);
    const add = (headers: Record<string, string>) => send(port, 'POST', `/api/queues/${QUEUES.ingest}/add`, { host, ...headers }, evilJob);
    assert.equal((await add({})).status, 401, 'no password, no write');
    assert.equal((await add({ authorization: basic('mtf', PASSWORD), origin: 'http://attacker.example' })).status, 403, 'a cross-site write');
    assert.equal((await add({ authorization: basic('mtf', PASSWORD), host: 'attacker.example' })).status, 403, 'a rebinding write');
    assert.equal(await ingest.count(), 0);
    // The operator's own request goes through (what the processor then makes of the job is jobData's business).
    const ok = await add({ authorization: basic('mtf', PASSWORD), origin: `http://${host}` });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(await ingest.count(), 1);
  });
});
