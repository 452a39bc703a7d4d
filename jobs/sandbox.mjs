// Entry of BullMQ's sandboxed child processes (one per concurrent stage job). The sources are
// TypeScript run through tsx, as everywhere in batchrl-mtf (no build step).
//
// A worker killed with SIGKILL cannot stop its children; left alone, a child would go on training
// beside the worker that picks the stalled job up. The IPC channel closes when the parent dies, so a
// child exits on 'disconnect'.
import { register } from 'tsx/esm/api';

register();
process.on('disconnect', () => process.exit(70));
const { default: processStage } = await import('./processors/stage.ts');
export default processStage;
