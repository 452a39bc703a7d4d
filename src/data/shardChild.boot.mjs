// Starts shardChild.ts in a child process when the sources run as TypeScript (no build step): the
// child registers the tsx loader itself, resolved from here (any working directory), as bin/mtf.js does.
import { register } from 'tsx/esm/api';

register();
await import('./shardChild.ts');
