import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipeline, resolvePipelinePaths } from '../../src/config/pipeline.ts';
import { InputError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const NIGHTLY = join(import.meta.dirname, '..', '..', 'pipelines', 'nightly.yaml');

test('pipelines/nightly.yaml is valid and carries the paper defaults', () => {
  const p = loadPipeline(NIGHTLY);
  assert.equal(p.name, 'nightly');
  assert.equal(p.ingest.window_days, 3, 'paper §3.3: three days');
  assert.equal(p.ingest.test_fraction, 0.1, 'paper §4.1');
  assert.equal(p.train.algo, 'bcq');
  assert.equal(p.publish.tolerance, 0, 'publish only when not worse');
  assert.equal(p.schedule.cron, '0 3 * * *');
  const abs = resolvePipelinePaths(p, '/srv/mtf');
  assert.equal(abs.paths.logs, '/srv/mtf/logs');
  assert.equal(abs.paths.store, '/srv/mtf/models');
});

test('a bad pipeline file: one line naming the file and the field', () => {
  const dir = tempDir();
  const cases: [string, string][] = [
    ['name: nightly\npaths: {logs: l, artifacts: a, store: s}\ningest: {window_days: 3}\n', "field 'ingest.reward_weights'"],
    ['name: nightly\npaths: {logs: l, artifacts: a, store: s}\ningest: {reward_weights: {like: 1}}\ntrain: {algo: dqn}\n', "field 'train.algo'"],
    ['name: nightly\npaths: {logs: l, artifacts: a, store: s}\ningest: {reward_weights: {like: 1}}\npublish: {tolerance: -1}\n', "field 'publish.tolerance'"],
    ['name: "night:ly"\npaths: {logs: l, artifacts: a, store: s}\ningest: {reward_weights: {like: 1}}\n', "field 'name'"],
    ['name: nightly\npaths: {logs: l, artifacts: a, store: s}\ningest: {reward_weights: {like: 1}}\ntrian: {}\n', 'trian'],
    ['name: a\nname: b\n', 'Map keys must be unique'],
  ];
  for (const [text, part] of cases) {
    const f = join(dir, 'p.yaml');
    writeFileSync(f, text);
    assert.throws(() => loadPipeline(f), (e: unknown) => e instanceof InputError && e.message.startsWith(f) && e.message.includes(part) && !e.message.includes('\n'), part);
  }
});
