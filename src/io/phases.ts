/**
 * Progress lines of a long stage (ingest's merge, the evaluation's preparation and fits): each phase says
 * what it did and how long it took, a long phase reports its share done with an ETA (at most one line per
 * 2 s, always the end).
 */

/** Seconds as a short duration: 42s, 7m, 1.5h ('?' when unknown). */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

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
