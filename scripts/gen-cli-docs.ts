/** Writes docs/cli.md from the commander definitions (src/cli/reference.ts); test/cli/reference.test.ts checks it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCliReference } from '../src/cli/reference.ts';

const dir = join(import.meta.dirname, '..', 'docs');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'cli.md'), await renderCliReference());
console.log('wrote docs/cli.md');
