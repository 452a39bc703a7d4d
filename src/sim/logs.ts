/**
 * Logged data like the paper's (README §2): days of sessions served by the mixed multi-exploration
 * behavior policy around a production policy, written as Hive-partitioned zstd parquet that conforms
 * to schemas/interaction-log.md. Files appear atomically: everything is written to a temporary sibling
 * folder first and renamed into place at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TASK_NAMES, type BehaviorConfig } from './config.ts';
import { rollout, type StepRecorder } from './engine.ts';
import { STATE_NAMES } from './features.ts';
import { RowRecorder, sessionOrder, type LogRows } from './logRows.ts';
import { logTable, META_ACTION_NAMES, META_BETA, META_SIM, META_STATE_NAMES, writeParquetFile } from './parquet.ts';
import { behaviorPolicy } from './policies.ts';
import type { FusionPolicy } from './policy.ts';
import { defaultWorld, type World } from './world.ts';

const DAY_MS = 86_400_000;

export interface SimulateDaysOptions {
  /** default: the default world */
  world?: World;
  /** last day simulated, YYYY-MM-DD (UTC) */
  endDate: string;
  days: number;
  sessionsPerDay: number;
  seed: number;
  /** the production policy the behavior policy explores around (default: the constant production α) */
  production?: FusionPolicy;
  /**
   * A policy that explores by itself and logs its own arms, used as is instead of the behavior policy
   * around `production`: the ranking stack (FusionScorer with its manifest's exploration, src/serving).
   */
  stack?: FusionPolicy;
  behavior?: Partial<BehaviorConfig>;
  /** parallel sessions (default config.session.slots) */
  slots?: number;
  /** also called on every logged step, after the row is recorded (analysis: what the log leaves out, e.g. Engine.latent) */
  observe?: StepRecorder;
}

export interface SimulatedDay {
  /** the day the sessions start in, YYYY-MM-DD */
  date: string;
  dayStartMs: number;
  rows: LogRows;
  sessions: number;
}

/** Parses YYYY-MM-DD into epoch ms of 00:00 UTC; throws RangeError naming the value otherwise. */
export function parseDate(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  if (!m || !Number.isFinite(ms) || formatDate(ms) !== date) throw new RangeError(`'${date}' is not a date YYYY-MM-DD`);
  return ms;
}

export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The id strings of the world's users (u00000 …). */
export function userIds(world: World): string[] {
  const width = Math.max(5, String(world.nUsers - 1).length);
  return Array.from({ length: world.nUsers }, (_, u) => 'u' + String(u).padStart(width, '0'));
}

/** Simulates the days (end − days, end], one at a time, with the mixed behavior policy. */
export async function* simulateDays(o: SimulateDaysOptions): AsyncGenerator<SimulatedDay> {
  const endMs = parseDate(o.endDate);
  if (!Number.isInteger(o.days) || o.days < 1) throw new RangeError(`days must be a positive integer, got ${o.days}`);
  if (!Number.isInteger(o.sessionsPerDay) || o.sessionsPerDay < 1) throw new RangeError(`sessionsPerDay must be a positive integer, got ${o.sessionsPerDay}`);
  if (o.stack && o.production) throw new RangeError('simulateDays: give either stack or production, not both');
  const policy = o.stack ?? behaviorPolicy({ production: o.production, config: o.behavior });
  for (let d = o.days - 1; d >= 0; d--) {
    const dayStartMs = endMs - d * DAY_MS;
    const date = formatDate(dayStartMs);
    const tag = date.replaceAll('-', '');
    const width = Math.max(6, String(o.sessionsPerDay - 1).length);
    const sessionId = (i: number) => `${tag}-s${o.seed}-${String(i).padStart(width, '0')}`;
    const recorder = new RowRecorder(policy, sessionId, o.sessionsPerDay, o.sessionsPerDay * 24);
    await rollout({
      sessionId,
      world: o.world ?? defaultWorld(),
      policy,
      sessions: o.sessionsPerDay,
      seed: o.seed,
      runTag: dayStartMs / DAY_MS,
      dayStartMs,
      recorder: o.observe ? { onStep: (e, s) => (recorder.onStep(e, s), o.observe!.onStep(e, s)) } : recorder,
      slots: o.slots,
    });
    yield { date, dayStartMs, rows: recorder.rows, sessions: o.sessionsPerDay };
  }
}

export interface SimulateLogsOptions extends SimulateDaysOptions {
  /** the log folder: files go to <out>/dt=YYYY-MM-DD/part-NNNNN.parquet */
  out: string;
  /** called after each simulated day */
  onDay?: (info: { date: string; sessions: number; rows: number }) => void;
}

export interface LogFile {
  /** path relative to `out` */
  path: string;
  date: string;
  rows: number;
}

export interface SimulateLogsReport {
  out: string;
  files: LogFile[];
  sessions: number;
  rows: number;
  seed: number;
  policy: string;
}

/**
 * Writes the log. Rows go to the partition of their own request date: sessions start within their day,
 * so late ones run past midnight into the next day's partition. A file's name says which day's sessions
 * it holds: part-00000 = sessions that started that day, part-00001 = those of the day before, so runs
 * for successive end dates never overwrite each other's rows.
 */
export async function simulateLogs(o: SimulateLogsOptions): Promise<SimulateLogsReport> {
  const out = resolve(o.out);
  const tmp = join(dirname(out), `.${basename(out)}.sim-${process.pid}-${randomBytes(4).toString('hex')}`);
  const world = o.world ?? defaultWorld();
  const ids = userIds(world);
  const files: LogFile[] = [];
  let sessions = 0;
  let rows = 0;
  const production = o.stack?.id ?? o.production?.id ?? 'production';
  mkdirSync(tmp, { recursive: true });
  try {
    for await (const day of simulateDays({ ...o, world })) {
      const metadata = new Map([
        [META_STATE_NAMES, JSON.stringify(STATE_NAMES)],
        [META_ACTION_NAMES, JSON.stringify(TASK_NAMES)],
        [META_SIM, JSON.stringify({ world_seed: world.config.world.seed, seed: o.seed, session_date: day.date, production })],
        [META_BETA, JSON.stringify(world.config.session.beta)],
      ]);
      const r = day.rows;
      // Split the day's rows by their own date (offset 0 = the day itself, 1 = after midnight, …).
      const offsets = new Set<number>();
      const offsetOf = new Int32Array(r.n);
      for (let i = 0; i < r.n; i++) {
        const off = Math.floor((r.requestTsMs[i] - day.dayStartMs) / DAY_MS);
        offsetOf[i] = off;
        offsets.add(off);
      }
      for (const off of [...offsets].sort((a, b) => a - b)) {
        const order = sessionOrder(r, (i) => offsetOf[i] === off);
        const date = formatDate(day.dayStartMs + off * DAY_MS);
        const rel = join(`dt=${date}`, `part-${String(off).padStart(5, '0')}.parquet`);
        mkdirSync(join(tmp, `dt=${date}`), { recursive: true });
        await writeParquetFile(join(tmp, rel), logTable(r, order, ids, metadata));
        files.push({ path: rel, date, rows: order.length });
      }
      sessions += day.sessions;
      rows += r.n;
      o.onDay?.({ date: day.date, sessions: day.sessions, rows: r.n });
    }
    for (const f of files) {
      mkdirSync(dirname(join(out, f.path)), { recursive: true });
      renameSync(join(tmp, f.path), join(out, f.path));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { out, files, sessions, rows, seed: o.seed, policy: production };
}
