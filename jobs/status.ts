/**
 * `mtf status`: what an operator asks first — did last night publish, what is live, is anything stuck.
 * Runs and stages come from the run records on disk (they outlive Redis's job history); queue counts
 * and the schedule come from Redis when it is reachable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { oneLine } from '../src/errors/index.ts';
import { listStages, runIdOf, runOutcome, scanRuns, specOf, type RunEntry, type RunOutcome, type StageRecord } from '../src/stages/index.ts';
import type { QueueConnection } from './connection.ts';
import { QUEUES } from './queues.ts';
import { schedulerId } from './schedule.ts';

/** A run's outcome, or 'unreadable': its record (or a stage record) cannot be read; detail says which and why. */
export type RunRowOutcome = RunOutcome | { status: 'unreadable'; detail: string };

export interface RunRow {
  run_id: string;
  date: string;
  /** 0 when the record is unreadable */
  attempt: number;
  trigger: string;
  created_at: string;
  outcome: RunRowOutcome;
  stages: StageRecord[];
}

export interface PipelineStatus {
  pipeline: string;
  /** version: what CURRENT names; problem: CURRENT cannot be used (garbage, or its manifest unreadable) */
  current: { model: string; version: string | null; created_at: string | null; reason: string | null; problem: string | null };
  runs: RunRow[];
  queues: Record<string, Record<string, number>> | null;
  schedule: { cron: string; tz: string; next: string | null } | null;
  redis: string | null;
}

export async function collectStatus(p: PipelineConfig, conn: QueueConnection | null, limit = 10): Promise<PipelineStatus> {
  const { readCurrentState, modelDir, MANIFEST_FILE } = await import('../src/export/index.ts');
  const cur = readCurrentState(p.paths.store, p.publish.model);
  const version = cur.kind === 'version' ? cur.version : null;
  let created: string | null = null;
  let reason: string | null = null;
  let problem: string | null = cur.kind === 'garbage' ? `${cur.path}: ${JSON.stringify(cur.text.slice(0, 60))} is not a version name (repair: mtf models rollback <version> --name ${p.publish.model})` : null;
  const mPath = version ? join(modelDir(p.paths.store, p.publish.model), version, MANIFEST_FILE) : null;
  if (mPath && existsSync(mPath)) {
    try {
      const m = JSON.parse(readFileSync(mPath, 'utf8'));
      created = m.created_at ?? null;
      reason = m.gate?.reason ?? null;
    } catch (err) {
      problem = `${mPath}: unreadable (${oneLine(err)})`;
    }
  }
  const runs = scanRuns(p).slice(0, limit).map((e) => runRow(p.name, e));
  let queues: PipelineStatus['queues'] = null;
  let schedule: PipelineStatus['schedule'] = null;
  let redis: string | null = null;
  if (conn) {
    redis = conn.display;
    queues = {};
    try {
      for (const name of Object.values(QUEUES)) {
        const q = new Queue(name, { connection: { ...conn.redis, maxRetriesPerRequest: 1, retryStrategy: () => null }, prefix: conn.prefix });
        q.on('error', () => {}); // reported once below, as "unreachable"
        try {
          queues[name] = await q.getJobCounts('active', 'waiting', 'waiting-children', 'delayed', 'completed', 'failed');
          if (name === QUEUES.trigger) {
            const s = await q.getJobScheduler(schedulerId(p));
            if (s) schedule = { cron: s.pattern ?? '', tz: s.tz ?? 'UTC', next: s.next ? new Date(s.next).toISOString() : null };
          }
        } finally {
          await q.close();
        }
      }
    } catch (err) {
      redis = `${conn.display} (unreachable: ${oneLine(err)})`;
      queues = null;
    }
  }
  return { pipeline: p.name, current: { model: p.publish.model, version, created_at: created, reason, problem }, runs, queues, schedule, redis };
}

/** One row per run directory: an unreadable run record or stage record is that run's row, not a failure of the status. */
function runRow(pipeline: string, e: RunEntry): RunRow {
  if (e.record) {
    const r = e.record;
    try {
      return { run_id: r.run_id, date: r.date, attempt: r.attempt, trigger: r.trigger, created_at: r.created_at, outcome: runOutcome(r), stages: listStages(specOf(r)) };
    } catch (err) {
      return { run_id: r.run_id, date: r.date, attempt: r.attempt, trigger: r.trigger, created_at: r.created_at, outcome: { status: 'unreadable', detail: oneLine(err) }, stages: [] };
    }
  }
  return { run_id: runIdOf(pipeline, e.date, 1), date: e.date, attempt: 0, trigger: '?', created_at: '', outcome: { status: 'unreadable', detail: `${e.error} (remove ${e.path} to trigger the date again)` }, stages: [] };
}

export function formatStatus(s: PipelineStatus): string {
  const out: string[] = [];
  out.push(`pipeline ${s.pipeline}`);
  out.push(
    s.current.problem && !s.current.version
      ? `CURRENT ${s.current.model}: UNUSABLE — ${s.current.problem}`
      : `CURRENT ${s.current.model}: ${s.current.version ?? '(none)'}${s.current.created_at ? ` since ${s.current.created_at}` : ''}${s.current.reason ? ` — ${s.current.reason}` : ''}${s.current.problem ? ` — UNUSABLE: ${s.current.problem}` : ''}`,
  );
  if (s.schedule) out.push(`schedule: "${s.schedule.cron}" (${s.schedule.tz}), next ${s.schedule.next ?? '?'}`);
  if (s.redis) out.push(`redis: ${s.redis}`);
  if (s.queues) {
    for (const [name, c] of Object.entries(s.queues)) {
      out.push(`  ${name.padEnd(13)} ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }
  if (s.runs.length === 0) out.push('no runs yet');
  for (const r of s.runs) {
    out.push('');
    const when = r.created_at ? `  (${r.trigger}, ${r.created_at})` : '';
    out.push(`${r.run_id}  ${r.outcome.status.toUpperCase()}${when}${r.outcome.detail ? `  ${r.outcome.detail}` : ''}`);
    for (const st of r.stages) {
      const dur = st.seconds === null ? 'running' : `${st.seconds.toFixed(1)} s`;
      out.push(`  ${st.stage.padEnd(22)} ${st.status.padEnd(11)} ${dur.padStart(9)}  try ${st.tries}  ${st.worker}${st.error ? `  ${st.error}` : ''}`);
    }
  }
  return out.join('\n') + '\n';
}
