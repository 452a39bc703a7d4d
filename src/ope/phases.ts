/**
 * Progress lines of the evaluation's preparation: each phase says what it did and how long it took, a
 * long phase reports its share done with an ETA (every ~5%, at most one line per 2 s).
 */
import { formatSeconds } from '../rl/progress.ts';

export interface PhaseClock {
  /** a phase ended: "<what> (<seconds> s)" */
  (what: string): void;
  /** a progress callback for a long phase (share done in [0, 1]) */
  progress(what: string): (done: number) => void;
}

export function phaseClock(say: (line: string) => void, now: () => number = () => performance.now()): PhaseClock {
  let t = now();
  const clock = ((what: string) => {
    const n = now();
    say(`${what} (${((n - t) / 1000).toFixed(1)} s)`);
    t = n;
  }) as PhaseClock;
  clock.progress = (what) => {
    const t0 = now();
    let last = -Infinity;
    return (done) => {
      const n = now();
      if (done < 1 && n - last < 2000) return;
      last = n;
      const secs = (n - t0) / 1000;
      const eta = done > 0 ? (secs * (1 - done)) / done : NaN;
      say(`${what}: ${(100 * done).toFixed(0)}%, ETA ${formatSeconds(eta)}`);
    };
  };
  return clock;
}
