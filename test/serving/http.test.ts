/**
 * `mtf serve`'s HTTP endpoint over real HTTP on 127.0.0.1 (ephemeral port): scores as FusionScorer,
 * clear 4xx answers for bad shapes, bodies and routes; and the CLI serving and swapping end to end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { actionLogp, assignArm, defaultPublishedExploration, FusionScorer, parseScoreBody, startServer, type RunningServer } from '../../src/serving/index.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores } from '../export/helpers.ts';
import { ROOT, runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const SPEC = { stateDim: 4, actionDim: 3 };
/** the exploration the served version carries (the pipeline's default) */
const EXP = defaultPublishedExploration();

function rows(x: Float32Array, n: number, m: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * m, (i + 1) * m)));
}

describe('HTTP endpoint', () => {
  let scorer: FusionScorer;
  let server: RunningServer;
  const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${server.url}/v1/score`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 3, spec: SPEC, exploration: EXP });
    scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    server = await startServer(scorer, { port: 0, bodyLimit: 64 * 1024, maxRequests: 8, maxScores: 64 });
  });
  after(async () => {
    await server.close();
    await scorer.close();
  });

  test('binds 127.0.0.1; health and model description', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const h = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    assert.deepEqual(h, { status: 'ok', name: 'feed', version: 'v000001', last_rejection: null });
    const m = (await (await fetch(`${server.url}/v1/model`)).json()) as { state: { dim: number }; action: { names: string[] }; beta: number[] };
    assert.equal(m.state.dim, 4);
    assert.deepEqual(m.action.names, ['task0', 'task1', 'task2']);
    assert.equal(m.beta.length, 3);
  });

  test('POST /v1/score returns FusionScorer\'s α and scores; without session_ids no exploration, and the response as before', async () => {
    const [n, C] = [2, 30];
    const states = randomStates(randomSpec(SPEC), n);
    const o = randomTaskScores(n, C, 3);
    const res = await post({ states: rows(states, n, 4), task_scores: Array.from({ length: n }, (_, i) => rows(o.subarray(i * C * 3, (i + 1) * C * 3), C, 3)) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: string; fusion_weights: number[][]; scores: number[][] };
    const direct = await scorer.score(states, o);
    assert.equal(body.version, 'v000001');
    assert.deepEqual(body.fusion_weights, rows(direct.fusionWeights, n, 3));
    assert.deepEqual(body.scores, rows(direct.scores, n, C));
    assert.deepEqual(Object.keys(body).sort(), ['fusion_weights', 'scores', 'version']);
  });

  test('with session_ids: each session\'s arm explores; action_logp (null for control) and policy_id per request', async () => {
    // ids in every default arm: integers (sent as JSON numbers) and strings
    const want = { control: 2, random_explore: 3, action_noise: 3 } as Record<string, number>;
    const ids: (string | number)[] = [];
    for (let i = 0; ids.length < 8; i++) {
      const id = i % 2 === 0 ? 7000 + i : `user-${i}`;
      const arm = assignArm(id, EXP.key, EXP).name;
      if (want[arm] > 0) {
        want[arm]--;
        ids.push(id);
      }
    }
    const [n, C] = [8, 8];
    const states = randomStates(randomSpec(SPEC), n, 5);
    const o = randomTaskScores(n, C, 3, 6);
    const res = await post({ states: rows(states, n, 4), task_scores: Array.from({ length: n }, (_, i) => rows(o.subarray(i * C * 3, (i + 1) * C * 3), C, 3)), session_ids: ids });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: string; fusion_weights: number[][]; scores: number[][]; action_logp: (number | null)[]; policy_id: string[] };
    assert.deepEqual(Object.keys(body).sort(), ['action_logp', 'fusion_weights', 'policy_id', 'scores', 'version']);
    assert.equal(body.version, 'v000001');
    const mu = rows((await scorer.score(states, o)).fusionWeights, n, 3);
    const beta = Float32Array.from(scorer.manifest.beta);
    ids.forEach((id, i) => {
      const arm = assignArm(id, EXP.key, EXP);
      assert.equal(body.policy_id[i], `${arm.name}:v000001`, `session ${id}`);
      const alpha = body.fusion_weights[i];
      if (arm.sigma === 0) {
        assert.deepEqual(alpha, mu[i], `control session ${id}: μ as is`);
        assert.equal(body.action_logp[i], null);
      } else {
        assert.notDeepEqual(alpha, mu[i], `session ${id} (${arm.name}) explored`);
        assert.equal(body.action_logp[i], actionLogp(alpha, mu[i], arm.sigma!), `session ${id}: the density of the α returned`);
      }
      for (let c = 0; c < C; c++) {
        let f = 0;
        for (let j = 0; j < 3; j++) f += alpha[j] * Math.log(Math.fround(o[(i * C + c) * 3 + j] + beta[j]));
        assert.ok(Math.abs(body.scores[i][c] - f) <= 1e-5 * Math.max(1, Math.abs(f)), `scores[${i}][${c}]: ranked by the α returned`);
      }
    });
    // a JSON integer and its decimal text are the same session
    const twice = await post({ states: [[0, 1, 2, 3], [0, 1, 2, 3]], task_scores: [[[0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5]]], session_ids: [ids[0], String(ids[0])] });
    assert.equal(twice.status, 200);
    const t = (await twice.json()) as { policy_id: string[] };
    assert.equal(t.policy_id[0], t.policy_id[1]);
  });

  test('bad session_ids: 400 naming session_ids', async () => {
    const one = { states: [[1, 2, 3, 4]], task_scores: [[[0.1, 0.2, 0.3]]] };
    const cases: [unknown, RegExp][] = [
      [{ ...one, session_ids: ['a', 'b'] }, /session_ids: expected 1 session ids \(one per request, as states\), got 2/],
      [{ ...one, session_ids: [] }, /session_ids: expected 1 session ids.*got 0/],
      [{ ...one, session_ids: 'a' }, /session_ids: expected 1 session ids.*got string/],
      [{ ...one, session_ids: { a: 1 } }, /session_ids: expected 1 session ids.*got object/],
      [{ ...one, session_ids: null }, /session_ids: expected 1 session ids/],
      [{ ...one, session_ids: [''] }, /session_ids\[0\]: expected a non-empty string or a safe integer, got ""/],
      [{ ...one, session_ids: [{ id: 1 }] }, /session_ids\[0\]: expected a non-empty string or a safe integer, got \{"id":1\}/],
      [{ ...one, session_ids: [null] }, /session_ids\[0\]: .* got null/],
      [{ ...one, session_ids: [1.5] }, /session_ids\[0\]: .* got 1\.5/],
      [{ ...one, session_ids: [2 ** 53] }, /session_ids\[0\]: expected a non-empty string or a safe integer, got 9007199254740992/],
      [{ ...one, session_ids: [true] }, /session_ids\[0\]: .* got true/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      const json = (await res.json()) as { error: string; message: string };
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${json.message}`);
      assert.equal(json.error, 'bad_request');
      assert.match(json.message, message);
    }
  });

  test('bad shapes and values: 400 naming the field, index and expected size', async () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /body: expected a JSON object/],
      [{ states: [[1, 2, 3, 4]] }, /task_scores: expected an array of requests/],
      [{ states: [], task_scores: [] }, /states: expected at least one request/],
      [{ states: [[1, 2, 3]], task_scores: [[[0.1, 0.2, 0.3]]] }, /states\[0\]: expected 4 numbers \(state_dim 4\), got 3/],
      [{ states: [[1, 2, 3, 4], [1, 2, 3, 4]], task_scores: [[[0.1, 0.2, 0.3]]] }, /task_scores: 1 requests, states has 2/],
      [{ states: [[1, 2, 3, 4]], task_scores: [[[0.1, 0.2]]] }, /task_scores\[0\]\[0\]: expected 3 numbers \(tasks 3\), got 2/],
      [{ states: [[1, 2, 3, 4], [1, 2, 3, 4]], task_scores: [[[0.1, 0.2, 0.3]], [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]] }, /task_scores\[1\]: expected 1 candidates/],
      [{ states: [[1, 2, '3', 4]], task_scores: [[[0.1, 0.2, 0.3]]] }, /states\[0\]\[2\]: expected a finite number, got "3"/],
      [{ states: [[1, 2, null, 4]], task_scores: [[[0.1, 0.2, 0.3]]] }, /states\[0\]\[2\]: expected a finite number, got null/],
      [{ states: [[1, 2, 3, 4]], task_scores: [[[0.1, -5, 0.3]]] }, /task_scores\[0\]\[0\]\[1\] = -5: o \+ β must be > 0/],
      // beyond float32: Infinity once converted, refused as such (not a 200 with null weights)
      [{ states: [[1, 1e39, 3, 4]], task_scores: [[[0.1, 0.2, 0.3]]] }, /states\[0\]\[1\] = Infinity: expected a finite number within float32's range/],
      [{ states: [[1, 2, 3, 4]], task_scores: [[[0.1, 0.2, 0.3], [0.1, 0.2, -1e39]]] }, /task_scores\[0\]\[1\]\[2\] = -Infinity: expected a finite number/],
      // finite in float32 but so large that standardising it overflows in the graph
      [{ states: [[1, 2, 3, 4], [3e38, 2, 3, 4]], task_scores: [[[0.1, 0.2, 0.3]], [[0.1, 0.2, 0.3]]] }, /states\[1\]: the model's fusion weights for this state are not finite/],
      [{ states: Array.from({ length: 3 }, () => [1, 2, 3, 4]), task_scores: Array.from({ length: 3 }, () => Array.from({ length: 22 }, () => [0.1, 0.2, 0.3])) }, /task_scores: 3 requests × 22 candidates = 66 scores, at most 64 per call/],
      [{ states: Array.from({ length: 9 }, () => [1, 2, 3, 4]), task_scores: [] }, /states: 9 requests, at most 8 per call/],
      ['{"states": [[1, 2', /JSON/i],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      const json = (await res.json()) as { error: string; message: string };
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${json.message}`);
      assert.equal(json.error, 'bad_request');
      assert.match(json.message, message);
    }
  });

  test('too large → 413, not JSON → 415, unknown route → 404', async () => {
    const big = await post({ states: [[1, 2, 3, 4]], task_scores: [Array.from({ length: 5000 }, () => [0.1, 0.2, 0.3])] });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: string }).error, 'payload_too_large');
    const text = await post('states=1', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    const nf = await fetch(`${server.url}/v1/nope`);
    assert.equal(nf.status, 404);
    assert.match(((await nf.json()) as { message: string }).message, /POST \/v1\/score/);
  });
});

test('a call\'s shape is checked in full before its float32 arrays are allocated', () => {
  // task_scores[0] claims 10,000 candidates of 8 tasks for 1,024 requests (328 MB as float32) in a few
  // hundred KB of JSON; the other rows disagree. Checking only the first row before allocating reserved it all.
  const [n, C, d, k] = [1024, 10_000, 4, 8];
  const cand = new Array<number>(k).fill(0.5);
  const body = { states: Array.from({ length: n }, () => [0, 1, 2, 3]), task_scores: [new Array(C).fill(cand), ...Array.from({ length: n - 1 }, () => [cand])] };
  const limits = { maxRequests: n, maxCandidates: C, maxScores: Infinity }; // the order alone, not maxScores, must protect
  // Three tries: a collection of an earlier try's garbage during the next allocation can hide that one.
  let most = 0;
  for (let i = 0; i < 3; i++) {
    const before = process.memoryUsage().arrayBuffers;
    let after = before;
    assert.throws(
      () => {
        try {
          parseScoreBody(body, d, k, limits);
        } finally {
          after = process.memoryUsage().arrayBuffers;
        }
      },
      /task_scores\[1\]: expected 10000 candidates \(as task_scores\[0\]/,
    );
    most = Math.max(most, after - before);
  }
  assert.ok(most < 32 * 2 ** 20, `${(most / 2 ** 20).toFixed(0)} MiB of array buffers reserved for a refused call`);
});

test('mtf serve --help lists the limits, timeouts and the API', () => {
  const r = runMtf(['serve', '--help'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  for (const flag of ['--max-scores <n>', '--request-timeout-ms <n>', '--connection-timeout-ms <n>', '--keep-alive-timeout-ms <n>', '--max-connections <n>']) assert.ok(r.stdout.includes(flag), `${flag} missing:\n${r.stdout}`);
  assert.match(r.stdout, /--request-timeout-ms <n>\s+the whole request[^]*?\(default:\s+10000\)/);
  assert.match(r.stdout, /POST \/v1\/score .*session_ids\?[^]*action_logp[^]*policy_id/);
});

test('mtf serve: serves CURRENT on 127.0.0.1, swaps to a new version, stops on SIGTERM', async () => {
  const store = tempDir();
  publishRandom(store, 'feed', { seed: 1, spec: SPEC });
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'mtf.js'), 'serve', '--store', store, '--name', 'feed', '--port', '0', '--poll-ms', '50', '--request-timeout-ms', '5000', '--connection-timeout-ms', '20000', '--keep-alive-timeout-ms', '10000', '--max-connections', '64', '--max-scores', '1000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!/on (http:\S+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = /on (http:\S+)/.exec(out)?.[1];
    assert.ok(url, `no address printed: ${out} ${err}`);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const score = async () => {
      const res = await fetch(`${url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ states: [[0, 1, 2, 3]], task_scores: [[[0.5, 0.5, 0.5]]] }) });
      assert.equal(res.status, 200);
      return ((await res.json()) as { version: string }).version;
    };
    assert.equal(await score(), 'v000001');
    publishRandom(store, 'feed', { seed: 2, spec: SPEC });
    let v = '';
    while (Date.now() < deadline && (v = await score()) !== 'v000002') await new Promise((r) => setTimeout(r, 20));
    assert.equal(v, 'v000002');
    assert.match(err, /now serving v000002 \(was v000001\)/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
});
