/**
 * `mtf serve`'s connection limits over raw TCP on 127.0.0.1: clients that trickle their headers or body
 * (slow loris) are cut off after requestTimeoutMs while normal calls are answered, and connections beyond
 * maxConnections are closed on arrival. Short timeouts keep the tests to seconds; the deadlines carry
 * generous slack for a loaded machine. Every socket and the server are closed in `finally`.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FusionScorer, startServer, type RunningServer } from '../../src/serving/index.ts';
import { publishRandom } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

const SPEC = { stateDim: 4, actionDim: 3 };
const SCORE_BODY = JSON.stringify({ states: [[0, 1, 2, 3]], task_scores: [[[0.5, 0.5, 0.5]]] });
/** how long past a timeout the server may take to act on it here (node checks every ¼ timeout; the machine is shared) */
const SLACK_MS = 6000;

interface Outcome {
  /** the server closed the connection before the deadline */
  closed: boolean;
  afterMs: number;
  /** what the server sent */
  response: string;
}

/**
 * Opens a connection that `send`s (first at connect, then every `everyMs` while it can) and resolves
 * when the server closes it or at `deadlineMs`, whichever comes first. The socket goes into `open`.
 */
function client(port: number, open: Socket[], send: (tick: number) => string | null, everyMs: number, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(port, '127.0.0.1');
    open.push(sock);
    let response = '';
    let tick = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ closed, afterMs: Date.now() - started, response });
    };
    const deadline = setTimeout(() => finish(false), deadlineMs);
    const write = () => {
      const chunk = send(tick++);
      if (chunk !== null && sock.writable) sock.write(chunk);
    };
    sock.on('connect', () => {
      write();
      timer = setInterval(write, everyMs);
    });
    sock.on('data', (b) => (response += b));
    sock.on('error', () => undefined); // a write after the server closed: the close event tells the outcome
    sock.on('close', () => finish(true));
  });
}

const HEAD = `POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
/** the headers at once, then a body byte (JSON whitespace) per tick: never complete */
const trickleBody = (tick: number) => (tick === 0 ? HEAD : ' ');
/** the headers a byte per tick: never complete */
const trickleHeaders = (tick: number) => HEAD[tick % HEAD.length];
/** one whole request that closes the connection after its answer */
const oneRequest = (path: string) => (tick: number) => (tick === 0 ? `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n` : null);

async function connections(server: RunningServer): Promise<number> {
  return new Promise((resolve, reject) => server.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe('HTTP connection limits', () => {
  let scorer: FusionScorer;
  before(async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 3, spec: SPEC });
    scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
  });
  after(async () => {
    await scorer.close();
  });

  test('slow clients (a body or the headers a byte every 200 ms, or silence) are cut off after requestTimeoutMs while a normal call is answered', async () => {
    const timeoutMs = 1000;
    const server = await startServer(scorer, { port: 0, requestTimeoutMs: timeoutMs });
    const open: Socket[] = [];
    try {
      const port = Number(new URL(server.url).port);
      const modes = { body: trickleBody, headers: trickleHeaders, silent: () => null };
      const mode = (i: number) => (['body', 'headers', 'silent'] as const)[i % 3];
      const slow = Array.from({ length: 21 }, (_, i) => client(port, open, modes[mode(i)], 200, timeoutMs + SLACK_MS));
      assert.ok(await until(async () => (await connections(server)) >= 21, 5000), 'the slow clients are connected');
      const res = await fetch(`${server.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: SCORE_BODY });
      assert.equal(res.status, 200, 'a normal call is answered while the slow ones hang on');
      await res.arrayBuffer();
      const outcomes = await Promise.all(slow);
      for (const [i, o] of outcomes.entries()) {
        assert.ok(o.closed, `slow client ${i} (${mode(i)}) still open after ${o.afterMs} ms (request timeout ${timeoutMs} ms)`);
        assert.match(o.response, /^(HTTP\/1\.1 408 |$)/, `slow client ${i}: ${o.response}`);
      }
      assert.ok(outcomes.some((o) => o.response.startsWith('HTTP/1.1 408 ')), 'the server says why (408)');
    } finally {
      for (const s of open) s.destroy();
      await server.close();
    }
  });

  test('connections beyond maxConnections are closed on arrival; a freed slot serves again', async () => {
    const server = await startServer(scorer, { port: 0, maxConnections: 3, requestTimeoutMs: 60_000 }); // the held ones stay for the test
    const open: Socket[] = [];
    try {
      const port = Number(new URL(server.url).port);
      const idle = () => null;
      const held = Array.from({ length: 3 }, () => client(port, open, idle, 1000, 60_000));
      assert.ok(await until(async () => (await connections(server)) === 3, 5000), 'three connections held');

      const extra = await client(port, open, oneRequest('/healthz'), 1000, SLACK_MS);
      assert.ok(extra.closed, `a fourth connection was kept open ${extra.afterMs} ms: ${extra.response}`);
      assert.equal(extra.response, '', 'the fourth connection gets no answer');

      open[0].destroy();
      await held[0];
      assert.ok(await until(async () => (await connections(server)) < 3, 5000), 'a slot was freed');
      const again = await client(port, open, oneRequest('/healthz'), 1000, SLACK_MS);
      assert.match(again.response, /^HTTP\/1\.1 200 /);
    } finally {
      for (const s of open) s.destroy();
      await server.close();
    }
  });
});
