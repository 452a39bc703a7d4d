/**
 * Every fixture under test/fixtures/logs (written by real parquet writers: DuckDB, arrow-rs, polars;
 * see test/fixtures/README.md) is ingested and its report compared with the counts its generator
 * computed independently from the rows it wrote (expected.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'logs');

interface Expected {
  description: string;
  args: { logs: string; endDate: string | null; days: number | null; rewardWeights: string };
  expect: ({ ok: true } & Record<string, unknown>) | { ok: false; error_contains: string[] };
}

const cases = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((c) => existsSync(join(FIXTURES, c, 'expected.json'))) : [];

test('the fixture set is present', () => {
  assert.ok(cases.length >= 10, `expected the committed fixtures under ${FIXTURES}, found ${cases.length}`);
});

for (const name of cases) {
  const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
  test(`fixture ${name}: ${exp.description.slice(0, 90)}`, async () => {
    const out = join(tempDir(), 'out');
    const run = () =>
      ingest({
        logs: join(FIXTURES, name, exp.args.logs),
        window: exp.args.endDate ? { endDate: exp.args.endDate, days: exp.args.days ?? 3 } : null,
        reward: parseRewardWeights(exp.args.rewardWeights),
        out,
      });
    if (!exp.expect.ok) {
      const wanted = exp.expect.error_contains;
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
        for (const part of wanted) assert.ok(err.message.includes(part), `error '${err.message}' should name '${part}'`);
        assert.ok(!err.message.includes('\n'), 'one line');
        assert.doesNotMatch(err.message, /LINE \d|read_parquet|SELECT|Error:/, 'what is wrong with the file, not the reader\'s SQL');
        return true;
      });
      assert.ok(!existsSync(out), 'nothing is left in --out');
      return;
    }
    const { report } = await run();
    const { ok: _ok, reward_sum, ...counts } = exp.expect as Record<string, unknown>;
    for (const [key, value] of Object.entries(counts)) {
      assert.deepEqual((report as Record<string, unknown>)[key], value, `${key}`);
    }
    const rs = reward_sum as number;
    assert.ok(Math.abs(report.reward_sum - rs) <= 1e-5 * Math.max(1, Math.abs(rs)), `reward_sum ${report.reward_sum} vs ${rs}`);
    // The files on disk agree with the report.
    const train = (await readTrajectories(out, 'train')).batch;
    const testSplit = (await readTrajectories(out, 'test')).batch;
    assert.equal(train.n + testSplit.n, report.transitions);
    assert.equal(train.sessionIds.length, report.train_sessions);
    let doneSum = 0;
    let truncSum = 0;
    for (const b of [train, testSplit]) for (let i = 0; i < b.n; i++) (doneSum += b.done[i]), (truncSum += b.truncated[i]);
    assert.equal(doneSum, report.terminal_transitions);
    assert.equal(truncSum, report.truncated_transitions);
  });
}
