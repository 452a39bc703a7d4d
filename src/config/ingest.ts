/**
 * Ingest-stage configuration: type + default + range + one-line doc per field (the doc becomes --help
 * text and the JSON Schema description). Paper defaults: a 3-day window (§3.3, retrained daily), the
 * last 10% of sessions by time as the test split (§4.1).
 */
import { z } from 'zod';

export const IngestConfig = z
  .object({
    reward_weights: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), z.number().refine(Number.isFinite, 'must be finite'))
      .refine((w) => Object.keys(w).length > 0, 'name at least one feedback column')
      .optional()
      .describe('feedback column → weight w_i of the reward r = Σ w_i·v_i (paper Eq. 2)'),
    window_days: z.number().int().min(1).default(3).describe('days of logs in the window, ending at the run date (paper: 3)'),
    inactivity_gap_minutes: z
      .number()
      .min(0)
      .default(30)
      .describe("a session whose last request is this close to the window's end is truncated, not terminal"),
    test_fraction: z.number().min(0).max(0.99).default(0.1).describe('share of sessions, the latest by start, held out as the test split (paper §4.1)'),
    threads: z.number().int().min(1).default(1).describe('DuckDB reader threads'),
    shard_workers: z
      .union([z.literal('auto'), z.number().int().min(1)])
      .default('auto')
      .describe("mtf run: shards (dt= partitions, or parts of one, see shard_mib) read at once, each in a child process (auto: one per core, at most the shards; 1: one after another in this process). The BullMQ workers fan out by job instead"),
    shard_mib: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe(
        'ingest fans out by file: a dt= partition whose files add up to more than this many MiB is read as several shards of consecutive files, each up to about this size (a file is never split); the merge reads them in order, so the trajectories are the same',
      ),
    merge_buckets: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(1)
      .describe(
        'the merge in this many buckets by a hash of the session id, each a job of its own holding about 1/B of the rows (trajectory format 3: a part file per bucket); 1: one merge holding every row of the window (format 2)',
      ),
    beta: z
      .union([z.number().min(0), z.array(z.number().min(0)).min(1)])
      .optional()
      .describe(
        "β of Eq. (1), f = Σ α_i·log(o_i + β_i), of the ranking stack that wrote the logs: one number or one per action element; for writers that cannot set the parquet footer key mtf.beta (must agree with it where files have it); absent and no footer: β unknown",
      ),
  })
  .strict();
export type IngestConfig = z.infer<typeof IngestConfig>;
