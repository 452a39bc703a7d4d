/** The pipeline file of `run`, `trigger`, `schedule`, `status`, with the path flags applied. */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineConfig } from '../config/pipeline.ts';
import { InputError } from '../errors/index.ts';
import { laterDefault } from './flags.ts';
import { packageRoot } from '../packageRoot.ts';

/** pipelines/nightly.yaml of this package (the checkout's or the installed package's) */
export const DEFAULT_PIPELINE = join(packageRoot(), 'pipelines', 'nightly.yaml');

export function pipelineOptions(cmd: Command): Command {
  return cmd
    .addOption(laterDefault(new Option('--config <file>', 'pipeline definition (YAML/JSON, schema: src/config/pipeline.ts)'), 'pipelines/nightly.yaml'))
    .option('--logs <dir>', 'parquet logs, dt=YYYY-MM-DD partitions (overrides paths.logs)')
    .option('--artifacts <dir>', 'per-run working files and run records (overrides paths.artifacts)')
    .option('--store <dir>', 'model store (overrides paths.store)');
}

/** Loads config/pipeline.ts (and with it YAML and the schemas) only here, when a command runs: `mtf --help` stays quick. */
export async function pipelineFrom(o: { config?: string; logs?: string; artifacts?: string; store?: string }, need: { logs?: boolean } = {}): Promise<PipelineConfig> {
  const { loadPipeline, PipelineConfig, resolvePipelinePaths } = await import('../config/pipeline.ts');
  const file = o.config ?? DEFAULT_PIPELINE;
  const p = loadPipeline(file);
  const over = { ...p, paths: { logs: o.logs ?? p.paths.logs, artifacts: o.artifacts ?? p.paths.artifacts, store: o.store ?? p.paths.store } };
  const checked = PipelineConfig.parse(over);
  const abs = resolvePipelinePaths(checked);
  if (need.logs && !existsSync(abs.paths.logs)) throw new InputError(`--logs: ${abs.paths.logs} does not exist`, { file: abs.paths.logs, field: '--logs' });
  return abs;
}
