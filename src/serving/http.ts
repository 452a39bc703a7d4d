/**
 * `mtf serve`: an optional HTTP endpoint over FusionScorer for ranking stacks not on Node (fastify).
 * Bound to 127.0.0.1 unless told otherwise; request bodies are size-limited (413); every shape or value
 * error is a 400 that names the field, index and the rule (the InputErrors of validate.ts, the same
 * validation FusionScorer.score applies).
 *
 * Limits (SERVE_DEFAULTS, each an `mtf serve` flag): a call's shape is checked row by row before any
 * float32 memory is reserved, and n requests × C candidates must stay within maxRequests, maxCandidates
 * and maxScores, so a call reserves at most maxScores × k floats; values are checked after float32
 * conversion (1e39 is Infinity there: 400). The whole request, headers and body, must arrive within
 * requestTimeoutMs (else 408 and the connection closes: a client trickling its body cannot hold a
 * connection open); a connection silent for connectionTimeoutMs mid-request or mid-response is closed;
 * an idle keep-alive one after keepAliveTimeoutMs; connections beyond maxConnections are closed on arrival.
 *
 *   GET  /healthz   → { status, name, version, last_rejection }
 *   GET  /v1/model  → names, dims, bounds, β and exploration settings of the served version
 *   POST /v1/score  { states: [[d numbers] × n], task_scores: [[[k numbers] × C] × n], session_ids?: [n] }
 *                   → { version, fusion_weights: [[k] × n], scores: [[C] × n] }; with session_ids, the
 *                     manifest's exploration per session: fusion_weights = the α applied, plus
 *                     action_logp: [n] (null for a σ = 0 arm) and policy_id: [n] (`<arm>:<version>`)
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { InputError } from '../errors/index.ts';
import { SERVE_DEFAULTS } from './defaults.ts';
import type { FusionScorer } from './scorer.ts';
import { checkCounts, type ScoreLimits } from './validate.ts';

export interface ServeOptions {
  /** interface to bind (default 127.0.0.1: only this machine) */
  host?: string;
  /** port (default 8080; 0 = any free port) */
  port?: number;
  /** largest request body in bytes (default 4 MiB: 64 requests × 500 candidates × 8 tasks as JSON) */
  bodyLimit?: number;
  /** most requests (rows of `states`) per call (default 1024) */
  maxRequests?: number;
  /** most candidates per request (default 10000) */
  maxCandidates?: number;
  /** most scores (requests × candidates) per call (default 250000) */
  maxScores?: number;
  /** ms for the whole request, headers and body, to arrive; else 408 and close (default 10000; 0 = none) */
  requestTimeoutMs?: number;
  /** ms a connection may stay silent while a request is read or answered (default 30000; 0 = forever) */
  connectionTimeoutMs?: number;
  /** ms an idle keep-alive connection stays open (default 72000) */
  keepAliveTimeoutMs?: number;
  /** most simultaneous connections; more are closed on arrival (default 512) */
  maxConnections?: number;
}


export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port actually bound */
  url: string;
  close(): Promise<void>;
}

export function buildApp(scorer: FusionScorer, options: ServeOptions = {}): FastifyInstance {
  const o = { ...SERVE_DEFAULTS, ...options };
  for (const key of ['bodyLimit', 'maxRequests', 'maxCandidates', 'maxScores', 'maxConnections', 'keepAliveTimeoutMs'] as const) positive(key, o[key], 1);
  for (const key of ['requestTimeoutMs', 'connectionTimeoutMs'] as const) positive(key, o[key], 0);
  // node checks the request and headers timeouts only every connectionsCheckingInterval (30 s by default):
  // a quarter of the timeout, within [50 ms, 1 s], keeps the overshoot small. Headers get node's 60 s cap.
  const headersTimeout = o.requestTimeoutMs > 0 ? Math.min(o.requestTimeoutMs, 60_000) : 60_000;
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    logger: false,
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.connectionTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    http: { requestTimeout: o.requestTimeoutMs, headersTimeout, connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))) },
  });
  app.server.maxConnections = o.maxConnections;
  app.removeContentTypeParser('text/plain'); // JSON only: anything else is 415

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : err instanceof InputError ? 400 : 500;
    const message = status === 500 ? 'internal error while scoring' : err.message;
    if (status === 500) process.stderr.write(`mtf serve: ${err.message}\n`);
    void reply.code(status).send({ error: status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : status === 500 ? 'internal' : 'bad_request', message });
  });
  app.setNotFoundHandler((req, reply) => void reply.code(404).send({ error: 'not_found', message: `${req.method} ${req.url}: not a route (GET /healthz, GET /v1/model, POST /v1/score)` }));

  app.get('/healthz', async () => ({ status: 'ok', name: scorer.name, version: scorer.version, last_rejection: scorer.lastRejection }));

  app.get('/v1/model', async () => {
    const m = scorer.manifest;
    return { name: m.name, version: m.version, created_at: m.created_at, state: m.state, action: m.action, beta: m.beta, algo: m.source.algo, exploration: m.exploration ?? null };
  });

  app.post('/v1/score', async (req) => {
    const m = scorer.manifest;
    const { states, taskScores, sessionIds } = parseScoreBody(req.body, m.state.dim, m.action.dim, o);
    if (sessionIds === null) {
      const r = await scorer.score(states, taskScores); // validates the values (validate.ts): InputError → 400
      const k = r.fusionWeights.length / r.n;
      return { version: r.version, fusion_weights: rows(r.fusionWeights, r.n, k), scores: rows(r.scores, r.n, r.candidates) };
    }
    // With session ids: the manifest's exploration applied per session (schemas/exploration.md); the
    // answer holds exactly the columns the stack logs (action = fusion_weights, action_logp, policy_id).
    const r = await scorer.scoreSessions(states, taskScores, sessionIds);
    const k = r.fusionWeights.length / r.n;
    return {
      version: r.version,
      fusion_weights: rows(r.fusionWeights, r.n, k),
      scores: rows(r.scores, r.n, r.candidates),
      action_logp: r.actionLogp,
      policy_id: r.policyIds,
    };
  });
  return app;
}

