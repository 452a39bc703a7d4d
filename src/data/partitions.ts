/**
 * Finding the log files and the data window. Hive partitions `dt=YYYY-MM-DD` anywhere in a path select
 * the window `dt ∈ (end − days, end]` (the paper retrains daily on the past three days).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { InputError } from '../errors/index.ts';

export interface LogWindow {
  /** YYYY-MM-DD, inclusive */
  endDate: string;
  days: number;
}

export interface LogFile {
  path: string;
  size: number;
  mtime: string;
  /** the `dt=` partition of the path, when there is one */
  dt: string | null;
}

const DAY_MS = 86_400_000;

export function parseDate(text: string, field: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== text) {
    throw new InputError(`${field}: '${text}' is not a date YYYY-MM-DD`, { field });
  }
  return t;
}

export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** [startMs, endMs): from 00:00 UTC of the first day to 00:00 UTC of the day after endDate. */
export function windowBounds(w: LogWindow): { startMs: number; endMs: number; dates: string[] } {
  const end = parseDate(w.endDate, '--end-date');
  if (!Number.isInteger(w.days) || w.days < 1) throw new InputError(`--days: expected a whole number ≥ 1, got ${w.days}`, { field: '--days' });
  const dates = Array.from({ length: w.days }, (_, i) => formatDate(end - (w.days - 1 - i) * DAY_MS));
  return { startMs: end - (w.days - 1) * DAY_MS, endMs: end + DAY_MS, dates };
}

function partitionOf(path: string): string | null {
  let dt: string | null = null;
  for (const part of path.split(sep)) {
    const m = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(part);
    if (m) dt = m[1];
  }
  return dt;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    // Spark and Hadoop leave _SUCCESS, _metadata, .crc and hidden files beside the data.
    if (name.startsWith('.') || name.startsWith('_')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.parquet') || name.endsWith('.parq')) out.push(p);
  }
}

/** The files of a log (a file or a folder), restricted to the window's partitions when given. */
export function listLogFiles(logs: string, window: LogWindow | null): LogFile[] {
  const root = resolve(logs);
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new InputError(`${logs}: no such file or directory`, { file: logs });
  }
  const paths: string[] = [];
  if (st.isDirectory()) walk(root, paths);
  else paths.push(root);
  if (paths.length === 0) throw new InputError(`${logs}: no *.parquet files found`, { file: logs });
  let files = paths.map((p) => {
    const s = statSync(p);
    return { path: p, size: s.size, mtime: s.mtime.toISOString(), dt: partitionOf(p) };
  });
  if (window) {
    const { dates } = windowBounds(window);
    const inWindow = new Set(dates);
    files = files.filter((f) => f.dt === null || inWindow.has(f.dt));
    if (files.length === 0) {
      throw new InputError(`${logs}: the window ${dates[0]} … ${dates[dates.length - 1]} holds no data (no dt= partition in it)`, {
        file: logs,
      });
    }
  }
  return files;
}
