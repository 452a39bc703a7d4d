/**
 * `mtf`: one CLI, one file per command under commands/. Each command parses its flags into a typed,
 * validated options object at this edge and calls the library; any error becomes one line on stderr
 * and a non-zero exit code (1 = bad input, 2 = usage, 3 = anything unexpected, 4 = transient: try again).
 */
import { Command, CommanderError } from 'commander';
import { InputError, oneLine, TransientError } from '../errors/index.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerDemo } from './commands/demo.ts';
import { registerTrain } from './commands/train.ts';
import { registerEvaluate } from './commands/evaluate.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerTruth } from './commands/truth.ts';
import { registerExport } from './commands/export.ts';
import { registerServe } from './commands/serve.ts';
import { registerModels } from './commands/models.ts';
import { registerRun } from './commands/run.ts';
import { registerQueueCommands } from './commands/queue.ts';

export const EXIT = { ok: 0, input: 1, usage: 2, internal: 3, transient: 4 } as const;

export function buildProgram(): Command {
  const program = new Command('mtf')
    .description('batchrl-mtf: learn ranking-fusion policies offline from logged sessions (BatchRL-MTF)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDemo(program);
  registerRun(program);
  registerIngest(program);
  registerTrain(program);
  registerEvaluate(program);
  registerSimulate(program);
  registerTruth(program);
  registerExport(program);
  registerServe(program);
  registerModels(program);
  registerQueueCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`mtf: ${oneLine(err)}\n`);
    if (process.env.MTF_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return err instanceof InputError ? EXIT.input : err instanceof TransientError ? EXIT.transient : EXIT.internal;
  }
}
