/** The pipeline file of `run`, `trigger`, `schedule`, `status`, with the path flags applied. */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipeline, PipelineConfig, resolvePipelinePaths } from '../config/pipeline.ts';
import { InputError } from '../errors/index.ts';
import { laterDefault } from './flags.ts';

export const DEFAULT_PIPELINE = join(import.meta.dirname, '..', '..', 'pipelines', 'nightly.yaml');

export function pipelineOptions(cmd: Command): Command {
  return cmd
    .addOption(laterDefault(new Option('--config <file>', 'pipeline definition (YAML/JSON, schema: src/config/pipeline.ts)'), 'pipelines/nightly.yaml'))
    .option('--logs <dir>', 'parquet logs, dt=YYYY-MM-DD partitions (overrides paths.logs)')
    .option('--artifacts <dir>', 'per-run working files and run records (overrides paths.artifacts)')
    .option('--store <dir>', 'model store (overrides paths.store)');
}

export function pipelineFrom(o: { config?: string; logs?: string; artifacts?: string; store?: string }, need: { logs?: boolean } = {}): PipelineConfig {
  const file = o.config ?? DEFAULT_PIPELINE;
  const p = loadPipeline(file);
  const over = { ...p, paths: { logs: o.logs ?? p.paths.logs, artifacts: o.artifacts ?? p.paths.artifacts, store: o.store ?? p.paths.store } };
  const checked = PipelineConfig.parse(over);
  const abs = resolvePipelinePaths(checked);
  if (need.logs && !existsSync(abs.paths.logs)) throw new InputError(`--logs: ${abs.paths.logs} does not exist`, { file: abs.paths.logs, field: '--logs' });
  return abs;
}
