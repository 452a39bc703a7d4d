/**
 * A worker thread that reads one ingest shard (readShard), so that the embedded runner reads several
 * shards at once on several cores — what the BullMQ workers get from separate processes. It posts its
 * progress lines, then the shard's summary or the error (an InputError keeps its file/column/field).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InputError } from '../errors/index.ts';
import { readShard, type ReadShardOptions } from './shards.ts';

export type ShardWorkerMessage =
  | { type: 'log'; line: string }
  | { type: 'done'; meta: Awaited<ReturnType<typeof readShard>> }
  | { type: 'error'; message: string; input: { file?: string; column?: string; field?: string } | null; stack?: string };

const port = parentPort!;
const options = workerData as Omit<ReadShardOptions, 'onProgress'>;
try {
  const meta = await readShard({ ...options, onProgress: (line) => port.postMessage({ type: 'log', line } satisfies ShardWorkerMessage) });
  port.postMessage({ type: 'done', meta } satisfies ShardWorkerMessage);
} catch (err) {
  const e = err as Error;
  const input = err instanceof InputError ? { file: err.file, column: err.column, field: err.field } : null;
  port.postMessage({ type: 'error', message: e.message ?? String(err), input, stack: e.stack } satisfies ShardWorkerMessage);
}
