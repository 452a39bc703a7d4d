import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRewardWeights, parseRewardWeights } from '../../src/data/index.ts';
import { InputError } from '../../src/errors/index.ts';

test('parses column=weight pairs in order', () => {
  const spec = parseRewardWeights('play_time_s=1, like=2,share=4.5,skip=-1');
  assert.deepEqual(spec.weights, { play_time_s: 1, like: 2, share: 4.5, skip: -1 });
  assert.deepEqual(Object.keys(spec.weights), ['play_time_s', 'like', 'share', 'skip']);
  assert.equal(formatRewardWeights(spec), 'play_time_s=1,like=2,share=4.5,skip=-1');
});

test('rejects malformed specs with a message naming the part', () => {
  assert.throws(() => parseRewardWeights(''), InputError);
  assert.throws(() => parseRewardWeights('like'), /'like' is not column=weight/);
  assert.throws(() => parseRewardWeights('like=abc'), /weight of 'like' is 'abc'/);
  assert.throws(() => parseRewardWeights('like=1,like=2'), /'like' is named twice/);
  assert.throws(() => parseRewardWeights('like=Infinity'), /not a finite number/);
});
