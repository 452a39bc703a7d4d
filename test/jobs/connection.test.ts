import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueConnection } from '../../jobs/connection.ts';
import { InputError } from '../../src/errors/index.ts';
import { jobId, runFlow } from '../../jobs/queues.ts';
import { runIdOf } from '../../src/stages/index.ts';
import { tinyPipeline } from '../stages/fixtures.ts';

test('REDIS_URL: host, port, db, user and password, TLS for rediss://; the password never printed', () => {
  const c = queueConnection({ REDIS_URL: 'rediss://ops:s3cr%40t@redis.internal:6380/2', MTF_QUEUE_PREFIX: '{mtf}' });
  assert.equal(c.redis.host, 'redis.internal');
  assert.equal(c.redis.port, 6380);
  assert.equal(c.redis.db, 2);
  assert.equal(c.redis.username, 'ops');
  assert.equal(c.redis.password, 's3cr@t');
  assert.deepEqual(c.redis.tls, { servername: 'redis.internal' });
  assert.equal(c.redis.maxRetriesPerRequest, null, 'workers wait for a reconnect');
  assert.equal(c.prefix, '{mtf}', 'a hash-tagged prefix for Redis Cluster');
  assert.ok(!c.display.includes('s3cr'), c.display);
  const d = queueConnection({});
  assert.equal(d.redis.host, '127.0.0.1');
  assert.equal(d.redis.port, 6379);
  assert.equal(d.redis.tls, undefined);
  assert.equal(d.prefix, 'mtf');
  const pw = queueConnection({ REDIS_URL: 'redis://:only-password@h:1' });
  assert.equal(pw.redis.password, 'only-password');
  assert.equal(pw.redis.username, undefined);
});

test('bad REDIS_URL or prefix: a one-line error naming the variable', () => {
  for (const [env, name] of [
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'http://h:1' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://h:1/x' }, 'REDIS_URL'],
    [{ MTF_QUEUE_PREFIX: 'a:b' }, 'MTF_QUEUE_PREFIX'],
  ] as const) {
    assert.throws(() => queueConnection(env), (e: unknown) => e instanceof InputError && e.message.startsWith(`${name}:`));
  }
});

test('a REDIS_URL that does not parse is echoed with its password masked', () => {
  for (const url of ['redis://:S3cret#PW@127.0.0.1:6379', 'redis://ops:S3cret#PW@redis.internal:6380/2', 'redis://u:S3cret/x@host', 'S3cret@host']) {
    assert.throws(
      () => queueConnection({ REDIS_URL: url }),
      (e: unknown) => e instanceof InputError && e.message.startsWith('REDIS_URL:') && !e.message.includes('S3cret') && e.message.includes('***'),
      url,
    );
  }
});

test('the run flow: publish ← evaluate ← train ← merge ← one shard per partition; ids safe for BullMQ', () => {
  const p = tinyPipeline('/tmp/x', '/tmp/logs');
  const spec = { runId: runIdOf('nightly', '2026-11-20', 1), pipeline: p, date: '2026-11-20', attempt: 1 };
  const flow = runFlow(spec, ['dt=2026-11-18', 'dt=2026-11-19', 'dt=2026-11-20']);
  const evaluate = flow.children![0];
  const train = evaluate.children![0];
  const merge = train.children![0];
  assert.deepEqual(
    [flow, evaluate, train, merge].map((f) => `${f.queueName}/${f.name}`),
    ['mtf-publish/publish', 'mtf-evaluate/evaluate', 'mtf-train/train', 'mtf-ingest/merge'],
  );
  assert.equal(merge.children!.length, 3);
  const ids: string[] = [];
  const walk = (f: typeof flow) => {
    ids.push(f.opts!.jobId!);
    if (f !== flow) assert.equal(f.opts!.failParentOnFailure, true);
    f.children?.forEach(walk);
  };
  walk(flow);
  assert.equal(new Set(ids).size, 7);
  for (const id of ids) {
    assert.ok(!id.includes(':') && !/^\d+$/.test(id), id);
    assert.ok(id.startsWith('nightly-2026-11-20__'), id);
  }
  assert.equal(jobId(runIdOf('nightly', '2026-11-20', 2), 'train'), 'nightly-2026-11-20-a2__train');
});
