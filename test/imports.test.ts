/**
 * No import cycles among the modules of src/ and jobs/: a module never imports (by a value import, at
 * load time) a module that imports it back. Type-only imports are erased and do not count; dynamic
 * import() runs later and does not count either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : name.endsWith('.ts') ? [p] : [];
  });
}

/** The relative modules a file loads with value imports or value re-exports. */
export function valueImports(source: string, from: string): string[] {
  const out: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^'"]*?)\s*from\s*'(\.[^']+)'/gms;
  for (const m of source.matchAll(re)) {
    if (m[2]) continue; // `import type … from`, `export type … from`
    const names = m[3];
    // `import { type A, type B } from` loads nothing at run time either
    const braces = /^\{([^}]*)\}$/s.exec(names.trim());
    if (braces && braces[1].split(',').every((n) => !n.trim() || /^type\s/.test(n.trim()))) continue;
    out.push(resolve(dirname(from), m[4]));
  }
  for (const m of source.matchAll(/^\s*import\s+'(\.[^']+)'/gm)) out.push(resolve(dirname(from), m[1]));
  return out;
}

test('no import cycles in src/ and jobs/', () => {
  const all = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'jobs'))];
  const graph = new Map(all.map((f) => [f, valueImports(readFileSync(f, 'utf8'), f).filter((g) => g.endsWith('.ts'))]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].map((x) => relative(ROOT, x)).join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of all) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('the cycle check sees value imports and ignores type-only ones', () => {
  const f = join(ROOT, 'src', 'x.ts');
  const src = [
    "import { a } from './a.ts';",
    "import type { B } from './b.ts';",
    "import { type C, type D } from './c.ts';",
    "import { type E, f } from './e.ts';",
    "export { g } from './g.ts';",
    "export type { H } from './h.ts';",
    "import {\n  i,\n  j,\n} from './i.ts';",
  ].join('\n');
  assert.deepEqual(valueImports(src, f).map((p) => relative(join(ROOT, 'src'), p)), ['a.ts', 'e.ts', 'g.ts', 'i.ts']);
});
