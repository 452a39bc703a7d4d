/**
 * The store as an operator sees it (`mtf models list | verify | rollback`): every version of a model
 * with its status, date and gate reason, what CURRENT holds — garbage included, shown rather than
 * thrown, since this is how an operator finds and repairs it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CURRENT_FILE, listVersions, MANIFEST_FILE, modelDir, readCurrentState, readVersion } from './store.ts';

export interface VersionInfo {
  version: string;
  /** the manifest's status; 'corrupt' when the manifest or a file does not verify */
  status: 'published' | 'rejected' | 'corrupt';
  created_at: string | null;
  /** the gate's reason */
  reason: string | null;
  replaces: string | null;
  current: boolean;
  /** why the version does not verify (readVersion's message), else null */
  problem: string | null;
}

export interface ModelInfo {
  name: string;
  dir: string;
  current: { state: 'none' | 'version' | 'garbage'; version: string | null; text: string | null; problem: string | null };
  versions: VersionInfo[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The model names in a store: directories with a valid name. */
export function listModelNames(storeDir: string): string[] {
  if (!existsSync(storeDir)) return [];
  return readdirSync(storeDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && NAME_RE.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** Reads and verifies every version of `name` (SHA-256s included) and CURRENT. Never throws for content. */
export function inspectModel(storeDir: string, name: string): ModelInfo {
  const dir = modelDir(storeDir, name);
  const cur = readCurrentState(storeDir, name);
  const currentVersion = cur.kind === 'version' ? cur.version : null;
  const versions: VersionInfo[] = listVersions(storeDir, name).map((version) => {
    const base = { version, current: version === currentVersion };
    try {
      const m = readVersion(storeDir, name, version).manifest;
      return { ...base, status: m.status, created_at: m.created_at, reason: m.gate.reason, replaces: m.replaces, problem: null };
    } catch (err) {
      const raw = looseManifest(join(dir, version, MANIFEST_FILE));
      return { ...base, status: 'corrupt' as const, created_at: raw.created_at, reason: raw.reason, replaces: raw.replaces, problem: (err as Error).message };
    }
  });
  let problem: string | null = null;
  if (cur.kind === 'garbage') {
    problem = `${cur.path}: ${JSON.stringify(cur.text.slice(0, 60))} is not a version name; repair: mtf models rollback <version> --name ${name}`;
  } else if (currentVersion !== null) {
    const v = versions.find((x) => x.version === currentVersion);
    if (!v) problem = `${join(dir, CURRENT_FILE)} names ${currentVersion}, which is not in ${dir}; repair: mtf models rollback <version> --name ${name}`;
    else if (v.status !== 'published') problem = `CURRENT names ${currentVersion}, which is ${v.status}${v.problem ? `: ${v.problem}` : ''}; repair: mtf models rollback <version> --name ${name}`;
  }
  return {
    name,
    dir,
    current: { state: cur.kind, version: currentVersion, text: cur.kind === 'garbage' ? cur.text : null, problem },
    versions,
  };
}

/** Everything wrong with a model: CURRENT's problem and every version that does not verify. */
export function modelProblems(info: ModelInfo): string[] {
  return [...(info.current.problem ? [info.current.problem] : []), ...info.versions.filter((v) => v.problem && !info.current.problem?.includes(v.problem)).map((v) => v.problem!)];
}

/** The fields a listing shows, from a manifest that may not verify. */
function looseManifest(path: string): { created_at: string | null; reason: string | null; replaces: string | null } {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as { created_at?: unknown; gate?: { reason?: unknown }; replaces?: unknown };
    const str = (x: unknown) => (typeof x === 'string' ? x : null);
    return { created_at: str(m.created_at), reason: str(m.gate?.reason), replaces: str(m.replaces) };
  } catch {
    return { created_at: null, reason: null, replaces: null };
  }
}
