/**
 * REDIS_URL with TLS and a password, against a redis-server of the test's own that only speaks TLS
 * (a self-signed CA, trusted through Node's standard NODE_EXTRA_CA_CERTS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { freePort, NO_REDIS_SERVER, waitFor } from './harness.ts';

function certificates(dir: string) {
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mtf test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

test('rediss:// with a password: trigger and status work; a wrong password is a clear exit 4', { skip: NO_REDIS_SERVER, timeout: 120_000 }, async () => {
  const work = tempDir();
  const c = certificates(work);
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--tls-cert-file', c.cert, '--tls-key-file', c.key, '--tls-ca-cert-file', c.ca, '--tls-auth-clients', 'no', '--requirepass', 's3cret', '--save', '', '--dir', work], { stdio: 'ignore' });
  after(() => redis.kill('SIGKILL'));
  const env = { NODE_EXTRA_CA_CERTS: c.ca, MTF_QUEUE_PREFIX: 'mtftls' };
  const logs = await simulatedLogs(join(work, 'logs'), 50);
  const file = join(work, 'pipeline.json');
  writeFileSync(file, JSON.stringify(tinyPipeline(work, logs)));
  const url = `rediss://:s3cret@localhost:${port}`;
  let r = { code: -1, stdout: '', stderr: '' };
  await waitFor(() => {
    r = runMtf(['trigger', '--config', file, '--date', END_DATE, '--redis-url', url], { env });
    return r.code !== 4; // the server may still be starting
  }, 30_000, 'the TLS server');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`nightly-2026-11-20: started: 3 ingest shards .* on rediss://:\\*\\*\\*@localhost:${port}`));
  assert.ok(!r.stdout.includes('s3cret'), 'the password is not printed');
  const st = runMtf(['status', '--config', file, '--redis-url', url], { env });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /mtf-ingest\s+active 0, waiting 3,/);
  const bad = runMtf(['trigger', '--config', file, '--date', '2026-11-19', '--redis-url', `rediss://:wrong@localhost:${port}`], { env });
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /^mtf: REDIS_URL rediss:\/\/:\*\*\*@localhost:\d+: unreachable \(WRONGPASS/);
  const untrusted = runMtf(['trigger', '--config', file, '--date', '2026-11-19', '--redis-url', url], { env: { MTF_QUEUE_PREFIX: 'mtftls' } });
  assert.equal(untrusted.code, 4, 'a server certificate nobody vouches for is refused');
  assert.match(untrusted.stderr, /self[- ]signed|unable to (get|verify)/i);
});
