import { InputError } from '../errors/index.ts';

/** Parses a numeric flag; the error names the flag and the rule. */
export function parseNumberFlag(text: string, flag: string, rule: { integer?: boolean; min?: number; max?: number } = {}): number {
  const v = Number(text);
  const kind = rule.integer ? 'a whole number' : 'a number';
  const range = rule.min !== undefined && rule.max !== undefined ? ` in [${rule.min}, ${rule.max}]` : rule.min !== undefined ? ` ≥ ${rule.min}` : rule.max !== undefined ? ` ≤ ${rule.max}` : '';
  if (text.trim() === '' || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v)) || (rule.min !== undefined && v < rule.min) || (rule.max !== undefined && v > rule.max)) {
    throw new InputError(`${flag}: expected ${kind}${range}, got '${text}'`, { field: flag });
  }
  return v;
}
