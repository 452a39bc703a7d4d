import type { Command } from 'commander';
import { InputError } from '../../errors/index.ts';
import { DATE_RE } from '../../stages/run.ts';
import { pipelineFrom, pipelineOptions } from '../pipelineArg.ts';

export function registerRun(program: Command): void {
  pipelineOptions(
    program
      .command('run')
      .description('run the pipeline for one data date in this process (no Redis): ingest → train → evaluate → gate/publish; a run that was interrupted continues where it stopped'),
  )
    .option('--end-date <YYYY-MM-DD>', 'the data date: the window is the pipeline\'s window_days ending here; required')
    .option('--rerun', 'start a new attempt of a run that failed or was rejected')
    .action(async (o: { config?: string; logs?: string; artifacts?: string; store?: string; endDate?: string; rerun?: boolean }) => {
      if (!o.endDate || !DATE_RE.test(o.endDate)) throw new InputError(`--end-date: expected YYYY-MM-DD, got '${o.endDate ?? ''}'`, { field: '--end-date' });
      const pipeline = pipelineFrom(o, { logs: true });
      const { runEmbedded } = await import('../../stages/embedded.ts');
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      process.once('SIGTERM', onSigint);
      try {
        const r = await runEmbedded(pipeline, o.endDate, { rerun: o.rerun, signal: abort.signal, say: (l) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${l}\n`) });
        process.stdout.write(`${r.record.run_id}: ${r.outcome.status}${r.outcome.detail ? ` — ${r.outcome.detail}` : ''}\n`);
        if (r.outcome.status === 'rejected') process.exitCode = 1;
      } finally {
        process.removeListener('SIGINT', onSigint);
        process.removeListener('SIGTERM', onSigint);
      }
    });
}
