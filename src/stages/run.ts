/**
 * One run of a pipeline = one data date. Its identity, its directories, and its record on disk.
 *
 * The run record lives in the artifact directory, not only in Redis: a duplicate trigger for the same
 * pipeline and date must not start a second run even after BullMQ's jobs were removed (removeOnComplete)
 * or Redis was flushed. `claimRun` creates run.json complete or not at all (createFileExclusive: the
 * record is written and fsynced under a temporary name, then hard-linked into place), so of two
 * triggers racing on two machines exactly one wins and nobody ever reads a half-written claim.
 *
 *   <artifacts>/runs/<pipeline>/<date>/run.json                 the claim: who, when, which attempt
 *   <artifacts>/runs/<pipeline>/<date>/a<attempt>/stages/*.json  one record per stage (or shard)
 *   <artifacts>/runs/<pipeline>/<date>/a<attempt>/{shards,trajectories,train,ope}/
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { PipelineConfig } from '../config/pipeline.ts';
import { InputError } from '../errors/index.ts';
import { createFileExclusive, writeJsonAtomic } from '../io/index.ts';

export const STAGES = ['ingest', 'train', 'evaluate', 'publish'] as const;
export type StageName = (typeof STAGES)[number];

export const RUN_RECORD_FORMAT = 'batchrl-mtf/run@1';

export const RunRecord = z.object({
  format: z.literal(RUN_RECORD_FORMAT),
  run_id: z.string(),
  pipeline: z.string(),
  date: z.string(),
  attempt: z.int().positive(),
  trigger: z.enum(['schedule', 'manual', 'embedded']),
  created_at: z.string(),
  created_by: z.string(),
  config: PipelineConfig,
  /** attempts before this one (a re-run after a failure keeps their ids here) */
  previous: z.array(z.object({ run_id: z.string(), outcome: z.string() })),
});
export type RunRecord = z.infer<typeof RunRecord>;

export const StageRecord = z.object({
  stage: z.string(),
  /** waiting: the stage's job waits for jobs it fanned out (the fanned-out evaluation's fits) */
  status: z.enum(['running', 'waiting', 'done', 'retrying', 'failed', 'interrupted']),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  seconds: z.number().nullable(),
  worker: z.string(),
  tries: z.int().nonnegative(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  /**
   * the process's peak resident memory (MiB) when the stage ended: its whole life so far, so in an
   * embedded run (every stage in one process) the stage that raised it is the one that set the peak
   */
  peak_rss_mib: z.number().nullable().optional(),
});
export type StageRecord = z.infer<typeof StageRecord>;

/** What a stage needs to know about its run (the job data of every stage job). */
export interface RunSpec {
  runId: string;
  pipeline: PipelineConfig;
  date: string;
  attempt: number;
}

export const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function runIdOf(pipeline: string, date: string, attempt: number): string {
  // BullMQ job ids are built from it: no ':' and never all digits.
  return attempt === 1 ? `${pipeline}-${date}` : `${pipeline}-${date}-a${attempt}`;
}

export function runRoot(p: PipelineConfig, date: string): string {
  return join(p.paths.artifacts, 'runs', p.name, date);
}

export function runDirs(spec: RunSpec) {
  const work = join(runRoot(spec.pipeline, spec.date), `a${spec.attempt}`);
  return {
    root: runRoot(spec.pipeline, spec.date),
    work,
    stages: join(work, 'stages'),
    shards: join(work, 'shards'),
    /** the bucketed merge's split plan and parts (ingest.merge_buckets > 1) */
    parts: join(work, 'parts'),
    trajectories: join(work, 'trajectories'),
    train: join(work, 'train'),
    ope: join(work, 'ope'),
  };
}

/** host/pid of the worker process, and #pid of the sandboxed child when a BullMQ worker runs the stage. */
export const workerName = () => (process.env.MTF_WORKER_ID ? `${process.env.MTF_WORKER_ID}#${process.pid}` : `${hostname()}/${process.pid}`);

function readJson<T extends z.ZodType>(path: string, schema: T): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { file: path });
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError(`${path}: field '${issue.path.join('.')}': ${issue.message}`, { file: path, field: issue.path.join('.') });
  }
  return r.data;
}

export function readRunRecord(p: PipelineConfig, date: string): RunRecord | null {
  const path = join(runRoot(p, date), 'run.json');
  return existsSync(path) ? readClaim(path) : null;
}

/**
 * An existing run.json. One that does not parse can only be left by a crash of a version before the
 * claim was made atomic (it created the file, then wrote it): it is not repaired silently — whether
 * that run started stages is unknown — but named with the way out.
 */
function readClaim(path: string): RunRecord {
  try {
    return readJson(path, RunRecord);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const empty = (() => {
      try {
        return readFileSync(path).length === 0;
      } catch {
        return false;
      }
    })();
    throw new InputError(
      `${err.message}${empty ? ' (an empty claim: an older mtf crashed while creating it)' : ''}. The run of this date cannot be read; check its directory, then remove the record (rm ${path}) and trigger the date again`,
      { file: path },
    );
  }
}

export type ClaimResult = { claimed: true; spec: RunSpec; record: RunRecord } | { claimed: false; record: RunRecord; outcome: RunOutcome };

/**
 * Claims the run for (pipeline, date). If a run exists, nothing is started and its record returned —
 * unless `rerun` and that run ended without publishing or rejecting (failed), which starts attempt n+1.
 */
