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
  /** check CURRENT every this many ms */
  pollMs: 1000,
} as const;
