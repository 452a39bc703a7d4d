/**
 * Flag values are checked where commander parses them (`.argParser`, `.choices`): a malformed value
 * is a usage error (exit 2) with one line naming the flag and the rule, before any work starts.
 * Checks that need two flags at once, or a flag that is required only sometimes, throw UsageError.
 */
import { InvalidArgumentError, type Command, type Option } from 'commander';

/** The command line itself is wrong (exit 2): a missing or malformed flag, flags that do not go together. */
export class UsageError extends Error {
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'UsageError';
    this.field = field;
  }
}

export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
}

function checkNumber(text: string, rule: NumberRule): { value: number } | { problem: string } {
  const v = Number(text);
  const kind = rule.integer ? 'a whole number' : 'a number';
  const range = rule.min !== undefined && rule.max !== undefined ? ` in [${rule.min}, ${rule.max}]` : rule.min !== undefined ? ` ≥ ${rule.min}` : rule.max !== undefined ? ` ≤ ${rule.max}` : '';
  if (text.trim() === '' || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v)) || (rule.min !== undefined && v < rule.min) || (rule.max !== undefined && v > rule.max)) {
    return { problem: `expected ${kind}${range}, got '${text}'` };
  }
  return { value: v };
}

/** Parses a numeric flag outside commander (e.g. one item of a list); UsageError names the flag and the rule. */
export function parseNumberFlag(text: string, flag: string, rule: NumberRule = {}): number {
  const r = checkNumber(text, rule);
  if ('problem' in r) throw new UsageError(`${flag}: ${r.problem}`, flag);
  return r.value;
}

/** A comma-separated list of numbers (e.g. β: one for every task or one per task): one number, or the list. */
export function parseNumberList(text: string, flag: string, rule: NumberRule = {}): number | number[] {
  const parts = text.split(',').map((x) => parseNumberFlag(x.trim(), flag, rule));
  return parts.length === 1 ? parts[0] : parts;
}

/** commander argParser for a number flag. */
export function numberArg(rule: NumberRule = {}): (text: string) => number {
  return (text) => {
    const r = checkNumber(text, rule);
    if ('problem' in r) throw new InvalidArgumentError(r.problem);
    return r.value;
  };
}

/** commander argParser for a whole-number flag in [min, max]. */
export function intArg(min?: number, max?: number): (text: string) => number {
  return numberArg({ integer: true, min, max });
}

/** A seed: a whole number in [0, 2^32 − 1]. */
export const seedArg = intArg(0, 2 ** 32 - 1);

/** A calendar date YYYY-MM-DD (UTC), e.g. 2025-02-30 is refused. */
export function isDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/** commander argParser for a date flag. */
export function dateArg(text: string): string {
  if (!isDate(text)) throw new InvalidArgumentError(`expected a date YYYY-MM-DD, got '${text}'`);
  return text;
}

/** commander argParser for an IANA time zone name. */
export function timeZoneArg(text: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: text });
  } catch {
    throw new InvalidArgumentError(`'${text}' is not an IANA time zone (e.g. UTC, Europe/Berlin, Asia/Shanghai)`);
  }
  return text;
}

/** commander argParser that turns a parser's error (e.g. an InputError naming the flag) into a usage error. */
export function parsedArg<T>(flag: string, parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new InvalidArgumentError(msg.startsWith(`${flag}: `) ? msg.slice(flag.length + 2) : msg);
    }
  };
}

/** For repeatable flags: collects every value in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Required unless the command only prints something (`--help-config`): commander cannot make such a
 * flag mandatory, so the command checks it (requireFlag) and the help says "(required)" like commander's own.
 */
export function requiredLater(option: Option): Option {
  (option as Option & { requiredLater?: boolean }).requiredLater = true;
  return option;
}

export function isRequired(option: Option): boolean {
  return option.mandatory || (option as Option & { requiredLater?: boolean }).requiredLater === true;
}

export function requireFlag<T>(value: T | undefined, flags: string): T {
  if (value === undefined) throw new UsageError(`required option '${flags}' not specified`, flags.split(' ')[0]);
  return value;
}

/**
 * A default applied after the command line is read (from a --config file, or by the library): commander
 * must not fill it in (a flag given overrides the file, an absent one does not), so the help shows it
 * in the same "(default: …)" as commander's own defaults (main.ts, optionDescription).
 */
export function laterDefault(option: Option, value: string | number): Option {
  (option as Option & { laterDefault?: string }).laterDefault = String(value);
  return option;
}

export function laterDefaultOf(option: Option): string | undefined {
  return (option as Option & { laterDefault?: string }).laterDefault;
}

/** 1–3 real command lines under "Examples:" at the end of the command's --help. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
