/**
 * Writes the JSON Schemas in schemas/ from their zod sources (the single source of truth).
 * `npm run schemas` after changing a contract; test/schemas.test.ts fails when they drift.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchemas } from '../src/schemas.ts';

const dir = join(import.meta.dirname, '..', 'schemas');
for (const [name, text] of Object.entries(renderSchemas())) {
  writeFileSync(join(dir, name), text);
  console.log(`wrote schemas/${name}`);
}
