import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fastExpNeg, fastLog, fastSigmoid } from '../../src/sim/tables.ts';

test('interpolation tables are accurate where the predictions use them, exact fallbacks elsewhere', () => {
  let eSig = 0;
  let eExp = 0;
  let eLog = 0;
  for (let i = 0; i <= 100_000; i++) {
    const x = -40 + (80 * i) / 100_000;
    eSig = Math.max(eSig, Math.abs(fastSigmoid(x) - 1 / (1 + Math.exp(-x))));
    if (x <= 0) eExp = Math.max(eExp, Math.abs(fastExpNeg(x) - Math.exp(x)));
    const y = 0.01 + (2.19 * i) / 100_000;
    eLog = Math.max(eLog, Math.abs(fastLog(y) - Math.log(y)));
  }
  assert.ok(eSig < 1e-6, `σ ${eSig}`);
  assert.ok(eExp < 1e-5, `exp ${eExp}`);
  assert.ok(eLog < 1e-4, `log ${eLog}`);
  assert.equal(fastExpNeg(-Infinity), 0);
  assert.equal(fastExpNeg(1), Math.exp(1));
  assert.equal(fastLog(0.001), Math.log(0.001));
  assert.equal(fastLog(5), Math.log(5));
  assert.equal(fastSigmoid(NaN), fastSigmoid(-100));
});
