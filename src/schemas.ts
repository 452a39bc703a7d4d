/**
 * The language-neutral contracts in schemas/, rendered from their TypeScript sources: the interaction-log
 * contract (src/data/logContract.ts) and the zod schemas of the files we write.
 */
import { z } from 'zod';
import { FOOTER_BETA_KEY } from './data/fusionBeta.ts';
import { FEEDBACK_TYPES, LOG_CONTRACT, LOG_CONTRACT_VERSION } from './data/logContract.ts';
import { IngestReport, TrajectoryMetadata } from './data/reportSchemas.ts';
import { renderManifestSchema } from './export/manifest.ts';
import { renderOpeReportSchema } from './ope/schemas.ts';
import { PipelineConfig } from './config/pipeline.ts';
import { RunRecord, StageRecord } from './stages/run.ts';

function jsonSchema(schema: z.ZodType, id: string, title: string, io: 'input' | 'output' = 'output'): string {
  const body = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as Record<string, unknown>;
  return JSON.stringify({ $id: id, title, ...body }, null, 2) + '\n';
}

export function renderSchemas(): Record<string, string> {
  const logSchema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'batchrl-mtf/interaction-log.schema.json',
    title: 'batchrl-mtf interaction log (one row per recommendation request)',
    description: 'Column contract of the parquet logs that `mtf ingest` reads; prose in interaction-log.md.',
    version: LOG_CONTRACT_VERSION,
    columns: LOG_CONTRACT,
    feedback: {
      description: 'columns named by the reward spec: numeric or bool, >= 0, null counts as 0',
      types: FEEDBACK_TYPES,
    },
    extraColumns: 'ignored',
    footerMetadata: {
      [FOOTER_BETA_KEY]: {
        required: false,
        type: 'JSON array of numbers >= 0, one per action element, in action order',
        description:
          'beta_i of Eq. 1, f(o|alpha) = sum_i alpha_i * log(o_i + beta_i), the ranking stack fused with; every file that has it must agree; without it, `mtf ingest --beta` (ingest.beta) states it, else it is unknown',
      },
    },
  };
  return {
    'interaction-log.schema.json': JSON.stringify(logSchema, null, 2) + '\n',
    'trajectory-metadata.schema.json': jsonSchema(TrajectoryMetadata, 'batchrl-mtf/trajectory-metadata.schema.json', 'metadata.json of an ingest output'),
    'ingest-report.schema.json': jsonSchema(IngestReport, 'batchrl-mtf/ingest-report.schema.json', 'ingest-report.json of an ingest output'),
    'manifest.schema.json': renderManifestSchema(),
    'ope-report.schema.json': renderOpeReportSchema(),
    // a file people write: fields with defaults are optional
    'pipeline.schema.json': jsonSchema(PipelineConfig, 'batchrl-mtf/pipeline.schema.json', 'a pipeline definition (pipelines/*.yaml)', 'input'),
    'run-record.schema.json': jsonSchema(RunRecord, 'batchrl-mtf/run-record.schema.json', 'run.json: the claim of one pipeline run (one data date)'),
    'stage-record.schema.json': jsonSchema(StageRecord, 'batchrl-mtf/stage-record.schema.json', 'stages/<stage>.json: one stage (or ingest shard) of a run'),
  };
}
