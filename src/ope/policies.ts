/**
 * The policies OPE evaluates and what FQE needs of them: π_e(s) and π_e(s′) on every row of the
 * evaluation data, computed once (π_e is fixed during FQE, so no network of the policy runs inside the
 * K iterations).
 *
 * A policy is a batch function from logged-unit states to logged-unit α (`PolicyFn` of src/rl/policy.ts,
 * and the simulator's BatchPolicyFn), or `behavior`: the logged actions themselves — its target uses the
 * logged next action a′ (SARSA-style FQE of the behavior policy) and its initial value Q(s₀, a₀).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../errors/index.ts';
import type { OpeData } from './data.ts';
import { normalizeActions } from './rl.ts';

/** (states [n × S] row-major, logged units, n) → α [n × A], logged units. */
export type EvalActFn = (states: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

export type EvalPolicy =
  | { kind: 'behavior'; name: string; source: string }
  | {
      kind: 'fn';
      name: string;
      source: string;
      act: EvalActFn;
      dispose?: () => unknown;
      /** BCQ checkpoints: the seed of the baked latent codes it acts with (null: fresh codes per call) */
      latentSeed?: number | null;
    };

export function behaviorPolicy(name = 'behavior'): EvalPolicy {
  return { kind: 'behavior', name, source: 'behavior' };
}

export function constantPolicy(alpha: readonly number[], name = `const:${alpha.join(',')}`): EvalPolicy {
  if (alpha.length === 0 || alpha.some((x) => !Number.isFinite(x))) throw new InputError(`${name}: expected finite fusion weights, got [${alpha.join(', ')}]`);
  const a = Float32Array.from(alpha);
  return {
    kind: 'fn',
    name,
    source: `const:${alpha.join(',')}`,
    act: (_s, n) => {
      const out = new Float32Array(n * a.length);
      for (let i = 0; i < n; i++) out.set(a, i * a.length);
      return out;
    },
  };
}

export function fnPolicy(name: string, act: EvalActFn, source = name, dispose?: () => unknown): EvalPolicy {
  return { kind: 'fn', name, source, act, dispose };
}

/** π_e on every row, normalised to the Q network's action units. */
export interface PolicyActions {
  /** independent draws per state (1 for deterministic policies and for behavior) */
  samples: number;
  stochastic: boolean;
  /** [samples × n × A]: π_e(s_i), normalised */
  pi: Float32Array;
  /** [samples × n × A]: π_e(s′_i), normalised; 0 on rows without a TD target */
  pi2: Float32Array;
  /** [n × A]: the first draw of π_e(s_i) in logged units (histograms, OOD, importance weights) */
  raw: Float32Array;
}

/**
 * Evaluates π_e once per sample on the data's states (and on s′ where s′ is not the next row's state).
 * A policy that returns different actions for the same states twice is stochastic and gets
 * `maxSamples` draws; the others one.
 */
export async function policyActions(policy: EvalPolicy, d: OpeData, maxSamples: number): Promise<PolicyActions> {
  const { n, stateDim: S, actionDim: A, batch } = d;
  if (policy.kind === 'behavior') {
    const pi2 = new Float32Array(n * A);
    for (let i = 0; i < n; i++) {
      if (!d.mask[i] || !d.notDone[i]) continue;
      const j = d.nextRow[i];
      if (j < 0) throw new InputError(`evaluation data: row ${i} (session ${batch.sessionIds[batch.sessionIndex[i]] ?? batch.sessionIndex[i]}) is neither terminal nor truncated but has no next row, so the logged next action is unknown`);
      pi2.set(d.a.subarray(j * A, (j + 1) * A), i * A);
    }
    return { samples: 1, stochastic: false, pi: d.a, pi2, raw: batch.action };
  }
  const call = async (states: Float32Array, m: number): Promise<Float32Array> => {
    const out = await policy.act(states, m);
    if (out.length !== m * A) throw new InputError(`policy ${policy.name}: returned ${out.length} values for ${m} states, expected ${m * A} (${A} per state)`);
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) throw new InputError(`policy ${policy.name}: returned a non-finite weight (${out[i]}) for state ${Math.floor(i / A)}`);
    }
    return Float32Array.from(out);
  };
  const probe = Math.min(n, 256);
  const p1 = await call(batch.state.subarray(0, probe * S), probe);
  const p2 = await call(batch.state.subarray(0, probe * S), probe);
  const stochastic = p1.some((v, i) => v !== p2[i]);
  const samples = stochastic ? maxSamples : 1;

  // s′ = the next row's state wherever there is a next row; π is evaluated separately only elsewhere.
  const extra: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!d.mask[i] || !d.notDone[i]) continue;
    const j = d.nextRow[i];
    if (j < 0 || !sameRow(batch.nextState, i, batch.state, j, S)) extra.push(i);
  }
  const extraStates = new Float32Array(extra.length * S);
  extra.forEach((i, k) => extraStates.set(batch.nextState.subarray(i * S, (i + 1) * S), k * S));

  const pi = new Float32Array(samples * n * A);
  const pi2 = new Float32Array(samples * n * A);
  let raw: Float32Array = new Float32Array(0);
  for (let k = 0; k < samples; k++) {
    const aRaw = await call(batch.state, n);
    if (k === 0) raw = aRaw;
    const u = normalizeActions(aRaw, d.norm);
    pi.set(u, k * n * A);
    const u2 = extra.length ? normalizeActions(await call(extraStates, extra.length), d.norm) : new Float32Array(0);
    const off = k * n * A;
    for (let i = 0; i < n; i++) {
      if (!d.mask[i] || !d.notDone[i]) continue;
      const j = d.nextRow[i];
      if (j >= 0) pi2.set(u.subarray(j * A, (j + 1) * A), off + i * A);
    }
    extra.forEach((i, e) => pi2.set(u2.subarray(e * A, (e + 1) * A), off + i * A));
  }
  return { samples, stochastic, pi, pi2, raw };
}

