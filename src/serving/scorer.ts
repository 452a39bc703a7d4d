/**
 * FusionScorer: the ranking stack's view of the model store (issue 6 §3). It serves the version that
 * <store>/<name>/CURRENT names, running scorer.onnx (α = π(state) and Eq. 1 in one graph) in
 * onnxruntime-node, and follows CURRENT: a new version is read, its SHA-256s and manifest checked, its
 * graph loaded and warmed up beside the serving one, and swapped in only when all of that worked. A
 * broken new version leaves the old one serving; the reason is kept in `lastRejection` and logged once
 * per distinct cause (a poll that finds the same broken CURRENT again stays quiet); `lastRejection` is
 * cleared when CURRENT is healthy again (it names the serving version, or a good version was swapped in).
 *
 * `score` refuses what POST /v1/score refuses, with the same validation (validate.ts): shapes, limits,
 * finite float32 values, o + β > 0, and finite outputs.
 *
 * A swapped-out session is released once the requests already running on it have finished.
 */
import { watch, type FSWatcher } from 'node:fs';
import { InputError, oneLine } from '../errors/index.ts';
import {
  createSession,
  modelDir,
  ModelStoreError,
  readCurrent,
  readVersion,
  SCORES_OUTPUT,
  STATE_INPUT,
  TASK_SCORES_INPUT,
  WEIGHTS_OUTPUT,
  type Manifest,
} from '../export/index.ts';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import * as ort from 'onnxruntime-node';
import { checkScoreOutput, NO_LIMITS, validateScoreInput, type ScoreLimits } from './validate.ts';
import { exploreRows, needsUniforms } from './exploration.ts';
export { NO_EXPLORATION_ARM } from './exploration.ts';

export interface FusionScorerOptions {
  /** check CURRENT every this many ms (default 1000; 0 = never follow CURRENT) */
  pollMs?: number;
  /** also react to file-system events on the model directory (default true; polling remains the fallback) */
  watch?: boolean;
  /** a version that failed to load is tried again after this many ms (default 30000) */
  retryMs?: number;
  /** onnxruntime intra-op threads (default 1) */
  threads?: number;
  /** where swaps and rejections are reported (default: one line on stderr) */
  log?: (line: string) => void;
  /** most requests, candidates per request and scores per call that `score` accepts (default: no limits) */
  limits?: Partial<ScoreLimits>;
}

/** What `scoreSessions` adds: per request, the exploration the ranking stack applied and logs. */
export interface SessionScoreResult extends ScoreResult {
  /** Shape [n × k]: the α applied and to log (`action`): μ moved by the session's arm (schemas/exploration.md) */
  fusionWeights: Float32Array;
  /** Shape [n × k]: the model's own α, μ = π(state) */
  meanWeights: Float32Array;
  /** per request: log-density of the α applied under its arm; null for a σ = 0 arm (control: no density) */
  actionLogp: (number | null)[];
  /** per request: `<arm>:<version>` (schemas/exploration.md §4) */
  policyIds: string[];
  /** per request: the arm's name */
  arms: string[];
}

export interface ScoreResult {
  /** Shape [n × C]: Σ_i α_i·log(o_i + β_i) per candidate (Eq. 1); rank by descending score */
  scores: Float32Array;
  /** Shape [n × k]: α per request, logged units */
  fusionWeights: Float32Array;
  n: number;
  candidates: number;
  /** the model version that scored this call */
  version: string;
}

class LoadedModel {
  inflight = 0;
  retired = false;

  constructor(
    readonly version: string,
    readonly manifest: Manifest,
    readonly session: InferenceSession,
  ) {}

  get stateDim(): number {
    return this.manifest.state.dim;
  }
  get actionDim(): number {
    return this.manifest.action.dim;
  }

  /** Releases the session now if idle, else when the last running request ends. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.session.release().catch(() => undefined);
  }

  done(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.session.release().catch(() => undefined);
  }
}

export class FusionScorer {
  private model: LoadedModel;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private checking: Promise<boolean> | null = null;
  private again = false;
  private readonly failed = new Map<string, { at: number; reason: string }>();
  private closed = false;
  /** version + reason of the rejection last logged: the same one found again is not logged again */
  private lastLogged: string | null = null;
  /** the last version that failed to load, and why (null: CURRENT healthy since) */
  lastRejection: { version: string; reason: string } | null = null;

  private constructor(
    readonly storeDir: string,
    readonly name: string,
    model: LoadedModel,
    private readonly opts: Required<Omit<FusionScorerOptions, 'log' | 'limits'>> & { log: (line: string) => void; limits: ScoreLimits },
  ) {
    this.model = model;
  }

