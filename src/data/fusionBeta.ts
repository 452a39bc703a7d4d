/**
 * β of Eq. (1), f(o|α) = Σ_i α_i·log(o_i + β_i): a property of the ranking stack that wrote the logs,
 * not of the model (issue 16 §5). The policy is learned from, and measured on, sessions ranked with
 * that β, so it travels with the data: parquet footer key `mtf.beta` (or the ingest setting `beta` for
 * writers that cannot set footer metadata) → metadata.json `beta` → the exported scorer's β.
 *
 * Equality is float32 equality, element by element: the scorer graph holds β as a float32 constant,
 * so two β that round to the same float32 rank identically.
 */
import { InputError } from '../errors/index.ts';
// types only: the export loads this module, and must not load DuckDB with it
import type { DuckDBConnection } from './duckdb.ts';

/** Parquet footer key-value metadata: β as a JSON array, one number per action element, in action order. */
export const FOOTER_BETA_KEY = 'mtf.beta';

/** β as a setting gives it: one number for every task, or one per task. */
export type BetaSetting = number | readonly number[];

/** The footer's `mtf.beta` of one parquet file, parsed; null when the file has none. */
export async function readFooterBeta(conn: DuckDBConnection, file: string): Promise<number[] | null> {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const r = await conn.runAndReadAll(`SELECT decode(value) AS v FROM parquet_kv_metadata(${lit(file)}) WHERE key = encode(${lit(FOOTER_BETA_KEY)})`);
  const rows = r.getRowObjectsJS() as { v: string | null }[];
  if (rows.length === 0 || rows[0].v === null) return null;
  return parseBeta(rows[0].v, `${file}: footer key '${FOOTER_BETA_KEY}'`, file);
}

/** A JSON array of finite numbers ≥ 0, or an InputError starting with `where`. */
export function parseBeta(text: string, where: string, file?: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0)) {
    const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
    throw new InputError(`${where} must be a JSON array of numbers ≥ 0 (β of Eq. 1, one per action element), got ${shown}`, { file });
  }
  return v as number[];
}

/** Same length and equal as float32, element by element (what the scorer graph holds). */
export function sameBeta(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => Math.fround(x) === Math.fround(b[i]));
}

export function formatBeta(b: readonly number[]): string {
  return `[${b.join(', ')}]`;
}

/** A setting expanded to k values and checked; InputError naming `field`. */
export function expandBeta(setting: BetaSetting, k: number, field: string): number[] {
  const beta = typeof setting === 'number' ? new Array<number>(k).fill(setting) : [...setting];
  if (beta.length !== k) throw new InputError(`${field}: expected 1 or ${k} values (one per action element), got ${beta.length}`, { field });
  if (beta.some((x) => !Number.isFinite(x) || x < 0)) throw new InputError(`${field}: every β_i must be a finite number ≥ 0, got ${formatBeta(beta)}`, { field });
  return beta;
}

/**
 * The β of an ingest: the files' footers (all that carry one must agree), and the setting, which must
 * agree with them when both exist and which alone states β for files without the footer key. null:
 * unknown (no footer, no setting). Throws InputError naming the files, or the setting and a file.
 */
export function resolveBeta(
  files: readonly { path: string; beta?: number[] | null }[],
  setting: BetaSetting | undefined,
  k: number,
  logs: string,
  field = '--beta (ingest.beta)',
): number[] | null {
  const fromSetting = setting === undefined ? null : expandBeta(setting, k, field);
  const groups: { beta: number[]; files: string[] }[] = [];
  const without: string[] = [];
  for (const f of files) {
    if (!f.beta) {
      without.push(f.path);
      continue;
    }
    if (f.beta.length !== k) {
      throw new InputError(`${f.path}: footer key '${FOOTER_BETA_KEY}' holds ${f.beta.length} values, the log's action has ${k} elements`, { file: f.path });
    }
    const g = groups.find((x) => sameBeta(x.beta, f.beta!));
    if (g) g.files.push(f.path);
    else groups.push({ beta: f.beta, files: [f.path] });
  }
  if (groups.length > 1) {
    const shown = groups.map((g) => `${g.files[0]}${g.files.length > 1 ? ` (and ${g.files.length - 1} more)` : ''} has ${formatBeta(g.beta)}`).join(', ');
    throw new InputError(
      `${logs}: the files disagree on β (footer '${FOOTER_BETA_KEY}'): ${shown}; logs of ranking stacks with different β are not one data set — ingest them separately`,
      { file: groups[1].files[0] },
    );
  }
  const footer = groups[0] ?? null;
  if (footer && fromSetting && !sameBeta(footer.beta, fromSetting)) {
    throw new InputError(
      `${field} ${formatBeta(fromSetting)} disagrees with footer '${FOOTER_BETA_KEY}' ${formatBeta(footer.beta)} of ${footer.files[0]}: the logs were ranked with the footer's β; drop the setting or correct it`,
      { file: footer.files[0], field },
    );
  }
  if (footer && without.length > 0 && !fromSetting) {
    throw new InputError(
      `${logs}: ${footer.files.length} files carry footer '${FOOTER_BETA_KEY}' ${formatBeta(footer.beta)} (e.g. ${footer.files[0]}) but ${without.length} do not (e.g. ${without[0]}); give ${field} to state β for all of them`,
      { file: without[0], field },
    );
  }
  return footer ? footer.beta : fromSetting;
}
