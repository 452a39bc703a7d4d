/**
 * Backend selection when @tensorflow/tfjs-node (an optionalDependency) is missing, half-installed or
 * crashes on load: `auto` falls back to the next backend and says why; an explicit `tensorflow` fails
 * with the reason. The child-process probe turns a throw or a fatal signal into a reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadTfjsNode, probeLoad, TFJS_NODE } from '../../src/rl/backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'mtf-backend-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const installed = (() => {
  try {
    createRequire(import.meta.url).resolve(TFJS_NODE);
    return true;
  } catch {
    return false;
  }
})();

describe('tensorflow backend fallback', () => {
  test('auto: a tfjs-node import that throws is skipped with its reason, and the next backend runs', async () => {
    const info = await initBackend('auto', {
      loadTensorflow: async () => {
        throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found at path: …/napi-v8/tfjs_binding.node.\nmore lines');
      },
    });
    assert.notEqual(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), info.tfBackend);
    assert.equal(info.skipped[0], 'tensorflow: The Node.js native addon module (tfjs_binding.node) can not be found at path: …/napi-v8/tfjs_binding.node.');
    assert.ok(tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]) === 3, 'the fallback computes');
  });

  test('tensorflow asked for explicitly: an error naming the reason', async () => {
    await assert.rejects(
      initBackend('tensorflow', { loadTensorflow: async () => { throw new Error('simulated load failure'); } }),
      /^Error: no compute backend could start: tensorflow: simulated load failure$/,
    );
  });

  test('a loader that succeeds without registering a tensorflow backend is skipped, not trusted', async () => {
    const info = await initBackend('auto', { loadTensorflow: async () => {} });
    assert.notEqual(info.name, 'tensorflow');
    assert.match(info.skipped[0], /registered no 'tensorflow' backend/);
  });

  test(`the default loader here: ${installed ? 'installed (loads or says why)' : 'not installed → a reason naming the optional dependency'}`, async () => {
    if (installed) {
      const r = probeLoad(createRequire(import.meta.url).resolve(TFJS_NODE));
      if (r.ok) await loadTfjsNode();
      else await assert.rejects(loadTfjsNode(), /is installed but does not load/);
    } else {
      await assert.rejects(loadTfjsNode(), /@tensorflow\/tfjs-node is not installed \(an optionalDependency/);
      const info = await initBackend('auto');
      assert.match(info.skipped[0] ?? '', /^tensorflow: @tensorflow\/tfjs-node is not installed/);
    }
  });

  test('probeLoad: ok, a throw (first line), and a fatal signal, without harming this process', () => {
    const ok = join(dir, 'ok.cjs');
    const throws = join(dir, 'throws.cjs');
    const dies = join(dir, 'dies.cjs');
    writeFileSync(ok, 'module.exports = 1;\n');
    writeFileSync(throws, "throw new Error('addon missing\\nstack');\n");
    writeFileSync(dies, "process.kill(process.pid, 'SIGKILL');\n");
    assert.deepEqual(probeLoad(ok), { ok: true });
    assert.deepEqual(probeLoad(throws), { ok: false, reason: 'addon missing' });
    assert.deepEqual(probeLoad(dies), { ok: false, reason: 'loading it killed the probe process with SIGKILL' });
    assert.match((probeLoad(join(dir, 'absent.cjs')) as { reason: string }).reason, /Cannot find module/);
  });
});
