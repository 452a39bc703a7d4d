// Entry of BullMQ's sandboxed child processes (one per concurrent stage job). In a checkout the
// sources are TypeScript run through tsx (no build step); in the installed package this file is
// dist/jobs/sandbox.mjs (copied there by scripts/build.mjs) beside the compiled processors/stage.js,
// and tsx (a dev dependency) is not installed.
//
// A worker killed with SIGKILL cannot stop its children; left alone, a child would go on training or
// evaluating beside the worker that takes the stalled job over. So a child ends itself when its
// parent is gone: on 'disconnect' (the IPC channel closed) when its event loop is free, and, for
// stretches of synchronous work, from a watchdog thread that sees the parent pid change (the
// orphan is re-parented) and kills the process.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';

const typescript = existsSync(new URL('./processors/stage.ts', import.meta.url));
if (typescript) (await import('tsx/esm/api')).register();
process.on('disconnect', () => process.exit(70));
const watchdog = new Worker(
  `const { ppid } = require('node:worker_threads').workerData;
   setInterval(() => { if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL'); }, 500);`,
  { eval: true, workerData: { ppid: process.ppid } },
);
watchdog.unref();
const { default: processStage } = await import(typescript ? './processors/stage.ts' : './processors/stage.js');
export default processStage;
