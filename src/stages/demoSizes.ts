/**
 * The demo's sizes, apart from demo.ts (which loads the whole pipeline) so that `mtf demo --help` can
 * name them without loading it.
 */
export interface DemoSizes {
  sessionsPerDay: number;
  trainSteps: number;
  hidden: number[];
  fqeIterations: number;
  bootstrap: number;
  bootstrapIterations: number;
  truthSessions: number;
}

/** `--quick` is a smoke test (≤ 2 min on 2 cores); the full demo aims at ≤ 15 min on 2 cores. */
export const DEMO_SIZES: Record<'quick' | 'full', DemoSizes> = {
  quick: { sessionsPerDay: 300, trainSteps: 300, hidden: [32, 32], fqeIterations: 200, bootstrap: 2, bootstrapIterations: 50, truthSessions: 600 },
  full: { sessionsPerDay: 5000, trainSteps: 6000, hidden: [64, 64], fqeIterations: 2000, bootstrap: 5, bootstrapIterations: 300, truthSessions: 5000 },
};
