/**
 * The table of `mtf`'s commands: what `mtf --help` lists, and where each command's module is. It imports
 * no command module and no library but commander's types, so `mtf --help` (and every command's start)
 * loads only the module of the command it runs (issue 22: `mtf --help` ≤ 0.3 s; the config schemas'
 * zod alone took longer than that on a loaded machine). main.ts registers the named command from its
 * module and the others from this table; test/cli/startup.test.ts checks that the listing equals the
 * one of the fully registered program, so the table cannot drift from the modules.
 */
import type { Command } from 'commander';

export type Register = (program: Command) => void;

const REDIS_HELP =
  'Redis from REDIS_URL (redis://[user:pass@]host:port[/db], rediss:// for TLS), key prefix from MTF_QUEUE_PREFIX (default: mtf; {mtf} for Redis Cluster)';

/** Each command's description: its module's `.description(…)` and the line of `mtf --help`. */
export const DESCRIPTIONS = {
  demo:
    'the whole pipeline on one machine, no Redis: simulate 3 days of logs, ingest, train BCQ + baselines, ' +
    "evaluate off-policy, gate and publish, and print the paper's Table 1 for the simulated world. " +
    'Exit 0 when BCQ is published, 5 when the gate rejects it (the table is printed either way)',
  run:
    'run the pipeline for one data date in this process (no Redis): ingest → train → evaluate → gate/publish; a run that was interrupted continues where it stopped. ' +
    'Exit 0 when the run is published (now or earlier), 5 when the gate rejected it (nothing published, CURRENT unchanged)',
  loop:
    'the nightly loop closed over successive nights, in the simulator: each night the ranking stack (FusionScorer on the model store, ' +
    "with its manifest's exploration) serves a day of traffic, the nightly pipeline retrains on the last 3 days and gates/publishes, " +
    "and the simulator's truth of the served version and the candidate is recorded in <dir>/loop.json and <dir>/loop.html. " +
    'Resumable: run the same command again to continue with the night it was in (a changed --start, --size, --gate, --exploration, --algo, --train-config or --stress is refused)',
  ingest: 'read parquet interaction logs and write session trajectories (train/test Arrow files, metadata.json, ingest-report.json)',
  train: 'learn a fusion policy from trajectories with batch RL (BCQ, or a baseline); writes checkpoints, training-report.json and curves.csv',
  evaluate: 'off-policy evaluation (conservative FQE, BatchRL-MTF Alg. 2) of one or more policies on the test split; writes ope-report.json and ope-report.html',
  simulate: 'simulate logged sessions (mixed multi-exploration around a production policy) as Hive-partitioned zstd parquet',
  truth: 'roll a policy out in the simulator and print its true value as JSON (mean and 95% CI per metric)',
  export:
    'export a trained policy as ONNX (policy.onnx, scorer.onnx), gate it on the OPE report and publish it to the model store; exit 5 when the gate rejects it (nothing published, CURRENT unchanged)',
  serve: 'serve the current model of the store over HTTP (POST /v1/score), following CURRENT; for ranking stacks not on Node',
  models: 'the model store: list and verify its versions, point CURRENT at a published version (repair, roll back)',
  trigger: `start the pipeline's run for one data date as a BullMQ flow (a backfill, or by hand); a run that exists is not started twice. ${REDIS_HELP}`,
  schedule: `upsert the pipeline's BullMQ job scheduler (one per pipeline; running it again changes it). ${REDIS_HELP}`,
  worker: `run BullMQ workers for the pipeline's queues until SIGTERM/SIGINT (which checkpoints training and exits cleanly). ${REDIS_HELP}`,
  status: 'recent runs of the pipeline (from the run records), their stages, durations and outcomes, the queues, and the CURRENT model',
} as const;

export type CommandName = keyof typeof DESCRIPTIONS;

/** One module of commands: the names it registers (in `mtf --help`'s order), whether they take options (the listing's "[options]"), and its loader. */
export interface CommandModule {
  names: readonly CommandName[];
  /** commands without options of their own (a group of subcommands): listed without "[options]" */
  noOptions?: readonly CommandName[];
  load: () => Promise<Register>;
}

/** The order here is the order of `mtf --help`. */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['demo'], load: async () => (await import('./demo.ts')).registerDemo },
  { names: ['run'], load: async () => (await import('./run.ts')).registerRun },
  { names: ['loop'], load: async () => (await import('./loop.ts')).registerLoop },
  { names: ['ingest'], load: async () => (await import('./ingest.ts')).registerIngest },
  { names: ['train'], load: async () => (await import('./train.ts')).registerTrain },
  { names: ['evaluate'], load: async () => (await import('./evaluate.ts')).registerEvaluate },
  { names: ['simulate'], load: async () => (await import('./simulate.ts')).registerSimulate },
  { names: ['truth'], load: async () => (await import('./truth.ts')).registerTruth },
  { names: ['export'], load: async () => (await import('./export.ts')).registerExport },
  { names: ['serve'], load: async () => (await import('./serve.ts')).registerServe },
  { names: ['models'], noOptions: ['models'], load: async () => (await import('./models.ts')).registerModels },
  { names: ['trigger', 'schedule', 'worker', 'status'], load: async () => (await import('./queue.ts')).registerQueueCommands },
];
