/**
 * The library reference (`npm run docs:api`: TypeDoc over what a ranking stack imports — FusionScorer and
 * the exploration contract, the model store's readers and lock, the manifest, the log contract) builds
 * without a warning: every type the public API mentions is documented with it, every {@link} resolves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('the API docs build cleanly from the TSDoc comments (typedoc.json, warnings are errors)', { timeout: 180_000 }, () => {
  const root = join(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