export async function startServer(scorer: FusionScorer, options: ServeOptions = {}): Promise<RunningServer> {
  const app = buildApp(scorer, options);
  const host = options.host ?? SERVE_DEFAULTS.host;
  await app.listen({ host, port: options.port ?? SERVE_DEFAULTS.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  return { app, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, close: () => app.close() };
}

function rows(x: Float32Array, n: number, m: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * m, (i + 1) * m)));
}

/**
 * The body's nested arrays into flat float32 arrays, or an InputError naming the first problem. Every
 * row's and candidate's length and the limits are checked before the arrays are allocated, so a call
 * reserves memory only for what it validly holds. The values themselves (finite in float32, o + β > 0)
 * are FusionScorer.score's to check, with the validation every entry point shares (validate.ts).
 */
export function parseScoreBody(body: unknown, d: number, k: number, limits: ScoreLimits): { states: Float32Array; taskScores: Float32Array; sessionIds: string[] | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body', 'body: expected a JSON object { "states": [...], "task_scores": [...] }');
  const { states, task_scores: scores, session_ids: ids } = body as Record<string, unknown>;
  if (!Array.isArray(states)) throw bad('states', `states: expected an array of requests, each ${d} numbers`);
  if (!Array.isArray(scores)) throw bad('task_scores', `task_scores: expected an array of requests, each an array of candidates of ${k} numbers`);
  const n = states.length;
  if (n === 0) throw bad('states', 'states: expected at least one request');
  checkCounts(n, 0, limits);
  if (scores.length !== n) throw bad('task_scores', `task_scores: ${scores.length} requests, states has ${n}`);
  states.forEach((row, i) => checkLength(row, d, `states[${i}]`, 'state_dim'));
  const first = scores[0];
  const C = Array.isArray(first) ? first.length : -1;
  if (C < 1) throw bad('task_scores', 'task_scores[0]: expected an array of at least one candidate');
  checkCounts(n, C, limits, 'task_scores[0]');
  scores.forEach((req, i) => {
    if (!Array.isArray(req) || req.length !== C) {
      throw bad('task_scores', `task_scores[${i}]: expected ${C} candidates (as task_scores[0]: every request of a call has the same number), got ${Array.isArray(req) ? req.length : typeof req}`);
    }
    req.forEach((cand, c) => checkLength(cand, k, `task_scores[${i}][${c}]`, 'tasks'));
  });
  // shapes hold: n·d and n·C·k numbers are really there
  const s = new Float32Array(n * d);
  states.forEach((row: unknown[], i) => readNumbers(row, s, i * d, `states[${i}]`));
  const o = new Float32Array(n * C * k);
  scores.forEach((req: unknown[][], i) => req.forEach((cand, c) => readNumbers(cand, o, (i * C + c) * k, `task_scores[${i}][${c}]`)));
  let sessionIds: string[] | null = null;
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length !== n) throw bad('session_ids', `session_ids: expected ${n} session ids (one per request, as states), got ${Array.isArray(ids) ? ids.length : typeof ids}`);
    sessionIds = ids.map((x, i) => {
      // integer ids as their decimal text (schemas/exploration.md §1); a JSON number past 2^53 has lost digits already
      if (typeof x === 'number' && Number.isSafeInteger(x)) return String(x);
      if (typeof x !== 'string' || x.length === 0) throw bad('session_ids', `session_ids[${i}]: expected a non-empty string or a safe integer, got ${JSON.stringify(x)}`);
      return x;
    });
  }
  return { states: s, taskScores: o, sessionIds };
}

function bad(field: string, message: string): InputError {
  return new InputError(message, { field });
}

function checkLength(row: unknown, len: number, where: string, what: string): void {
  if (!Array.isArray(row) || row.length !== len) {
    throw bad(where.slice(0, where.indexOf('[')), `${where}: expected ${len} numbers (${what} ${len}), got ${Array.isArray(row) ? `${row.length}` : typeof row}`);
  }
}

/** Copies numbers into `out` (float32); finiteness and range are validated after the conversion. */
function readNumbers(row: unknown[], out: Float32Array, offset: number, where: string): void {
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (typeof v !== 'number') throw bad(where.slice(0, where.indexOf('[')), `${where}[${j}]: expected a finite number, got ${JSON.stringify(v)}`);
    out[offset + j] = v;
  }
}

function positive(key: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new InputError(`${key}: expected a whole number ≥ ${min}, got ${v}`, { field: key });
}
