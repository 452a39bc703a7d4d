#!/usr/bin/env node
// The `mtf` command, run one of two ways depending on what is beside this file:
// - the installed package (the tarball holds dist/ and no TypeScript sources): the compiled JavaScript
//   in dist/, with no tsx (a dev dependency, not installed for a consumer);
// - a checkout (src/cli/main.ts is here): the TypeScript sources through tsx's loader, so a fresh clone
//   needs no build step (`npm ci`, then `npx mtf …`) and an edited source is what runs. A dist/ left by
//   an earlier `npm run build` or `npm pack` is not used here, so it can never run stale code, unless
//   MTF_COMPILED=1 asks for it (`npm run bench:cli`, which builds first).
import { existsSync } from 'node:fs';

const checkout = existsSync(new URL('../src/cli/main.ts', import.meta.url));
let cli;
if (checkout && process.env.MTF_COMPILED !== '1') {
  const tsx = await import('tsx/esm/api').catch((err) => {
    process.stderr.write(`mtf: this checkout runs its TypeScript sources through tsx, a dev dependency that is not installed (${err.code ?? err.message}): run \`npm ci\` with dev dependencies, or \`npm run build\` and set MTF_COMPILED=1\n`);
    process.exit(3);
  });
  tsx.register();
  cli = await import('../src/cli/main.ts');
} else {
  const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
  if (!existsSync(compiled)) {
    process.stderr.write(`mtf: ${compiled.pathname} not found: run \`npm run build\` first (MTF_COMPILED=1 runs the compiled files)\n`);
    process.exit(3);
  }
  cli = await import(compiled.href);
}
cli.installProcessHandlers();
process.exitCode = await cli.main(process.argv);