export function claimRun(pipeline: PipelineConfig, date: string, trigger: RunRecord['trigger'], opts: { rerun?: boolean } = {}): ClaimResult {
  if (!DATE_RE.test(date)) throw new InputError(`--date: expected YYYY-MM-DD, got '${date}'`, { field: '--date' });
  const root = runRoot(pipeline, date);
  mkdirSync(root, { recursive: true });
  const path = join(root, 'run.json');
  const existing = existsSync(path) ? readClaim(path) : null;
  if (existing) {
    const outcome = runOutcome(existing);
    if (!opts.rerun || outcome.status === 'running' || outcome.status === 'published') return { claimed: false, record: existing, outcome };
  }
  const attempt = existing ? existing.attempt + 1 : 1;
  const record: RunRecord = {
    format: RUN_RECORD_FORMAT,
    run_id: runIdOf(pipeline.name, date, attempt),
    pipeline: pipeline.name,
    date,
    attempt,
    trigger,
    created_at: new Date().toISOString(),
    created_by: workerName(),
    config: pipeline,
    previous: existing ? [...existing.previous, { run_id: existing.run_id, outcome: runOutcome(existing).status }] : [],
  };
  const text = JSON.stringify(record, null, 2) + '\n';
  if (!existing) {
    // Of two concurrent triggers exactly one links its complete record into place.
    if (!createFileExclusive(path, text)) {
      const rec = readClaim(path);
      return { claimed: false, record: rec, outcome: runOutcome(rec) };
    }
  } else {
    writeJsonAtomic(path, record);
  }
  const spec: RunSpec = { runId: record.run_id, pipeline, date, attempt };
  mkdirSync(runDirs(spec).stages, { recursive: true });
  return { claimed: true, spec, record };
}

export function specOf(record: RunRecord): RunSpec {
  return { runId: record.run_id, pipeline: record.config, date: record.date, attempt: record.attempt };
}

// ---- stage records: one file per stage (or shard), written by the one job that runs it ----

function stagePath(spec: RunSpec, key: string): string {
  return join(runDirs(spec).stages, `${key}.json`);
}

export function readStage(spec: RunSpec, key: string): StageRecord | null {
  const path = stagePath(spec, key);
  return existsSync(path) ? readJson(path, StageRecord) : null;
}

export function stageStarted(spec: RunSpec, key: string): StageRecord {
  const prev = readStage(spec, key);
  const rec: StageRecord = {
    stage: key,
    status: 'running',
    started_at: prev?.status === 'waiting' ? prev.started_at : new Date().toISOString(),
    finished_at: null,
    seconds: null,
    worker: workerName(),
    // a job coming back from waiting for the jobs it fanned out goes on with the same try
    tries: (prev?.tries ?? 0) + (prev?.status === 'waiting' ? 0 : 1),
    result: null,
    error: null,
  };
  mkdirSync(runDirs(spec).stages, { recursive: true });
  writeJsonAtomic(stagePath(spec, key), rec);
  return rec;
}

export function stageFinished(spec: RunSpec, rec: StageRecord, status: 'done' | 'waiting' | 'retrying' | 'failed' | 'interrupted', result: Record<string, unknown> | null, error: string | null): StageRecord {
  const now = new Date();
  const done: StageRecord = {
    ...rec,
    status,
    finished_at: now.toISOString(),
    seconds: (now.getTime() - Date.parse(rec.started_at)) / 1000,
    result,
    error,
    // resourceUsage().maxRSS is in KiB (getrusage)
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  writeJsonAtomic(stagePath(spec, rec.stage), done);
  return done;
}

export function listStages(spec: RunSpec): StageRecord[] {
  const dir = runDirs(spec).stages;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readJson(join(dir, f), StageRecord))
    .sort((a, b) => a.started_at.localeCompare(b.started_at) || a.stage.localeCompare(b.stage)); // shards may start in the same millisecond
}

export interface RunOutcome {
  status: 'running' | 'published' | 'rejected' | 'failed';
  detail: string;
}

/** published / rejected: the publish stage's decision; failed: a stage failed for good; else running. */
export function runOutcome(record: RunRecord): RunOutcome {
  const spec = specOf(record);
  const publish = readStage(spec, 'publish');
  if (publish?.status === 'done' && publish.result) {
    const decision = String(publish.result.decision);
    return { status: decision === 'published' ? 'published' : 'rejected', detail: `${publish.result.version}: ${publish.result.reason}` };
  }
  const failed = listStages(spec).find((s) => s.status === 'failed');
  if (failed) return { status: 'failed', detail: `${failed.stage}: ${failed.error}` };
  return { status: 'running', detail: '' };
}

/** A run directory as found: its record, or why the record cannot be read. */
export type RunEntry = { date: string; path: string; record: RunRecord } | { date: string; path: string; record: null; error: string };

/** Every run of a pipeline on disk, newest date first; an unreadable record is an entry with its error, not a throw. */
export function scanRuns(p: PipelineConfig): RunEntry[] {
  const dir = join(p.paths.artifacts, 'runs', p.name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => DATE_RE.test(d) && existsSync(join(dir, d, 'run.json')))
    .sort()
    .reverse()
    .map((date) => {
      const path = join(dir, date, 'run.json');
      try {
        return { date, path, record: readJson(path, RunRecord) };
      } catch (err) {
        return { date, path, record: null, error: (err as Error).message };
      }
    });
}

/** Every readable run of a pipeline on disk, newest date first (scanRuns shows the unreadable ones too). */
export function listRuns(p: PipelineConfig): RunRecord[] {
  return scanRuns(p).flatMap((e) => (e.record ? [e.record] : []));
}
