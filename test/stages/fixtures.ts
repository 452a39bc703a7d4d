/** A tiny simulated 3-day log and a pipeline with toy sizes, shared by the stage and job tests. */
import { join } from 'node:path';
import { PipelineConfig } from '../../src/config/pipeline.ts';
import { REWARD_WEIGHTS, simulateLogs } from '../../src/sim/index.ts';

export const END_DATE = '2026-11-20';

const hidden = (h: number) => ({ actorHidden: [h, h], criticHidden: [h, h], vaeHidden: [h, h] });

export async function simulatedLogs(dir: string, sessionsPerDay = 150, seed = 1): Promise<string> {
  await simulateLogs({ out: dir, endDate: END_DATE, days: 3, sessionsPerDay, seed });
  return dir;
}

export function tinyPipeline(work: string, logs: string, over: { steps?: number; checkpointEvery?: number; attempts?: number; backoffMs?: number; tolerance?: number; hidden?: number } = {}): PipelineConfig {
  return PipelineConfig.parse({
    name: 'nightly',
    paths: { logs, artifacts: join(work, 'artifacts'), store: join(work, 'models') },
    ingest: { window_days: 3, reward_weights: { ...REWARD_WEIGHTS } },
    train: {
      algo: 'bcq',
      steps: over.steps ?? 60,
      checkpoint_every: over.checkpointEvery ?? 20,
      config: { ...hidden(over.hidden ?? 16), logEvery: 20 },
    },
    evaluate: { policies: ['behavior'], config: { fqe: { iterations: 60, hidden: [16, 16] }, bootstrap: 2, bootstrapIterations: 20, oodStates: 100 } },
    publish: { model: 'fusion', tolerance: over.tolerance ?? 1e9, keep: 5 },
    jobs: { attempts: over.attempts ?? 3, backoff_ms: over.backoffMs ?? 200 },
  });
}