function sameRow(x: Float32Array, i: number, y: Float32Array, j: number, dim: number): boolean {
  for (let c = 0; c < dim; c++) if (x[i * dim + c] !== y[j * dim + c]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// policy specs (the CLI's --policy and --baseline)

export const POLICY_SPEC_HELP =
  '[name=]behavior | const:a1,…,ak | model.onnx | <training output dir or checkpoint dir> | <model store dir with CURRENT>';

export interface LoadOptions {
  stateDim: number;
  actionDim: number;
  /** compute backend for checkpoints */
  backend?: 'auto' | 'tensorflow' | 'native' | 'wasm' | 'cpu';
  field?: string;
  /**
   * BCQ checkpoints: act with the latent codes the export bakes with this seed (default
   * DEFAULT_LATENT_SEED, as `mtf export` without --latent-seed), so that the V̂ the gate reads is the
   * V̂ of the model.onnx it publishes; null = fresh codes per state and call (the paper's π, stochastic).
   */
  latentSeed?: number | null;
}

/** The policy a spec names; `name=spec` sets the name shown in the report. */
export async function loadEvalPolicy(spec: string, o: LoadOptions): Promise<EvalPolicy> {
  const field = o.field ?? '--policy';
  const eq = /^([A-Za-z0-9_.\-]+)=(.+)$/.exec(spec);
  const [label, s] = eq && !eq[1].startsWith('const') ? [eq[1], eq[2].trim()] : [null, spec.trim()];
  if (s === 'behavior' || s === 'logged') return behaviorPolicy(label ?? 'behavior');
  if (s.startsWith('const:')) {
    const parts = s.slice(6).split(',').map((p) => p.trim());
    const alpha = parts.map(Number);
    if (parts.length !== o.actionDim || parts.some((p) => p === '') || alpha.some((x) => !Number.isFinite(x))) {
      throw new InputError(`${field}: '${spec}' must give ${o.actionDim} finite comma-separated weights (one per action dim)`, { field });
    }
    return constantPolicy(alpha, label ?? s);
  }
  if (/\.onnx$/i.test(s)) return onnxEvalPolicy(s, label ?? basename(s).replace(/\.onnx$/i, ''), o);
  if (existsSync(s) && statSync(s).isDirectory()) {
    const current = join(s, 'CURRENT');
    if (existsSync(current)) {
      const version = readFileSync(current, 'utf8').trim();
      const model = join(s, version, 'policy.onnx');
      if (!existsSync(model)) throw new InputError(`${field}: ${current} names version '${version}', but ${model} does not exist`, { field, file: model });
      return onnxEvalPolicy(model, label ?? `${basename(s)}@${version}`, o);
    }
    if (existsSync(join(s, 'policy.onnx'))) return onnxEvalPolicy(join(s, 'policy.onnx'), label ?? basename(s), o);
    const { loadPolicy, DEFAULT_LATENT_SEED } = await import('./rl.ts');
    const latentSeed = o.latentSeed === undefined ? DEFAULT_LATENT_SEED : o.latentSeed;
    const p = await loadPolicy(s, { backend: o.backend, ...(latentSeed === null ? {} : { latentSeed }) });
    if (p.stateDim !== o.stateDim || p.actionDim !== o.actionDim) {
      p.dispose();
      throw new InputError(`${field}: ${s} is a policy for state/action dims ${p.stateDim}/${p.actionDim}, the data has ${o.stateDim}/${o.actionDim}`, { field, file: s });
    }
    return { ...fnPolicy(label ?? basename(s), p.act, s, () => p.dispose()), ...(p.algoName === 'bcq' ? { latentSeed } : {}) };
  }
  // Say what is really wrong: a file that exists is the wrong kind of file, not a missing one.
  if (existsSync(s)) throw new InputError(`${field}: '${spec}' is a file but not a recognised policy (a model file ends in .onnx); expected ${POLICY_SPEC_HELP}`, { field, file: s });
  throw new InputError(`${field}: '${spec}' is not a recognised policy spec, nor a file or folder that exists; expected ${POLICY_SPEC_HELP}`, { field });
}

/** An exported fusion model: input `state` [N, S] → output `fusion_weights` [N, A] (onnxruntime-node, CPU). */
async function onnxEvalPolicy(file: string, name: string, o: LoadOptions): Promise<EvalPolicy> {
  if (!existsSync(file)) throw new InputError(`${file}: no such ONNX model`, { file });
  const ort = await import('onnxruntime-node');
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  } catch (err) {
    throw new InputError(`${file}: not a loadable ONNX model (${err instanceof Error ? err.message : String(err)})`, { file });
  }
  const [input, output] = ['state', 'fusion_weights'];
  if (!session.inputNames.includes(input) || !session.outputNames.includes(output)) {
    await session.release();
    throw new InputError(`${file}: a fusion model needs input '${input}' and output '${output}', found [${session.inputNames.join(', ')}] → [${session.outputNames.join(', ')}]`, { file });
  }
  const CHUNK = 8192;
  return fnPolicy(
    name,
    async (states, n) => {
      const out = new Float32Array(n * o.actionDim);
      for (let i = 0; i < n; i += CHUNK) {
        const m = Math.min(CHUNK, n - i);
        const x = new ort.Tensor('float32', states.slice(i * o.stateDim, (i + m) * o.stateDim), [m, o.stateDim]);
        const y = (await session.run({ [input]: x }))[output];
        if (!(y.data instanceof Float32Array) || y.data.length !== m * o.actionDim) {
          throw new InputError(`${file}: ${output} came back as ${y.type} [${y.dims.join(', ')}], expected float32 [${m}, ${o.actionDim}]`, { file });
        }
        out.set(y.data, i * o.actionDim);
      }
      return out;
    },
    file,
    () => session.release(),
  );
}
