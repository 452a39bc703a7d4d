/**
 * `mtf`: one CLI, one file per command under commands/. Each command parses its flags into a typed,
 * validated options object at this edge and calls the library; any error becomes one line on stderr
 * ("mtf: …") and an exit code, the same rule for every command:
 *
 *   0  success, including "nothing to do" (the run exists and is published; training already has its steps)
 *   1  bad input: the command line is well-formed, but a file, folder, config, data or value it names is
 *      wrong or unusable (InputError; a path on a read-only file system, without permission, a file where
 *      a folder should be; a port already in use). The line names the flag or path and what to do.
 *   2  usage: the command line itself is wrong: an unknown command or option, a missing required
 *      option, a malformed flag value (not a number, out of range, not a date, not one of the choices),
 *      flags that do not go together. The line names the flag; `mtf <command> --help` shows the usage.
 *   3  unexpected: a bug (MTF_DEBUG=1 prints the stack)
 *   4  transient: try again (Redis unreachable, another publisher holds the lock, disk full, I/O error,
 *      timeouts)
 *   5  rejected: the command ran to the end but the gate rejected the candidate: nothing was published,
 *      CURRENT is unchanged (`export`, `run`, `demo`)
 *
 * Flag values are checked by commander (argParsers and choices in flags.ts); errors that reach main are
 * classified in exitCodes.ts (Node's errno codes included).
 */
import { Command, CommanderError, Help, Option } from 'commander';
import { oneLine } from '../errors/index.ts';
import { packageVersion } from '../packageRoot.ts';
import { classifyError, EXIT } from './exitCodes.ts';
import { isRequired, laterDefaultOf, UsageError } from './flags.ts';
import { COMMAND_MODULES, DESCRIPTIONS } from './commands/index.ts';

export { classifyError, EXIT };

export { packageVersion };

/**
 * One format for every option's extra information: "(required)", "(choices: a | b)", "(default: x)"
 * (strings unquoted; defaults applied later, from a config file or by the library, too: flags.ts
 * laterDefault). Required options are marked whether commander checks them or the command does.
 */
function optionDescription(this: Help, option: Option): string {
  const extra: string[] = [];
  if (isRequired(option)) extra.push('required');
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(' | ')}`);
  const showDefault = option.defaultValue !== undefined && (option.required || option.optional || (option.isBoolean() && typeof option.defaultValue === 'boolean'));
  if (showDefault) extra.push(`default: ${option.defaultValueDescription ?? (typeof option.defaultValue === 'string' ? option.defaultValue : JSON.stringify(option.defaultValue))}`);
  else if (laterDefaultOf(option) !== undefined) extra.push(`default: ${laterDefaultOf(option)}`);
  return [option.description, ...extra.map((e) => `(${e})`)].filter(Boolean).join(' ');
}

/** commander's own usage errors as one line: "mtf: --days: expected …", "mtf: unknown option '--x' (see mtf ingest --help)". */
export function formatCommanderError(text: string, cmd: Command): string {
  const msg = text.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim();
  const invalid = /^option '(-\S+?)(?:,\s*(--\S+))?(?: [<[][^']*)?' argument '(.*)' is invalid\. (.*)$/s.exec(msg);
  if (invalid) {
    const [, first, second, value, why] = invalid;
    const flag = second ?? first;
    const choices = /^Allowed choices are (.*)\.$/.exec(why);
    return `mtf: ${flag}: ${choices ? `expected one of ${choices[1]}, got '${value}'` : why} (see ${helpOf(cmd)})\n`;
  }
  return `mtf: ${msg} (see ${helpOf(cmd)})\n`;
}

function helpOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return `${names.join(' ')} --help`;
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/**
 * The command the arguments name, when a known one: `mtf train …`, `mtf help train`. Program options
 * come only before it (enablePositionalOptions), so it is the first argument that is not an option.
 */
function commandNamed(args: readonly string[]): string | undefined {
  const first = args.findIndex((a) => !a.startsWith('-'));
  if (first < 0) return undefined;
  return args[first] === 'help' ? args[first + 1] : args[first];
}

/**
 * The `mtf` program. `only`: register that command (null: none) from its module and list the others
 * from commands/index.ts without loading their modules (what `main` does, so a command's start loads its
 * own libraries only); `only` undefined: every command from its module (docs/cli.md, tests).
 */
export async function buildProgram(opts: { only?: string | null } = {}): Promise<Command> {
  const program = new Command('mtf')
    .description('batchrl-mtf: learn ranking-fusion policies offline from logged sessions (BatchRL-MTF)')
    .version(packageVersion(), '-V, --version', 'print the version of mtf and exit')
    // program options only before the command: `mtf export --version v7` is export's --version
    .enablePositionalOptions()
    .configureHelp({ optionDescription })
    .exitOverride();
  const { only } = opts;
  for (const mod of COMMAND_MODULES) {
    if (only === undefined || (only !== null && (mod.names as readonly string[]).includes(only))) {
      (await mod.load())(program);
      continue;
    }
    for (const name of mod.names) {
      // listed, not loaded: its options, arguments and action come with its module when it is named
      const stub = program.command(name).description(DESCRIPTIONS[name]);
      if (!mod.noOptions?.includes(name)) stub.addOption(new Option('--options').hideHelp());
    }
  }
  program.addHelpText('after', '\nExamples:\n  $ mtf demo --quick\n  $ mtf ingest --help\n\nExit codes: 0 ok, 1 bad input, 2 usage, 3 unexpected (MTF_DEBUG=1 for the stack), 4 transient (try again), 5 gate rejected (nothing published).\n');
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput({ outputError: (text, write) => write(formatCommanderError(text, cmd)) });
  }
  return program;
}

/**
 * Last-resort handlers for the `mtf` process (bin/mtf.js): an error nobody awaited — a rejected promise
 * or an exception in a callback, in a long-running `mtf worker` or `mtf serve` as much as anywhere — is
 * one line on stderr and exit 3 (unexpected), not a stack trace and Node's exit 1.
 */
export function installProcessHandlers(): void {
  const fatal = (kind: string) => (err: unknown) => {
    process.stderr.write(`mtf: unexpected (${kind}): ${oneLine(err)}\n`);
    if (process.env.MTF_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    process.exit(EXIT.internal);
  };
  process.on('unhandledRejection', fatal('unhandled rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram({ only: commandNamed(argv.slice(2)) ?? null });
  let running: Command = program;
  program.hook('preAction', (_program, cmd) => {
    running = cmd;
  });
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0; commander printed the others.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { code, message } = classifyError(err);
    process.stderr.write(`mtf: ${message}${err instanceof UsageError ? ` (see ${helpOf(running)})` : ''}\n`);
    if (process.env.MTF_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return code;
  }
}
