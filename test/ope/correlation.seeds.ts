/**
 * The small correlation study (test/ope/correlation.test.ts) on several simulation seeds, to measure
 * what its assertions may rely on:
 *
 *   node --import tsx test/ope/correlation.seeds.ts [seed …] [--fqe '{"alpha":5e-4}']
 *
 * Prints one line per seed (Spearman ρ, regret@1, mean relative error, V̂ / truth of every policy).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy, smallStudyOptions } from './study.ts';

const args = process.argv.slice(2);
const i = args.indexOf('--fqe');
const fqe = i >= 0 ? (JSON.parse(args[i + 1]) as Record<string, unknown>) : {};
const seeds = args.filter((_, k) => i < 0 || (k !== i && k !== i + 1)).map(Number).filter((x) => Number.isInteger(x));
for (const seed of seeds.length ? seeds : [3, 7, 11]) {
  const work = mkdtempSync(join(tmpdir(), 'mtf-ope-seeds-'));
  const t = performance.now();
  const r = await runStudy(smallStudyOptions(work, seed, fqe));
  const rows = r.rows.map((x) => `${x.name} ${x.vHat.toFixed(0)}/${x.truth.toFixed(0)}`).join(', ');
  process.stdout.write(`seed ${seed}: ρ ${r.spearman.toFixed(3)}, regret@1 ${r.regretAt1.toFixed(1)}, MRE ${(100 * r.meanRelativeError).toFixed(1)}% (${((performance.now() - t) / 1000).toFixed(0)} s) — ${rows}\n`);
  rmSync(work, { recursive: true, force: true });
}
