import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { InputError } from '../../errors/index.ts';
import { GateRejectedError } from '../../export/gate.ts';
import { dateArg, examples } from '../flags.ts';
import { pipelineFrom, pipelineOptions } from '../pipelineArg.ts';
import { DESCRIPTIONS } from './index.ts';

interface RunFlags {
  config?: string;
  logs?: string;
  artifacts?: string;
  store?: string;
  endDate: string;
  rerun?: boolean;
}

export function registerRun(program: Command): void {
  const cmd = pipelineOptions(
    program
      .command('run')
      .description(DESCRIPTIONS.run),
  )
    .addOption(new Option('--end-date <YYYY-MM-DD>', "the data date: the window is the pipeline's window_days ending here").argParser(dateArg).makeOptionMandatory())
    .option('--rerun', 'start a new attempt of a run that failed or was rejected')
    .action(async (o: RunFlags) => {
      const pipeline = await pipelineFrom(o, { logs: true });
      const { runEmbedded } = await import('../../stages/embedded.ts');
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      process.once('SIGTERM', onSigint);
      try {
        const r = await runEmbedded(pipeline, o.endDate, { rerun: o.rerun, signal: abort.signal, say: (l) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${l}\n`) });
        const id = r.record.run_id;
        process.stdout.write(`${id}: ${r.outcome.status}${r.outcome.detail ? ` — ${r.outcome.detail}` : ''}\n`);
        const earlier = r.started ? '' : ' (by an earlier invocation)';
        if (r.outcome.status === 'rejected') {
          const manifest = join(pipeline.paths.store, pipeline.publish.model, id, 'manifest.json');
          throw new GateRejectedError(`${id}: the gate rejected the candidate${earlier}: nothing was published, CURRENT unchanged (see ${manifest}); --rerun starts a new attempt`, id, manifest);
        }
        if (r.outcome.status === 'failed' && !r.started) {
          throw new InputError(`${id}: failed earlier (${r.outcome.detail}); fix the cause, then --rerun starts a new attempt`);
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
        process.removeListener('SIGTERM', onSigint);
      }
    });
  examples(cmd, [
    'mtf run --logs /data/logs --store /data/models --end-date 2026-11-20',
    'mtf run --config pipelines/nightly.yaml --end-date 2026-11-20 --rerun',
  ]);
}
