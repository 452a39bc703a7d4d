/**
 * The package's own folder (where package.json, pipelines/ and native/ are), found the same way from the
 * TypeScript sources (src/…, run through tsx in a checkout) and from the compiled files (dist/src/…, the
 * installed package): a fixed '../../' from a module would point into dist/ in the second case.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'batchrl-mtf';
let root: string | null = null;

/** The nearest folder above this module whose package.json is batchrl-mtf's. */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === NAME) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`${NAME}: no package.json named ${NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** package.json's version. */
export function packageVersion(): string {
  return String((JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version);
}
