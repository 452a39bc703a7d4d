import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFeedback, checkVector, modeLength } from '../../src/data/rowChecks.ts';

test('vector checks: non-finite before length', () => {
  const v = new Float32Array([1, 2, 3, NaN, 5, Infinity, 7]);
  assert.equal(checkVector(v, 0, 3, 3), null);
  assert.equal(checkVector(v, 0, 2, 3), 'length');
  assert.equal(checkVector(v, 2, 3, 3), 'nonfinite');
  assert.equal(checkVector(v, 4, 2, 3), 'nonfinite');
  assert.equal(checkVector(new Float64Array([1e39, 0, 0]), 0, 3, 3), 'nonfinite', 'beyond float32 range');
});

test('feedback checks and the mode of list lengths', () => {
  assert.equal(checkFeedback(0), null);
  assert.equal(checkFeedback(3.5), null);
  assert.equal(checkFeedback(-0.1), 'feedback_negative');
  assert.equal(checkFeedback(NaN), 'feedback_nonfinite');
  assert.equal(modeLength([6, 6, 5, 7, 6, -1, -1, -1, -1]), 6);
  assert.equal(modeLength([]), -1);
});
