/**
 * The embedded runner (`mtf run`): one machine, no Redis. It claims the run exactly as a trigger does
 * and calls the same stage functions the BullMQ processors call, in order, recording each stage. A run
 * that was interrupted (Ctrl-C, a crash) continues where it stopped when started again: finished
 * stages are skipped, training resumes from its last checkpoint.
 */
import { availableParallelism } from 'node:os';
import type { PipelineConfig } from '../config/pipeline.ts';
import { oneLine } from '../errors/index.ts';
import { settleGarbage } from './memory.ts';
import { claimRun, readStage, runOutcome, specOf, stageFinished, stageStarted, type RunOutcome, type RunRecord, type RunSpec } from './run.ts';
import { evaluateStage, ingestShardStage, mergeStage, planIngest, publishStage, trainStage, type StageContext } from './stages.ts';

export interface EmbeddedOptions {
  rerun?: boolean;
  say?: (line: string) => void;
  signal?: AbortSignal;
}

export interface EmbeddedResult {
  record: RunRecord;
  /** false: the run existed already and was not started again */
  started: boolean;
  outcome: RunOutcome;
}

export async function runEmbedded(pipeline: PipelineConfig, date: string, o: EmbeddedOptions = {}): Promise<EmbeddedResult> {
  const say = o.say ?? (() => {});
  const claim = claimRun(pipeline, date, 'embedded', { rerun: o.rerun });
  if (!claim.claimed && claim.outcome.status !== 'running') {
    say(`run ${claim.record.run_id} already ${claim.outcome.status} (${claim.outcome.detail}); --rerun starts a new attempt of a failed or rejected run`);
    return { record: claim.record, started: false, outcome: claim.outcome };
  }
  const record = claim.record;
  const spec = claim.claimed ? claim.spec : specOf(record);
  say(`run ${spec.runId}: ${claim.claimed ? 'started' : 'continuing'} (logs ${pipeline.paths.logs}, window ${pipeline.ingest.window_days} days to ${date})`);

  const run = <T extends Record<string, unknown>>(key: string, fn: (ctx: StageContext) => Promise<T>) => recordedStage(spec, key, fn, say, o.signal);

  const keys = await planIngest(spec);
  const parallel = shardParallelism(pipeline.ingest.shard_workers, keys.length);
  // the shards' progress with an ETA (a shard is tens of seconds at the paper's scale)
  const t0 = performance.now();
  let shardsDone = 0;
  await inParallel(keys, parallel, async (key) => {
    await run(`ingest-${key}`, (ctx) => ingestShardStage(spec, key, ctx, { inChild: parallel > 1 }));
    const secs = (performance.now() - t0) / 1000;
    const left = keys.length - ++shardsDone;
    say(`ingest shards: ${shardsDone}/${keys.length} done${left > 0 ? `, ETA ${Math.ceil((secs / shardsDone) * left)} s` : ''}`);
  });
  await run('ingest', (ctx) => mergeStage(spec, keys, ctx));
  const trained = await run('train', (ctx) => trainStage(spec, ctx));
  if (trained.status === 'stopped') {
    say(`train: interrupted at step ${trained.steps}; run the same command again to continue from the checkpoint`);
    return { record, started: true, outcome: { status: 'running', detail: 'interrupted in training' } };
  }
  await run('evaluate', (ctx) => evaluateStage(spec, ctx));
  await run('publish', (ctx) => publishStage(spec, ctx));
  return { record, started: true, outcome: runOutcome(record) };
}

/**
 * Runs one stage in this process under its stage record: skipped when the record says done (its
 * result returned), else recorded as running, then done, interrupted or failed.
 */
export async function recordedStage<T extends Record<string, unknown>>(
  spec: RunSpec,
  key: string,
  fn: (ctx: StageContext) => Promise<T>,
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<T> {
  const prev = readStage(spec, key);
  if (prev?.status === 'done' && prev.result) {
    say(`${key}: done earlier, skipped`);
    return prev.result as T;
  }
  const rec = stageStarted(spec, key);
  let lastPct = -10;
  const ctx: StageContext = {
    log: say,
    progress: (pct, eta) => {
      if (pct - lastPct < 10 && pct < 100) return;
      lastPct = pct;
      say(`${key}: ${pct.toFixed(0)}%${eta === null ? '' : `, ETA ${Math.ceil(eta)} s`}`);
    },
    signal,
  };
  try {
    const result = await fn(ctx);
    stageFinished(spec, rec, result.status === 'stopped' ? 'interrupted' : 'done', result, null);
    return result;
  } catch (err) {
    stageFinished(spec, rec, 'failed', null, oneLine(err));
    throw err;
  } finally {
    await settleGarbage(); // the next stage starts without this one's dead arrays (src/stages/memory.ts)
  }
}

/** How many shards the embedded runner reads at once: `auto` = one per core, never more than the shards. */
export function shardParallelism(setting: 'auto' | number, shards: number): number {
  return Math.max(1, Math.min(shards, setting === 'auto' ? availableParallelism() : setting));
}

/**
 * fn over every item, at most `limit` at a time; the first failure is thrown once the ones already
 * running have settled (no stage is left running behind a returned error), and nothing new starts after it.
 */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const lane = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw (failure as { err: unknown }).err;
}
