/**
 * The file contracts of an ingest output: metadata.json and ingest-report.json. These zod schemas are
 * the source of truth; `npm run schemas` writes them as JSON Schema into schemas/, and a test fails on
 * drift. Later tooling (training, OPE, export, jobs) reads these keys.
 */
import { z } from 'zod';

export const VectorStatsSchema = z
  .object({
    mean: z.array(z.number()),
    std: z.array(z.number()),
    min: z.array(z.number()),
    max: z.array(z.number()),
  })
  .describe('per-dimension statistics over the train split');

export const SourceFileSchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  mtime: z.string().describe('ISO-8601 modification time'),
  rows: z.number().int().nonnegative(),
  dt: z.string().nullable().describe('the dt= Hive partition, if any'),
});

const SplitCounts = z.object({
  sessions: z.number().int().nonnegative(),
  transitions: z.number().int().nonnegative(),
  terminal_transitions: z.number().int().nonnegative(),
  truncated_transitions: z.number().int().nonnegative(),
  reward_sum: z.number(),
});

/** 2: no next_state column (s' is the next row's state within the session); 1: with next_state. */
export const TRAJECTORY_FORMAT_VERSION = 2;

/** The newest format this mtf reads: 3 = a split in part files (the bucketed merge, src/data/bucketMerge.ts). */
export const TRAJECTORY_FORMAT_READABLE = 3;

/** One part file of a split (format 3): one bucket's sessions, session_index local to the part. */
export const PartInfo = z.object({
  bucket: z.number().int().nonnegative(),
  file: z.string().regex(/^[A-Za-z0-9._-]+$/),
  sessions_file: z.string().regex(/^[A-Za-z0-9._-]+$/),
  sessions: z.number().int().nonnegative(),
  transitions: z.number().int().nonnegative(),
});
export type PartInfo = z.infer<typeof PartInfo>;

export const TrajectoryMetadata = z.object({
  format_version: z
    .union([z.literal(1), z.literal(2), z.literal(3)])
    .describe(
      "2 (a single merge): no next_state column, s' is the next row's state within the session; 3 (the bucketed merge): as 2, each split in part files listed in `parts`; 1: files with a next_state column (still read)",
    ),
  created_at: z.string(),
  state_dim: z.number().int().positive(),
  action_dim: z.number().int().positive(),
  state_names: z.array(z.string()),
  action_names: z.array(z.string()),
  state_stats: VectorStatsSchema,
  action_stats: VectorStatsSchema,
  reward_weights: z.record(z.string(), z.number()).describe('feedback column → weight w_i of r = Σ w_i·v_i (Eq. 2)'),
  feedback_columns: z.array(z.string()),
  window: z
    .object({ end_date: z.string(), days: z.number().int().positive(), start_ms: z.number(), end_ms: z.number() })
    .nullable()
    .describe('the data window; null when the log was read without --end-date'),
  inactivity_gap_ms: z.number().nonnegative(),
  test_fraction: z.number().min(0).max(1),
  counts: z.object({ train: SplitCounts, test: SplitCounts }),
  has_action_logp: z.boolean(),
  has_policy_id: z.boolean(),
  beta: z
    .array(z.number().min(0))
    .nullable()
    .default(null)
    .describe(
      "β_i of Eq. (1), f(o|α) = Σ_i α_i·log(o_i + β_i), of the ranking stack that wrote the logs, in action_names order: from the files' footer key mtf.beta or the ingest setting beta; null = unknown (absent in metadata written before it: read as null)",
    ),
  source_files: z.array(SourceFileSchema),
  parts: z
    .object({ train: z.array(PartInfo), test: z.array(PartInfo) })
    .optional()
    .describe("format 3: each split's part files in read order (session_index counts from 0 in each part; a reader adds the sessions of the parts before it)"),
});
export type TrajectoryMetadata = z.infer<typeof TrajectoryMetadata>;

export const IngestReport = z.object({
  rows_read: z.number().int().nonnegative(),
  rows_rejected: z.record(z.string(), z.number().int().positive()).describe('reason → count (schemas/interaction-log.md)'),
  rows_kept: z.number().int().nonnegative(),
  duplicate_rows_removed: z.number().int().nonnegative(),
  sessions: z.number().int().nonnegative().describe('sessions kept'),
  sessions_dropped: z.number().int().nonnegative(),
  sessions_dropped_by_reason: z.object({ rejected_row: z.number().int(), conflicting_duplicate: z.number().int() }),
  transitions: z.number().int().nonnegative(),
  terminal_transitions: z.number().int().nonnegative(),
  truncated_transitions: z.number().int().nonnegative(),
  reward_sum: z.number(),
  nulls_filled: z.record(z.string(), z.number().int().positive()).describe('feedback column → null values counted as 0'),
  item_columns: z
    .record(z.string(), z.number().int().positive())
    .describe('optional item column (schemas/interaction-log.md, "Item columns") → rows read that carry a value; {} for a log without them'),
  files: z.number().int().nonnegative(),
  state_dim: z.number().int().positive(),
  action_dim: z.number().int().positive(),
  train_sessions: z.number().int().nonnegative(),
  test_sessions: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
});
export type IngestReport = z.infer<typeof IngestReport>;