  /** Loads and verifies the version CURRENT names; throws (naming the file) when it cannot serve it. */
  static async open(storeDir: string, name: string, options: FusionScorerOptions = {}): Promise<FusionScorer> {
    const opts = {
      pollMs: options.pollMs ?? 1000,
      watch: options.watch ?? true,
      retryMs: options.retryMs ?? 30_000,
      threads: options.threads ?? 1,
      log: options.log ?? ((line: string) => process.stderr.write(`mtf serving: ${line}\n`)),
      limits: { ...NO_LIMITS, ...options.limits },
    };
    const version = readCurrent(storeDir, name);
    if (version === null) throw new ModelStoreError(`${modelDir(storeDir, name)}/CURRENT: no published version of '${name}' in ${storeDir}`);
    const model = await loadModel(storeDir, name, version, opts.threads);
    const scorer = new FusionScorer(storeDir, name, model, opts);
    scorer.follow();
    return scorer;
  }

  get version(): string {
    return this.model.version;
  }

  get manifest(): Manifest {
    return this.model.manifest;
  }

  /**
   * Scores n requests of C candidates: states [n × d] (logged units, manifest feature order) and
   * taskScores [n × C × k] (the multi-task predictions o, manifest task order). n and C follow from the
   * lengths. Throws an InputError naming the field and index when the input cannot be scored
   * (validate.ts); never returns a NaN or infinite value.
   */
  async score(states: Float32Array, taskScores: Float32Array): Promise<ScoreResult> {
    if (this.closed) throw new Error('FusionScorer is closed');
    return this.run(this.model, states, taskScores);
  }

  /**
   * Scores n requests as the ranking stack serves them with online exploration (paper §3.3; contract in
   * schemas/exploration.md): each request's session is assigned an arm from a keyed hash of its id (the
   * manifest's `exploration`), α = μ + σ·z (gaussian arm) or μ + h·(2u − 1) (uniform arm, issue 21 §3)
   * with μ the model's fusion_weights, and the candidates are
   * ranked by Σ_i α_i·log(o_i + β_i) with that α (Eq. 1; the graph's own scores where σ = 0). Returns
   * what the stack logs: α (`action`), `action_logp` and `policy_id`, all from the one version that
   * scored the call. `normals` (shape [n × k]) are the standard normals z to use and `uniforms` (shape
   * [n × k], values in [0, 1)) the u of uniform arms (default: drawn here, uniforms only when the
   * version has a uniform arm); a caller that wants reproducible logs (the simulator) passes its own. A
   * version without exploration in its manifest serves μ, arm `none`.
   */
  async scoreSessions(states: Float32Array, taskScores: Float32Array, sessionIds: readonly string[], normals?: Float32Array, uniforms?: ArrayLike<number>): Promise<SessionScoreResult> {
    if (this.closed) throw new Error('FusionScorer is closed');
    const m = this.model;
    const r = await this.run(m, states, taskScores);
    const { n, candidates: C } = r;
    const k = m.actionDim;
    if (sessionIds.length !== n) throw new InputError(`session_ids: expected ${n} (one per request), got ${sessionIds.length}`, { field: 'session_ids' });
    if (normals !== undefined && normals.length !== n * k) throw new RangeError(`scoreSessions: normals must hold ${n} × ${k} values, got ${normals.length}`);
    if (uniforms !== undefined && uniforms.length !== n * k) throw new RangeError(`scoreSessions: uniforms must hold ${n} × ${k} values, got ${uniforms.length}`);
    let z: Float32Array | undefined = normals;
    if (z === undefined) {
      z = new Float32Array(n * k);
      standardNormals(z);
    }
    const exploration = m.manifest.exploration ?? null;
    let u: ArrayLike<number> | undefined = uniforms;
    if (u === undefined && needsUniforms(exploration)) {
      // the normals above are drawn first and as before, so a gaussian-only version draws exactly as it did
      const fresh = new Float64Array(n * k);
      for (let j = 0; j < fresh.length; j++) fresh[j] = Math.random(); // [0, 1)
      u = fresh;
    }
    const e = exploreRows(r.fusionWeights, k, sessionIds, exploration, z, m.version, u);
    const alpha = e.alpha;
    const scores = r.scores;
    const logOB = new Float64Array(k);
    const beta = Float32Array.from(m.manifest.beta); // as the graph and the validation hold it
    for (let i = 0; i < n; i++) {
      if (!e.explored[i]) continue; // μ itself: the graph's scores
      // Eq. (1) with the explored α: f_c = Σ_j α_j log(o_cj + β_j) (validation guaranteed o + β > 0)
      for (let c = 0; c < C; c++) {
        const o = (i * C + c) * k;
        for (let j = 0; j < k; j++) logOB[j] = Math.log(Math.fround(taskScores[o + j] + beta[j]));
        let f = 0;
        for (let j = 0; j < k; j++) f += alpha[i * k + j] * logOB[j];
        scores[i * C + c] = f;
      }
    }
    checkScoreOutput(alpha, scores, n, C);
    return { ...r, scores, fusionWeights: alpha, meanWeights: r.fusionWeights, actionLogp: e.actionLogp, policyIds: e.policyIds, arms: e.arms };
  }

