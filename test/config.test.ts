import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IngestConfig, parseConfigText } from '../src/config/index.ts';
import { runMtf } from './helpers/cli.ts';
import { tempDir } from './helpers/tmp.ts';

test('ingest config: paper defaults, validation naming the field, duplicate keys refused', () => {
  assert.deepEqual(IngestConfig.parse({}), { window_days: 3, inactivity_gap_minutes: 30, test_fraction: 0.1, threads: 1, shard_workers: 'auto', shard_mib: 512, merge_buckets: 1 });
  const cfg = parseConfigText('reward_weights: {play_time_s: 1, like: 2}\nwindow_days: 2\n', IngestConfig, 'c.yaml');
  assert.deepEqual(cfg.reward_weights, { play_time_s: 1, like: 2 });
  assert.equal(cfg.window_days, 2);
  assert.throws(() => parseConfigText('window_days: 0\n', IngestConfig, 'c.yaml'), /c\.yaml: field 'window_days'/);
  assert.throws(() => parseConfigText('test_fraction: 1.5\n', IngestConfig, 'c.yaml'), /field 'test_fraction'/);
  assert.throws(() => parseConfigText('windw_days: 3\n', IngestConfig, 'c.yaml'), /c\.yaml: .*windw_days/);
  assert.throws(() => parseConfigText('window_days: 2\nwindow_days: 3\n', IngestConfig, 'c.yaml'), /c\.yaml: .*[Mm]ap keys must be unique/);
  assert.throws(() => parseConfigText('{"window_days": 2, "window_days": 3}', IngestConfig, 'c.json'), /c\.json/);
});

test('mtf ingest --config takes the reward spec from the file; flags win over it', () => {
  const dir = tempDir();
  const cfg = join(dir, 'pipeline.yaml');
  writeFileSync(cfg, 'ingest:\n  reward_weights: {play_time_s: 1, like: 2, share: 4}\n  test_fraction: 0.5\n');
  const logs = join(import.meta.dirname, 'fixtures/logs/duckdb-zstd-list-f32');
  const r = runMtf(['ingest', '--logs', logs, '--config', cfg, '--out', join(dir, 'a'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(readFileSync(join(dir, 'a', 'metadata.json'), 'utf8'));
  assert.deepEqual(a.reward_weights, { play_time_s: 1, like: 2, share: 4 });
  assert.equal(a.test_fraction, 0.5);
  const r2 = runMtf(['ingest', '--logs', logs, '--config', cfg, '--reward-weights', 'play_time_s=1', '--test-fraction', '0.2', '--out', join(dir, 'b'), '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  const b = JSON.parse(readFileSync(join(dir, 'b', 'metadata.json'), 'utf8'));
  assert.deepEqual(b.reward_weights, { play_time_s: 1 });
  assert.equal(b.test_fraction, 0.2);
});
