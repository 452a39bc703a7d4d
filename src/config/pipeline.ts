/**
 * A pipeline definition (pipelines/*.yaml): the stages of a nightly retraining run, where their
 * artifacts go, and their defaults. One schema for the embedded runner (`mtf run`) and the BullMQ jobs
 * (`mtf worker`), so both run the same thing. Paper defaults: a 3-day window retrained daily (§3.3),
 * BCQ (Alg. 1), conservative OPE (Alg. 2), publish only when not worse.
 *
 * Relative paths are resolved against the working directory of the command that loads the file
 * (`resolvePipelinePaths`), then stored absolute in the run record, so every worker sees the same
 * paths — on several machines that means a shared filesystem (docs/operations.md, "Adding a worker machine").
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfigFile } from './load.ts';
import { IngestConfig } from './ingest.ts';
import { ALGOS } from '../rl/config.ts';
import { defaultPublishedExploration, PublishedExplorationSchema } from '../serving/exploration.ts';

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'letters, digits, _ and -, starting with a letter');
const settings = z.record(z.string(), z.unknown());

export const PipelineConfig = z
  .object({
    name: name.default('nightly').describe('pipeline name: part of every run id, job id and artifact path'),
    paths: z
      .object({
        logs: z.string().min(1).describe('parquet interaction logs, Hive-partitioned dt=YYYY-MM-DD/ (read-only)'),
        artifacts: z.string().min(1).describe('per-run working files: runs/<pipeline>/<date>/{run.json, stages/, shards/, trajectories/, train/, ope/}'),
        store: z.string().min(1).describe('the model store the ranking stack reads (<store>/<model>/CURRENT)'),
      })
      .strict(),
    ingest: IngestConfig.describe('mtf ingest settings; reward_weights is required here'),
    train: z
      .object({
        algo: z.enum(ALGOS).default('bcq').describe('training algorithm (paper: BCQ)'),
        steps: z.int().min(1).default(100_000).describe('gradient steps'),
        checkpoint_every: z.int().min(1).default(5000).describe('steps between checkpoints: how much a killed worker loses'),
        sample_sessions: z
          .number()
          .gt(0)
          .max(1)
          .default(1)
          .describe('train on this share of the train split\'s sessions, a uniform sample of whole sessions (memory holds only their rows; src/rl/README.md "Training on a sample of sessions" measures what it costs)'),
        config: settings.default({}).describe('further trainer/algorithm fields (`mtf train --help-config`)'),
        behavior_policies: z
          .record(z.string().min(1), z.string().min(1))
          .default({})
          .describe(
            'box-aware training (config behaviorBox): the live policy of versions the logs name in policy_id that are not versions of the model store, e.g. the constant served before the first publish (version → policy spec, `production: const:…`); store versions are found by themselves',
          ),
      })
      .strict()
      .default({ algo: 'bcq', steps: 100_000, checkpoint_every: 5000, sample_sessions: 1, config: {}, behavior_policies: {} }),
    evaluate: z
      .object({
        config: settings.default({}).describe('evaluation settings (`mtf evaluate --help-config`)'),
        policies: z
          .array(z.string())
          .default(['behavior'])
          .describe('reference policies evaluated next to the candidate and the live model (`mtf evaluate --policy` specs)'),
        sample_sessions: z
          .number()
          .gt(0)
          .max(1)
          .default(1)
          .describe(
            "evaluate on this share of the test split's sessions, a uniform sample of whole sessions (seeded: every job and retry reads the same sample; memory holds only their rows). The bootstrap resamples sessions, so the interval widens as the sample shrinks; for logs far beyond the paper's scale",
          ),
        fan_out: z
          .enum(['threads', 'jobs'])
          .default('threads')
          .describe(
            "where the FQE fits run under `mtf worker`: threads = inside the evaluate job's process, one worker thread per core (src/ope/fitPool.ts); jobs = one BullMQ job per policy fit and per bootstrap refit on the evaluate queue, spread over every worker, collected by the evaluate job (jobs/README.md \"Evaluation as jobs\"); the same report either way. `mtf run` always uses threads",
          ),
      })
      .strict()
      .default({ config: {}, policies: ['behavior'], sample_sessions: 1, fan_out: 'threads' }),
    publish: z
      .object({
        model: name.default('fusion').describe('model name in the store'),
        tolerance: z.number().min(0).default(0).describe("allowed V̂ shortfall: publish when the candidate's lower bound ≥ the live model's V̂ − tolerance"),
        keep: z.int().min(0).default(5).describe('versions kept besides CURRENT'),
        gate: z
          .enum(['interval', 'paired'])
          .default('paired')
          .describe("value check: paired = the lower end of the paired bootstrap interval of V̂(candidate) − V̂(baseline) ≥ −tolerance (default since issue 18's loop study: +4.98% after 7 nights from the tuned constant, no harmful publish; src/stages/README.md §2); interval = the candidate's V̂ lower bound ≥ the baseline's V̂ − tolerance (the rule before; also what paired falls back to when the report has no paired difference against the baseline) (src/export/gate.ts)"),
        baseline: z
          .string()
          .min(1)
          .optional()
          .describe("the OPE report's policy the gate compares with while the store has no live model (e.g. 'production' for a `production=const:…` evaluate policy: the constant the ranking stack runs today); default behavior. Once CURRENT exists the live model is the baseline"),
        exploration: PublishedExplorationSchema.nullable()
          .default(defaultPublishedExploration)
          .describe('online exploration the ranking stack applies around the published model (schemas/exploration.md; paper §3.3 mixed multi-exploration), written into the manifest; null = serve the mean α only'),
      })
      .strict()
      .default(() => ({ model: 'fusion', tolerance: 0, keep: 5, gate: 'paired' as const, exploration: defaultPublishedExploration() })),
    schedule: z
      .object({
        cron: z.string().default('0 3 * * *').describe('when the run starts (cron, 5 or 6 fields)'),
        tz: z.string().default('UTC').describe('IANA time zone of the cron pattern and of the data date'),
        lag_days: z.int().min(0).default(1).describe('data date = the scheduled day minus this (logs of today are not complete)'),
      })
      .strict()
      .default({ cron: '0 3 * * *', tz: 'UTC', lag_days: 1 }),
    jobs: z
      .object({
        attempts: z.int().min(1).default(3).describe('tries per stage for errors a retry can fix (bad input and gate rejections are not retried)'),
        backoff_ms: z.int().min(0).default(10_000).describe('first retry delay; doubles per try'),
      })
      .strict()
      .default({ attempts: 3, backoff_ms: 10_000 }),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.ingest.reward_weights) ctx.addIssue({ code: 'custom', path: ['ingest', 'reward_weights'], message: 'required: feedback column → weight' });
  });
export type PipelineConfig = z.infer<typeof PipelineConfig>;

export function loadPipeline(path: string): PipelineConfig {
  return loadConfigFile(path, PipelineConfig);
}

/** The same pipeline with absolute paths (relative ones resolved against `base`). */
export function resolvePipelinePaths(p: PipelineConfig, base = process.cwd()): PipelineConfig {
  const abs = (x: string) => (isAbsolute(x) ? x : resolve(base, x));
  return { ...p, paths: { logs: abs(p.paths.logs), artifacts: abs(p.paths.artifacts), store: abs(p.paths.store) } };
}
