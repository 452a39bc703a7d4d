/**
 * Between the stages of one process (`mtf run`), the previous stage's arrays are garbage but V8 collects
 * them only when its own heap asks: the next stage then allocates beside them. Measured at the paper's
 * scale: the merge's 1.5 GB of dead buffers were still there when training read its 2.3 GB, a peak of
 * 4.14 GiB where a collection in between gives 3.50 GiB. So the embedded runner collects after a stage.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

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
