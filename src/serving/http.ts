/**
 * `mtf serve`: an optional HTTP endpoint over FusionScorer for ranking stacks not on Node (fastify).
 * Bound to 127.0.0.1 unless told otherwise; request bodies are size-limited (413); every shape error is
 * a 400 that names the field, index and the expected size.
 *
 *   GET  /healthz   → { status, name, version, last_rejection }
 *   GET  /v1/model  → names, dims, bounds and β of the served version
 *   POST /v1/score  { states: [[d numbers] × n], task_scores: [[[k numbers] × C] × n] }
 *                   → { version, fusion_weights: [[k] × n], scores: [[C] × n] }
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { InputError } from '../errors/index.ts';
import { SERVE_DEFAULTS } from './defaults.ts';
import type { FusionScorer } from './scorer.ts';

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
}


export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port actually bound */
  url: string;
  close(): Promise<void>;
}

class BadRequest extends Error {
  readonly statusCode = 400;
}

export function buildApp(scorer: FusionScorer, options: ServeOptions = {}): FastifyInstance {
  const o = { ...SERVE_DEFAULTS, ...options };
  const app = Fastify({ bodyLimit: o.bodyLimit, logger: false });
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
    return { name: m.name, version: m.version, created_at: m.created_at, state: m.state, action: m.action, beta: m.beta, algo: m.source.algo };
  });

  app.post('/v1/score', async (req) => {
    const m = scorer.manifest;
    const { states, taskScores } = parseScoreBody(req.body, m.state.dim, m.action.dim, m.beta, o);
    const r = await scorer.score(states, taskScores);
    const k = r.fusionWeights.length / r.n;
    return {
      version: r.version,
      fusion_weights: rows(r.fusionWeights, r.n, k),
      scores: rows(r.scores, r.n, r.candidates),
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

/** The body's arrays into flat float32 arrays, or a BadRequest naming the first problem. */
export function parseScoreBody(
  body: unknown,
  d: number,
  k: number,
  beta: number[],
  limits: { maxRequests: number; maxCandidates: number },
): { states: Float32Array; taskScores: Float32Array } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('body: expected a JSON object { "states": [...], "task_scores": [...] }');
  const { states, task_scores: scores } = body as Record<string, unknown>;
  if (!Array.isArray(states)) throw new BadRequest(`states: expected an array of requests, each ${d} numbers`);
  if (!Array.isArray(scores)) throw new BadRequest(`task_scores: expected an array of requests, each an array of candidates of ${k} numbers`);
  const n = states.length;
  if (n === 0) throw new BadRequest('states: expected at least one request');
  if (n > limits.maxRequests) throw new BadRequest(`states: ${n} requests, at most ${limits.maxRequests} per call`);
  if (scores.length !== n) throw new BadRequest(`task_scores: ${scores.length} requests, states has ${n}`);
  const s = new Float32Array(n * d);
  states.forEach((row, i) => readNumbers(row, d, s, i * d, `states[${i}]`, 'state_dim'));
  const first = scores[0];
  const C = Array.isArray(first) ? first.length : -1;
  if (C < 1) throw new BadRequest('task_scores[0]: expected an array of at least one candidate');
  if (C > limits.maxCandidates) throw new BadRequest(`task_scores[0]: ${C} candidates, at most ${limits.maxCandidates} per request`);
  const o = new Float32Array(n * C * k);
  scores.forEach((req, i) => {
    if (!Array.isArray(req) || req.length !== C) {
      throw new BadRequest(`task_scores[${i}]: expected ${C} candidates (as task_scores[0]: every request of a call has the same number), got ${Array.isArray(req) ? req.length : typeof req}`);
    }
    req.forEach((cand, c) => readNumbers(cand, k, o, (i * C + c) * k, `task_scores[${i}][${c}]`, 'tasks'));
  });
  for (let i = 0; i < o.length; i++) {
    const t = i % k;
    if (!(o[i] + beta[t] > 0)) {
      const c = Math.floor(i / k);
      throw new BadRequest(`task_scores[${Math.floor(c / C)}][${c % C}][${t}] = ${o[i]}: o + β must be > 0 (β = ${beta[t]}), since the score takes log(o + β)`);
    }
  }
  return { states: s, taskScores: o };
}

function readNumbers(row: unknown, len: number, out: Float32Array, offset: number, where: string, what: string): void {
  if (!Array.isArray(row) || row.length !== len) {
    throw new BadRequest(`${where}: expected ${len} numbers (${what} ${len}), got ${Array.isArray(row) ? `${row.length}` : typeof row}`);
  }
  for (let j = 0; j < len; j++) {
    const v = row[j];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadRequest(`${where}[${j}]: expected a finite number, got ${JSON.stringify(v)}`);
    out[offset + j] = v;
  }
}
