/**
 * A child process that reads one ingest shard (readShard), so that the embedded runner reads several
 * shards at once on several cores — what the BullMQ workers get from separate worker processes. A
 * process, not a worker thread: when it exits, everything it allocated (its rows, DuckDB's buffers, the
 * allocator's arenas) goes back to the system; after worker threads the merge that follows ran 0.6–0.8
 * GiB higher at the paper's scale. It receives the options, sends its progress lines, then the shard's
 * summary or the error (an InputError keeps its file/column/field), and exits.
 */
import { InputError } from '../errors/index.ts';
import { readShard, type ReadShardOptions } from './shards.ts';

export type ShardChildMessage =
  | { type: 'log'; line: string }
  | { type: 'done'; meta: Awaited<ReturnType<typeof readShard>>; peakRssMib: number }
  | { type: 'error'; message: string; input: { file?: string; column?: string; field?: string } | null; stack?: string };

const send = (m: ShardChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

process.once('message', async (options: Omit<ReadShardOptions, 'onProgress'>) => {
  try {
    const meta = await readShard({ ...options, onProgress: (line) => void send({ type: 'log', line }) });
    await send({ type: 'done', meta, peakRssMib: process.resourceUsage().maxRSS / 1024 });
  } catch (err) {
    const e = err as Error;
    const input = err instanceof InputError ? { file: err.file, column: err.column, field: err.field } : null;
    await send({ type: 'error', message: e.message ?? String(err), input, stack: e.stack });
  }
  process.disconnect();
  // nothing else should keep this process alive; if something does, it must not hang the parent
  setTimeout(() => process.exit(0), 2000).unref();
});
