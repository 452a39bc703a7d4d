/**
 * The CLI reference (docs/cli.md), rendered from the commander definitions themselves — every command's
 * `--help`, at a fixed width — so that it cannot drift from the code: `npm run docs:cli` writes it,
 * test/cli/reference.test.ts fails when the file differs from what this renders.
 */
import type { Command } from 'commander';
import { buildProgram } from './main.ts';

/** Help is wrapped at this many columns whatever the terminal (the file must not depend on it). */
const WIDTH = 100;

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function walk(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(walk)];
}

export async function renderCliReference(): Promise<string> {
  const program = await buildProgram();
  const commands = walk(program);
  for (const c of commands) c.configureHelp({ ...c.configureHelp(), helpWidth: WIDTH });
  const out: string[] = [
    '# `mtf` command reference',
    '',
    '<!-- Generated from the commander definitions in src/cli/ by `npm run docs:cli`; do not edit.',
    '     test/cli/reference.test.ts fails when this file is stale. -->',
    '',
    'Exit codes (every command): 0 ok, 1 bad input, 2 usage, 3 unexpected (MTF_DEBUG=1 for the stack),',
    '4 transient (try again), 5 gate rejected (nothing published) — src/cli/main.ts.',
    '',
    '## Commands',
    '',
    ...commands.slice(1).map((c) => `- [\`${commandPath(c)}\`](#${commandPath(c).replace(/ /g, '-')}): ${c.summary() || c.description().split('\n')[0]}`),
  ];
  for (const c of commands) {
    out.push('', `## ${commandPath(c)}`, '', '```text', c.helpInformation().trimEnd(), '```');
  }
  return out.join('\n') + '\n';
}
