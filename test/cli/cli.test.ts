import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ROOT, runMtf } from '../helpers/cli.ts';
import { buildProgram } from '../../src/cli/main.ts';

/** Every command, subcommands included (`models list`), with its full name. */
function commands(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: [...prefix, c.name()], cmd: c }, ...commands(c, [...prefix, c.name()])]);
}

test('mtf --help lists the subcommands and exits 0', async () => {
  const r = runMtf(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const cmd of (await buildProgram()).commands.map((c) => c.name())) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
  assert.match(r.stdout, /\bingest\b/);
  assert.match(r.stdout, /Exit codes: 0 ok, 1 bad input, 2 usage, 3 unexpected .*, 4 transient .*, 5 gate rejected/);
});

test('mtf --version prints the package version; a command keeps its own --version', () => {
  const r = runMtf(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
  assert.equal(runMtf(['-V']).stdout, r.stdout);
  const exp = runMtf(['export', '--version', 'v7', '--help']);
  assert.equal(exp.code, 0, exp.stderr);
  assert.match(exp.stdout, /Usage: mtf export/);
});

test('every command has --help with real examples', async () => {
  for (const { path, cmd } of commands(await buildProgram())) {
    if (cmd.commands.length > 0) continue; // a group (`models`): its subcommands are the commands
    const r = runMtf([...path, '--help']);
    assert.equal(r.code, 0, `${path.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: mtf ${path.join(' ')}`));
    const examples = r.stdout.split('\nExamples:\n')[1];
    assert.ok(examples, `mtf ${path.join(' ')} --help has no Examples`);
    const lines = examples.split('\n').filter((l) => l.startsWith('  $ '));
    assert.ok(lines.length >= 1 && lines.length <= 3, `mtf ${path.join(' ')}: 1–3 examples`);
    for (const l of lines) assert.ok(l.startsWith(`  $ mtf ${path.join(' ')}`), l);
  }
});

test('one format for defaults and required options in every --help', async () => {
  for (const { path, cmd } of commands(await buildProgram())) {
    const help = cmd.createHelp();
    for (const option of cmd.options) {
      const text = help.optionDescription(option);
      const where = `mtf ${path.join(' ')} ${option.flags}: ${text}`;
      // "(default: …)" is the only way a default is written: not "(default 5000)", "(default all)", "default: x"
      assert.doesNotMatch(text, /\(default(?!: )|[^(]default:/i, where);
      assert.ok((text.match(/\(default: /g) ?? []).length <= 1, where);
      // required options say "(required)", whether commander checks them or the command does
      if (option.mandatory) assert.match(text, /\(required\)/, where);
      assert.doesNotMatch(text, /[;,]\s*required\s*$/, where);
    }
  }
});

test('usage errors exit 2, bad input 1, each one line naming the problem', () => {
  const unknown = runMtf(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "mtf: unknown command 'frobnicate' (see mtf --help)\n");

  const missing = runMtf(['ingest', '--logs', 'x']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, "mtf: required option '--out <dir>' not specified (see mtf ingest --help)\n");

  const bad = runMtf(['ingest', '--logs', '/nonexistent/logs', '--reward-weights', 'like=1', '--out', '/tmp/never']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /^mtf: \/nonexistent\/logs: no such file or directory/);

  const badWeights = runMtf(['ingest', '--logs', '.', '--reward-weights', 'like', '--out', '/tmp/never']);
  assert.equal(badWeights.code, 2);
  assert.equal(badWeights.stderr, "mtf: --reward-weights: 'like' is not column=weight (e.g. like=2) (see mtf ingest --help)\n");
});
