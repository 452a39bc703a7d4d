#!/usr/bin/env node
// The `mtf` command. Sources are TypeScript run through tsx's loader, so a fresh clone needs no build
// step: `npm ci` and then `npx mtf …` work as they are.
import { register } from 'tsx/esm/api';
register();
const { installProcessHandlers, main } = await import('../src/cli/main.ts');
installProcessHandlers();
process.exitCode = await main(process.argv);
