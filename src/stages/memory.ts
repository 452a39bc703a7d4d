/**
 * Between the stages of one process (`mtf run`), the previous stage's arrays are garbage but V8 collects
 * them only when its own heap asks: the next stage then allocates beside them. Measured at the paper's
 * scale: the merge's 1.5 GB of dead buffers were still there when training read its 2.3 GB, a peak of
 * 4.14 GiB where a collection in between gives 3.50 GiB. So the embedded runner collects after a stage.
 *
 * One collection right at the stage's end is not always enough: after a training stage on the native
 * backend, 2.24 GiB of the train split's buffers (no longer reachable: a heap snapshot finds no holder)
 * stayed counted after two full collections and 200 ms, and went only at the third collection with the
 * event loop turning in between (measured on the paper-scale trajectories; pending tasks and V8's
 * background sweeping of array buffers finish only then). Left to chance, evaluation then allocated beside
 * them: one paper-scale nightly peaked at 4.35 GiB where the next peaked at 3.33. `settleGarbage` does
 * the rounds, then hands the freed malloc memory back to the system where the native addon is loaded.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { trimNativeHeap } from '../rl/native.ts';

let collect: (() => void) | null | undefined;

/** A full garbage collection (twice: buffers whose owners die in the first are freed by the second); false where the runtime refuses. */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      // --expose-gc for a context created now: the process's own flags stay as they are
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  if (!collect) return false;
  collect();
  collect();
  return true;
}

/**
 * Collections with the event loop turning in between (`rounds` of them, at least one), then glibc's
 * malloc_trim through the native addon when this process loaded it. What the embedded runner does after
 * each stage. Returns the bytes of array buffers still counted.
 */
export async function settleGarbage(rounds = 4): Promise<number> {
  for (let i = 0; i < Math.max(1, rounds); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    if (!collectGarbage()) break;
  }
  trimNativeHeap();
  return process.memoryUsage().arrayBuffers;
}
