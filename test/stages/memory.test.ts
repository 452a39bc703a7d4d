/** collectGarbage frees dropped buffers at once (what the embedded runner relies on between stages). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectGarbage, settleGarbage } from '../../src/stages/memory.ts';

test('collectGarbage: a dropped 256 MB buffer is gone right after', () => {
  assert.equal(collectGarbage(), true);
  const before = process.memoryUsage().arrayBuffers;
  let big: Float64Array | null = new Float64Array(32 * 1024 * 1024).fill(1);
  assert.ok(process.memoryUsage().arrayBuffers - before >= 256 * 2 ** 20 * 0.99);
  assert.equal(big[7], 1);
  big = null;
  assert.equal(collectGarbage(), true);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, `still ${((process.memoryUsage().arrayBuffers - before) / 2 ** 20).toFixed(0)} MiB`);
});

test('settleGarbage: a buffer that a pending task still holds is gone once the loop has turned', async () => {
  collectGarbage();
  const before = process.memoryUsage().arrayBuffers;
  let big: Float64Array | null = new Float64Array(32 * 1024 * 1024).fill(1);
  let held: Float64Array | null = big;
  setTimeout(() => (held = null), 0); // the last holder lets go in a task, after the stage returned
  big = null;
  collectGarbage();
  assert.ok(held !== null && process.memoryUsage().arrayBuffers - before >= 255 * 2 ** 20, 'one collection cannot free what a pending task holds');
  const left = await settleGarbage();
  assert.equal(held, null);
  assert.ok(left - before < 16 * 2 ** 20, `still ${((left - before) / 2 ** 20).toFixed(0)} MiB`);
});
