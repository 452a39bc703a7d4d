/**
 * Child process of the publish-lock tests (test/export/lock.test.ts).
 * Usage: node --import tsx test/export/lockChild.ts '<json>'
 *   {"mode":"race","store","name","count","id","log","go","host"?}: prints "ready", waits for the file
 *     `go` (so that racers start together), publishes `count` versions, retrying while the lock is
 *     held; inside the lock writes "enter <id>" … "exit <id>" lines to `log`; prints the versions it
 *     published as JSON.
 *   {"mode":"hold","store","name","holdMs","ttlMs"?,"host"?}: one publish that, inside the lock, prints
 *     "holding" and sleeps `holdMs` synchronously (a slow step); then prints {"ok":version} or
 *     {"error":name,"message"} and exits 0 or 2.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { publishRandom } from './helpers.ts';

const a = JSON.parse(process.argv[2]) as { mode: 'race' | 'hold'; store: string; name: string; count?: number; id?: string; log?: string; go?: string; host?: string; ttlMs?: number; holdMs?: number };
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const lease = { host: a.host, ttlMs: a.ttlMs };

if (a.mode === 'race') {
  process.stdout.write('ready\n');
  while (!existsSync(a.go!)) sleep(2);
  const published: string[] = [];
  let tries = 0;
  for (let i = 0; i < a.count!; ) {
    if (++tries > 5000) throw new Error(`${a.id}: gave up after ${tries} tries`);
    try {
      const onPublish = () => {
        appendFileSync(a.log!, `enter ${a.id}\n`);
        sleep(5);
        appendFileSync(a.log!, `exit ${a.id}\n`);
      };
      published.push(publishRandom(a.store, a.name, { seed: i + 1, keep: 100, lease, onPublish, spec: { hidden: [8, 8], numSamples: 2 } }).version);
      i++;
    } catch (err) {
      if ((err as Error).name !== 'LeaseHeldError') throw err;
      sleep(2 + Math.floor(Math.random() * 10));
    }
  }
  process.stdout.write(JSON.stringify({ published, tries }) + '\n');
} else {
  try {
    const onPublish = () => {
      process.stdout.write('holding\n');
      sleep(a.holdMs!);
    };
    const w = publishRandom(a.store, a.name, { seed: 7, keep: 100, lease, onPublish, spec: { hidden: [8, 8], numSamples: 2 } });
    process.stdout.write(JSON.stringify({ ok: w.version }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: (err as Error).name, message: (err as Error).message }) + '\n');
    process.exitCode = 2;
  }
}
