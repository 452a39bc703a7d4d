/** Defaults of `mtf serve` (a module of its own so that `mtf --help` loads no HTTP framework). */
export const SERVE_DEFAULTS = {
  /** interface to bind: only this machine */
  host: '127.0.0.1',
  port: 8080,
  /** largest request body in bytes: 64 requests × 500 candidates × 8 tasks as JSON fit */
  bodyLimit: 4 * 1024 * 1024,
  /** most requests (rows of `states`) per call */
  maxRequests: 1024,
  /** most candidates per request */
  maxCandidates: 10_000,
  /** most scores (requests × candidates) per call: ~8× the 64 × 500 batch; caps the float32 memory a call reserves */
  maxScores: 250_000,
  /** the whole request (headers and body) must arrive within this many ms, else 408 and the connection closes (0 = no limit) */
  requestTimeoutMs: 10_000,
  /** a connection silent this long while a request is read or answered is closed (0 = never) */
  connectionTimeoutMs: 30_000,
  /** an idle keep-alive connection is closed after this many ms (fastify's default: longer than client pools' usual 60 s) */
  keepAliveTimeoutMs: 72_000,
  /** most simultaneous connections; more are closed on arrival */
  maxConnections: 512,
  /** check CURRENT every this many ms */
  pollMs: 1000,
} as const;
