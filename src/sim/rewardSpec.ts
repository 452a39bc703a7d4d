/** The simulator's reward spec as `mtf ingest --reward-weights` takes it (the demo ingests with it). */
import { REWARD_WEIGHTS } from './config.ts';

export const REWARD_SPEC = Object.entries(REWARD_WEIGHTS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');
