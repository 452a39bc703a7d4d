// Starts shardWorker.ts in a worker thread when the sources run as TypeScript (no build step): a worker
// does not inherit the parent's tsx loader, so it registers its own, as bin/mtf.js does.
import { register } from 'tsx/esm/api';

register();
await import('./shardWorker.ts');
