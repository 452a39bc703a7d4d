// Entry of BullMQ's sandboxed child processes (one per concurrent stage job). The sources are
// TypeScript run through tsx, as everywhere in batchrl-mtf (no build step).
//
// A worker killed with SIGKILL cannot stop its children; left alone, a child would go on training or
// evaluating beside the worker that takes the stalled job over. So a child ends itself when its
// parent is gone: on 'disconnect' (the IPC channel closed) when its event loop is free, and, for
// stretches of synchronous work, from a watchdog thread that sees the parent pid change (the
// orphan is re-parented) and kills the process.
import { Worker } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
process.on('disconnect', () => process.exit(70));
const watchdog = new Worker(
  `const { ppid } = require('node:worker_threads').workerData;
   setInterval(() => { if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL'); }, 500);`,
  { eval: true, workerData: { ppid: process.ppid } },
);
watchdog.unref();
const { default: processStage } = await import('./processors/stage.ts');
export default processStage;
