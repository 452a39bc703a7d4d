/**
 * Progress of a training run: a bar with it/s and ETA on a terminal (cli-progress), one log line per
 * curve record otherwise (CI, files, jobs), or nothing.
 */
import cliProgress from 'cli-progress';
import { formatSeconds } from '../io/phases.ts';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface Progress {
  start(total: number, at: number): void;
  /** every step: cheap */
  tick(step: number): void;
  /** every curve record: a summary line */
  record(step: number, summary: string): void;
  /** a message that must not be torn by the bar */
  log(line: string): void;
  stop(): void;
}

export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): Progress {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return { start() {}, tick() {}, record() {}, log() {}, stop() {} };
  if (resolved === 'lines') return lineProgress(stream);
  return barProgress(stream);
}

function lineProgress(stream: NodeJS.WritableStream): Progress {
  let total = 0;
  let t0 = 0;
  let s0 = 0;
  return {
    start(n, at) {
      total = n;
      t0 = performance.now();
      s0 = at;
    },
    tick() {},
    record(step, summary) {
      const secs = (performance.now() - t0) / 1000;
      const rate = (step - s0) / Math.max(secs, 1e-9);
      const eta = rate > 0 ? (total - step) / rate : NaN;
      const pct = ((100 * step) / total).toFixed(1);
      stream.write(`step ${step}/${total} (${pct}%) ${rate.toFixed(1)} it/s ETA ${formatSeconds(eta)} | ${summary}\n`);
    },
    log(line) {
      stream.write(line + '\n');
    },
    stop() {},
  };
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | {value}/{total} steps | {speed} it/s | ETA {eta_formatted} | {summary}',
      etaBuffer: 200,
      fps: 5,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let t0 = 0;
  let s0 = 0;
  let summary = '';
  const speed = (step: number) => ((step - s0) / Math.max((performance.now() - t0) / 1000, 1e-9)).toFixed(1);
  return {
    start(n, at) {
      t0 = performance.now();
      s0 = at;
      bar.start(n, at, { speed: '0', summary: '' });
    },
    tick(step) {
      bar.update(step, { speed: speed(step), summary });
    },
    record(step, s) {
      summary = s;
      bar.update(step, { speed: speed(step), summary });
    },
    log(line) {
      stream.write('\r\x1b[K' + line + '\n');
    },
    stop() {
      bar.stop();
    },
  };
}

export { formatSeconds };
