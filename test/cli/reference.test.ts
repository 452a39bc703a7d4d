import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCliReference } from '../../src/cli/reference.ts';

test('docs/cli.md is what the commander definitions render (run `npm run docs:cli` after changing a command)', async () => {
  const text = await renderCliReference();
  const onDisk = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'cli.md'), 'utf8');
  assert.equal(onDisk, text, 'docs/cli.md is stale: run npm run docs:cli');
  // every command is in it, with its options
  for (const heading of ['## mtf train', '## mtf evaluate', '## mtf ingest', '## mtf run']) assert.ok(text.includes(`\n${heading}\n`), heading);
  assert.match(text, /--algo <name>[^\n]*\n?[^\n]*iql/);
});