  private async run(m: LoadedModel, states: Float32Array, taskScores: Float32Array): Promise<ScoreResult> {
    const { n, C } = validateScoreInput(states, taskScores, { stateDim: m.stateDim, actionDim: m.actionDim, beta: m.manifest.beta }, this.opts.limits);
    m.inflight++;
    try {
      const out = await m.session.run({
        [STATE_INPUT]: new ort.Tensor('float32', states, [n, m.stateDim]),
        [TASK_SCORES_INPUT]: new ort.Tensor('float32', taskScores, [n, C, m.actionDim]),
      });
      const scores = data(out[SCORES_OUTPUT]);
      const fusionWeights = data(out[WEIGHTS_OUTPUT]);
      checkScoreOutput(fusionWeights, scores, n, C);
      return { scores, fusionWeights, n, candidates: C, version: m.version };
    } finally {
      m.done();
    }
  }

  /**
   * Checks CURRENT now; loads, verifies and swaps in a new version. Returns true when it swapped.
   * Never throws: a version that cannot serve is logged and remembered in `lastRejection`.
   */
  refresh(): Promise<boolean> {
    if (this.checking) {
      this.again = true; // CURRENT may have moved after the running check read it: check once more after it
      return this.checking;
    }
    this.checking = (async () => {
      let swapped = false;
      do {
        this.again = false;
        swapped = (await this.check()) || swapped;
      } while (this.again && !this.closed);
      return swapped;
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async check(): Promise<boolean> {
    if (this.closed) return false;
    let version: string | null;
    try {
      version = readCurrent(this.storeDir, this.name);
    } catch (err) {
      this.reject('CURRENT', oneLine(err));
      return false;
    }
    if (version === this.model.version) {
      this.healthy();
      return false;
    }
    if (version === null) return false;
    const failed = this.failed.get(version);
    if (failed && Date.now() - failed.at < this.opts.retryMs) return false;
    let next: LoadedModel;
    try {
      next = await loadModel(this.storeDir, this.name, version, this.opts.threads);
    } catch (err) {
      this.failed.set(version, { at: Date.now(), reason: oneLine(err) });
      this.reject(version, oneLine(err));
      return false;
    }
    if (this.closed) {
      next.retire();
      return false;
    }
    const old = this.model;
    this.model = next;
    old.retire();
    this.failed.delete(version);
    this.healthy();
    this.opts.log(`${this.name}: now serving ${version} (was ${old.version})`);
    return true;
  }

  private reject(version: string, reason: string): void {
    this.lastRejection = { version, reason };
    const cause = `${version}\n${reason}`;
    if (cause === this.lastLogged) return; // every poll finds it again: once in the log is enough
    this.lastLogged = cause;
    this.opts.log(`${this.name}: kept ${this.model.version}; ${version} cannot serve: ${reason}`);
  }

  /** CURRENT names the serving version: earlier rejections are over (and a recurrence is news again). */
  private healthy(): void {
    this.lastRejection = null;
    this.lastLogged = null;
  }

  private follow(): void {
    if (this.opts.pollMs <= 0) return;
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs);
    this.timer.unref();
    if (!this.opts.watch) return;
    try {
      // A rename of CURRENT shows as an event on the directory; the poll covers file systems without events.
      this.watcher = watch(modelDir(this.storeDir, this.name), { persistent: false }, (_event, file) => {
        if (file === null || file === 'CURRENT') void this.refresh();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = null;
    }
  }

  /** Stops following CURRENT and releases the session (after running requests finish). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    await this.checking;
    this.model.retire();
  }
}

/** Fills z with independent standard normals (Box–Muller over Math.random: serving needs no seed). */
function standardNormals(z: Float32Array): void {
  for (let j = 0; j < z.length; j += 2) {
    const u1 = 1 - Math.random(); // (0, 1]
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = 2 * Math.PI * Math.random();
    z[j] = r * Math.cos(t);
    if (j + 1 < z.length) z[j + 1] = r * Math.sin(t);
  }
}

function data(t: Tensor | undefined): Float32Array {
  if (!t || !(t.data instanceof Float32Array)) throw new Error('the model returned no float32 output');
  return t.data;
}

/** Reads, verifies, loads and warms up one version; throws with the reason it cannot serve. */
async function loadModel(storeDir: string, name: string, version: string, threads: number): Promise<LoadedModel> {
  const stored = readVersion(storeDir, name, version); // manifest schema, names, sizes, SHA-256s
  const m = stored.manifest;
  if (m.status !== 'published') throw new ModelStoreError(`${stored.dir}: status is '${m.status}' (${m.gate.reason}); only published versions are served`);
  if (m.state.names.length !== m.state.dim || m.action.names.length !== m.action.dim || m.beta.length !== m.action.dim) {
    throw new ModelStoreError(`${stored.dir}/manifest.json: names and β do not match state.dim ${m.state.dim} / action.dim ${m.action.dim}`);
  }
  let session: InferenceSession;
  try {
    session = await createSession(stored.files['scorer.onnx'], { threads });
  } catch (err) {
    throw new ModelStoreError(`${stored.dir}/scorer.onnx: onnxruntime cannot load it (${oneLine(err)})`);
  }
  const model = new LoadedModel(version, m, session);
  try {
    checkSignature(session, m, stored.dir);
    await warmUp(model, stored.dir);
  } catch (err) {
    model.retire();
    throw err;
  }
  return model;
}

function checkSignature(session: InferenceSession, m: Manifest, dir: string): void {
  for (const [names, want, what] of [
    [session.inputNames, [STATE_INPUT, TASK_SCORES_INPUT], 'inputs'],
    [session.outputNames, [WEIGHTS_OUTPUT, SCORES_OUTPUT], 'outputs'],
  ] as const) {
    if (want.some((w) => !names.includes(w))) throw new ModelStoreError(`${dir}/scorer.onnx: ${what} are [${names.join(', ')}], expected [${want.join(', ')}]`);
  }
  const dims = (name: string) => {
    const meta = session.inputMetadata.find((v) => v.name === name);
    return meta && meta.isTensor ? meta.shape : null;
  };
  const s = dims(STATE_INPUT);
  const o = dims(TASK_SCORES_INPUT);
  if (s && s[1] !== m.state.dim) throw new ModelStoreError(`${dir}/scorer.onnx: state is [${s.join(', ')}], the manifest says state.dim ${m.state.dim}`);
  if (o && o[2] !== m.action.dim) throw new ModelStoreError(`${dir}/scorer.onnx: task_scores is [${o.join(', ')}], the manifest says action.dim ${m.action.dim}`);
}

/** A few runs on the training mean state (and a shifted one): outputs of the right shape, finite, α in bounds. */
async function warmUp(model: LoadedModel, dir: string): Promise<void> {
  const m = model.manifest;
  const d = m.state.dim;
  const k = m.action.dim;
  const n = 2;
  const C = 3;
  const states = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    states[j] = m.normalization.state_mean[j];
    states[d + j] = m.normalization.state_mean[j] + m.normalization.state_std[j];
  }
  const o = new Float32Array(n * C * k).fill(0.5);
  for (let r = 0; r < 3; r++) {
    const out = await model.session.run({
      [STATE_INPUT]: new ort.Tensor('float32', states, [n, d]),
      [TASK_SCORES_INPUT]: new ort.Tensor('float32', o, [n, C, k]),
    });
    const alpha = data(out[WEIGHTS_OUTPUT]);
    const scores = data(out[SCORES_OUTPUT]);
    if (alpha.length !== n * k || scores.length !== n * C) throw new ModelStoreError(`${dir}/scorer.onnx: warm-up returned ${alpha.length} weights and ${scores.length} scores, expected ${n * k} and ${n * C}`);
    for (let i = 0; i < alpha.length; i++) {
      const t = i % k;
      const slack = 1e-5 * Math.max(1, Math.abs(m.action.min[t]), Math.abs(m.action.max[t]));
      if (!(alpha[i] >= m.action.min[t] - slack && alpha[i] <= m.action.max[t] + slack)) {
        throw new ModelStoreError(`${dir}/scorer.onnx: warm-up weight ${m.action.names[t]} = ${alpha[i]} is outside [${m.action.min[t]}, ${m.action.max[t]}]`);
      }
    }
    if (scores.some((x) => !Number.isFinite(x))) throw new ModelStoreError(`${dir}/scorer.onnx: warm-up scores are not finite`);
  }
}
