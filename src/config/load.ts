/**
 * Reading a config file (YAML or JSON) into a typed, validated object, once, at the edge. Duplicate keys
 * are an error (a silently winning duplicate is a classic config bug); every error names the file and
 * the field.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors/index.ts';

export function parseConfigText<T extends z.ZodType>(text: string, schema: T, source: string): z.infer<T> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InputError(`${source}: ${doc.errors[0].message.split('\n')[0]}`, { file: source });
  }
  const raw = doc.toJS() ?? {};
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.join('.') || '(top level)';
    throw new InputError(`${source}: field '${field}': ${issue.message}`, { file: source, field });
  }
  return result.data;
}

export function loadConfigFile<T extends z.ZodType>(path: string, schema: T): z.infer<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`${path}: cannot read the config file`, { file: path });
  }
  return parseConfigText(text, schema, path);
}
