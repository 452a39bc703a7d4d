/**
 * Child process of the atomicity test: publishes `count` versions of random models of varying size to
 * <store>/<name> as fast as it can (retention on), then prints the versions it published.
 * Usage: node --import tsx test/export/publishLoop.ts <store> <name> <count> <keep>
 */
import { publishRandom } from './helpers.ts';

const [store, name, count, keep] = process.argv.slice(2);
const published: string[] = [];
for (let i = 0; i < Number(count); i++) {
  // sizes differ from one version to the next, so that a reader mixing two versions' files would notice
  const w = publishRandom(store, name, { seed: 100 + i, keep: Number(keep), spec: { hidden: [8 + (i % 5) * 8, 8], numSamples: 2 + (i % 3) } });
  published.push(w.version);
}
process.stdout.write(JSON.stringify(published) + '\n');
