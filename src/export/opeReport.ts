/**
 * The gate's input: the fields of an OPE report (src/ope) the export needs, read defensively — only
 * `policies[].name`, `v_hat` and `ci95` are required; everything else in the report is ignored, except
 * `baseline` (the live model as src/ope evaluated it beside the policies): it joins the entries when no
 * policy has its name, so that the gate finds the live model it must not fall behind.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors/index.ts';

const OpePolicy = z.object({
  name: z.string().min(1),
  v_hat: z.number(),
  ci95: z.tuple([z.number(), z.number()]).nullable().optional(),
  latent_seed: z.int().nullable().optional(),
  vs_baseline: z.object({ abs: z.number(), ci95: z.tuple([z.number(), z.number()]) }).nullable().optional(),
});
const OpeReport = z.object({ policies: z.array(OpePolicy).min(1), baseline: OpePolicy.nullable().optional() });

export interface OpeEntry {
  name: string;
  v_hat: number;
  ci95: [number, number] | null;
  /** BCQ checkpoints scored by src/ope: the latent codes' seed (null: fresh codes); absent otherwise */
  latent_seed?: number | null;
}

export interface OpeSummary {
  path: string;
  sha256: string;
  policies: OpeEntry[];
  /** the report's `baseline` (the live model src/ope evaluated beside the policies), when it has one */
  baselineName: string | null;
  /** per policy: V̂(policy) − V̂(baseline) and its paired bootstrap interval (same session resamples) */
  paired: Map<string, { abs: number; ci95: [number, number] }>;
}

export function readOpeReport(path: string): OpeSummary {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read the OPE report (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not JSON (${(err as Error).message})`, { file: path });
  }
  const parsed = OpeReport.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    throw new InputError(`${path}: ${field || '(root)'}: ${issue.message} (the gate needs policies[] with name, v_hat and ci95 [lo, hi])`, { file: path, field });
  }
  const names = new Set<string>();
  for (const p of parsed.data.policies) {
    if (names.has(p.name)) throw new InputError(`${path}: policies: the name '${p.name}' appears twice`, { file: path, field: 'policies' });
    names.add(p.name);
  }
  const base = parsed.data.baseline;
  const all = base && !names.has(base.name) ? [...parsed.data.policies, base] : parsed.data.policies;
  const paired = new Map<string, { abs: number; ci95: [number, number] }>();
  for (const p of parsed.data.policies) if (base && p.vs_baseline && p.name !== base.name) paired.set(p.name, { abs: p.vs_baseline.abs, ci95: p.vs_baseline.ci95 });
  return {
    path,
    sha256: createHash('sha256').update(text).digest('hex'),
    baselineName: base?.name ?? null,
    paired,
    policies: all.map((p) => ({ name: p.name, v_hat: p.v_hat, ci95: p.ci95 ?? null, ...(p.latent_seed !== undefined ? { latent_seed: p.latent_seed } : {}) })),
  };
}

export const BEHAVIOR_NAMES = ['behavior', 'behaviour', 'behavior_policy', 'logged'];

/**
 * The new model's entry: `explicit` when given; else the one named like the model; else the only entry
 * that is neither the behavior policy nor `exclude` (the current model's entry).
 */
export function pickCandidate(report: OpeSummary, modelName: string, explicit: string | undefined, exclude: string[]): OpeEntry {
  const names = report.policies.map((p) => p.name);
  if (explicit !== undefined) {
    const e = report.policies.find((p) => p.name === explicit);
    if (!e) throw new InputError(`--candidate: ${report.path} has no policy '${explicit}' (it has ${names.join(', ')})`, { field: '--candidate' });
    return e;
  }
  const byName = report.policies.find((p) => p.name === modelName);
  if (byName) return byName;
  const others = report.policies.filter((p) => !BEHAVIOR_NAMES.includes(p.name.toLowerCase()) && !exclude.includes(p.name));
  if (others.length === 1) return others[0];
  throw new InputError(`${report.path}: cannot tell which policy is the exported model among ${names.join(', ')}; name it with --candidate`, { file: report.path, field: '--candidate' });
}

/**
 * What the new model is compared with: `explicit` when given; else the current model's entry (named
 * `<name>@<version>`, `<version>` or `current`) when CURRENT exists and the report has it; else the
 * behavior policy.
 */
export function pickBaseline(
  report: OpeSummary,
  modelName: string,
  currentVersion: string | null,
  explicit: string | undefined,
): OpeEntry & { role: 'current' | 'behavior' } {
  const names = report.policies.map((p) => p.name);
  if (explicit !== undefined) {
    const e = report.policies.find((p) => p.name === explicit);
    if (!e) throw new InputError(`--baseline: ${report.path} has no policy '${explicit}' (it has ${names.join(', ')})`, { field: '--baseline' });
    return { ...e, role: BEHAVIOR_NAMES.includes(explicit.toLowerCase()) ? 'behavior' : 'current' };
  }
  if (currentVersion) {
    const e = report.policies.find((p) => currentNames(modelName, currentVersion).includes(p.name));
    if (e) return { ...e, role: 'current' };
  }
  const b = report.policies.find((p) => BEHAVIOR_NAMES.includes(p.name.toLowerCase()));
  if (b) return { ...b, role: 'behavior' };
  throw new InputError(
    `${report.path}: no baseline to gate against: expected a policy named ${currentVersion ? `${currentNames(modelName, currentVersion).join(', ')} or ` : ''}behavior (it has ${names.join(', ')}); name one with --baseline`,
    { file: report.path, field: '--baseline' },
  );
}

/** The names an OPE report may give the current model. */
export function currentNames(modelName: string, version: string): string[] {
  return [`${modelName}@${version}`, version, 'current'];
}
