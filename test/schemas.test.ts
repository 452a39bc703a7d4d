import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchemas } from '../src/schemas.ts';

test('schemas/*.json match their TypeScript sources (run `npm run schemas` after changing a contract)', () => {
  for (const [name, text] of Object.entries(renderSchemas())) {
    const onDisk = readFileSync(join(import.meta.dirname, '..', 'schemas', name), 'utf8');
    assert.equal(onDisk, text, `schemas/${name} is stale: run npm run schemas`);
  }
});
