/**
 * `mtf models list | verify | rollback`: the operator's view of the model store and its repair. While
 * CURRENT holds garbage, `mtf serve` refuses to start and `mtf export` to publish; `rollback` points it
 * at a verified, published version again (under the publish lock, like an export).
 */
import type { Command } from 'commander';
import { InputError } from '../../errors/index.ts';
import type { ModelInfo } from '../../export/admin.ts';
import { checkName } from '../../export/store.ts';
import { examples, parsedArg } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

const STORE_HELP = 'model store directory';
/** A malformed --name or <version> is a usage error (exit 2), like every malformed flag value. */
const nameArg = parsedArg('--name', (t: string) => (checkName(t, 'name'), t));
const versionArg = parsedArg('--version', (t: string) => (checkName(t, 'version'), t));

async function inspect(store: string, name: string | undefined): Promise<ModelInfo[]> {
  const { inspectModel, listModelNames, modelDir } = await import('../../export/index.ts');
  const { existsSync } = await import('node:fs');
  if (name !== undefined) {
    if (!existsSync(modelDir(store, name))) throw new InputError(`${modelDir(store, name)}: no model '${name}' in the store ${store}`, { file: modelDir(store, name), field: '--name' });
    return [inspectModel(store, name)];
  }
  return listModelNames(store).map((n) => inspectModel(store, n));
}

/** The listing as text: one block per model, one line per version, `*` marks CURRENT. */
export function formatModels(store: string, models: ModelInfo[]): string {
  if (models.length === 0) return `no models in ${store}\n`;
  const out: string[] = [];
  for (const m of models) {
    const cur = m.current.state === 'garbage' ? `UNUSABLE: ${m.current.problem}` : m.current.version ? m.current.version + (m.current.problem ? ` — UNUSABLE: ${m.current.problem}` : '') : '(none)';
    out.push(`${m.name} (${m.dir}): CURRENT ${cur}`);
    if (m.versions.length === 0) out.push('  no versions');
    for (const v of m.versions) {
      const what = v.problem ?? v.reason ?? '';
      out.push(`${v.current ? '*' : ' '} ${v.version.padEnd(20)} ${v.status.padEnd(9)} ${(v.created_at ?? '?').padEnd(24)} ${what}`.trimEnd());
    }
  }
  return out.join('\n') + '\n';
}

export function registerModels(program: Command): void {
  const models = program.command('models').description(DESCRIPTIONS.models);

  const list = models
    .command('list')
    .description('every version of each model: status (published, rejected, corrupt = does not match its manifest), created, the gate\'s reason; * marks CURRENT, and a CURRENT that names no usable version is shown as UNUSABLE')
    .option('--store <dir>', STORE_HELP, 'models')
    .option('--name <name>', 'one model (default: every model in the store)', nameArg)
    .option('--json', 'machine-readable output')
    .action(async (o: { store: string; name?: string; json?: boolean }) => {
      const infos = await inspect(o.store, o.name);
      process.stdout.write(o.json ? JSON.stringify({ store: o.store, models: infos }, null, 2) + '\n' : formatModels(o.store, infos));
    });

  const verify = models
    .command('verify')
    .description('check every version\'s files against its manifest (sizes, SHA-256) and that CURRENT names a published, intact version; exit 1 naming each problem')
    .option('--store <dir>', STORE_HELP, 'models')
    .option('--name <name>', 'one model (default: every model in the store)', nameArg)
    .action(async (o: { store: string; name?: string }) => {
      const { modelProblems } = await import('../../export/index.ts');
      const infos = await inspect(o.store, o.name);
      const problems = infos.flatMap(modelProblems);
      if (problems.length) throw new InputError(`${problems.length} problem${problems.length > 1 ? 's' : ''} in ${o.store}: ${problems.join('; ')}`, { file: o.store });
      const n = infos.reduce((a, m) => a + m.versions.length, 0);
      process.stdout.write(`${o.store}: ${infos.length} model(s), ${n} version(s), all verified; CURRENT usable\n`);
    });

  const rollback = models
    .command('rollback')
    .description('point CURRENT at <version> (any published version: back to an older one, or a repair when CURRENT is garbage); the version is verified first, rejected or corrupt ones are refused; takes the publish lock (exit 4 while an export holds it)')
    .argument('<version>', 'the version to serve, as `mtf models list` shows it', versionArg)
    .requiredOption('--name <name>', 'model name in the store', nameArg)
    .option('--store <dir>', STORE_HELP, 'models')
    .action(async (version: string, o: { store: string; name: string }) => {
      const { setCurrent } = await import('../../export/index.ts');
      const r = setCurrent({ storeDir: o.store, name: o.name, version });
      const prev = r.previous.kind === 'version' ? r.previous.version : r.previous.kind === 'none' ? '(none)' : `${JSON.stringify(r.previous.text.slice(0, 60))} (not a version)`;
      const about = `${r.manifest.status} ${r.manifest.created_at}, gate: ${r.manifest.gate.reason}`;
      process.stdout.write(r.changed ? `${o.name}: CURRENT ${prev} → ${version} (${about})\n` : `${o.name}: CURRENT is ${version} already (${about}); nothing changed\n`);
    });

  examples(list, ['mtf models list --store /data/models', 'mtf models list --store /data/models --name fusion --json']);
  examples(verify, ['mtf models verify --store /data/models --name fusion']);
  examples(rollback, ['mtf models rollback nightly-2026-11-19 --name fusion --store /data/models']);
  for (const c of models.commands) c.exitOverride();
}
