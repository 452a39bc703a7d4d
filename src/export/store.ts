/**
 * The model store (issue 6 §2; contract in models/README.md and schemas/manifest.md):
 *
 *   <store>/<name>/<version>/{policy.onnx, scorer.onnx, manifest.json}
 *   <store>/<name>/CURRENT          the served version's name and a newline
 *
 * A version directory is assembled under a dot-named temporary directory, every file fsynced, then
 * renamed into place, and never changed afterwards; CURRENT is replaced by rename only after that. A
 * reader that reads CURRENT and then the files it names therefore sees one complete version — the old
 * one or the new one. Names starting with '.' are work in progress and never versions.
 *
 * One publisher per model name at a time (a lock file, <name>/.lock, says who); readers take no lock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, TransientError } from '../errors/index.ts';
import { fsyncPath, writeFileAtomic, writeFileSynced } from '../io/index.ts';
import { ManifestSchema, MODEL_FILES, type Manifest, type ModelFile } from './manifest.ts';

export const CURRENT_FILE = 'CURRENT';
export const MANIFEST_FILE = 'manifest.json';
/** Default number of versions kept besides the current one. */
export const DEFAULT_KEEP = 5;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A stored version is missing, malformed or does not match its manifest. */
export class ModelStoreError extends InputError {
  constructor(message: string, file?: string) {
    super(message, { file });
    this.name = 'ModelStoreError';
  }
}

export function checkName(value: string, what: 'name' | 'version'): void {
  if (!NAME_RE.test(value)) throw new InputError(`--${what}: '${value}' must be 1–128 letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'`, { field: `--${what}` });
}

export function modelDir(storeDir: string, name: string): string {
  return join(storeDir, name);
}

/** The version CURRENT names, or null when nothing was published yet. */
export function readCurrent(storeDir: string, name: string): string | null {
  const path = join(modelDir(storeDir, name), CURRENT_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const v = text.trim();
  if (!NAME_RE.test(v)) throw new ModelStoreError(`${path}: '${v}' is not a version name`, path);
  return v;
}

/** The version directories of a model (no temporaries), oldest first. */
export function listVersions(storeDir: string, name: string): string[] {
  const dir = modelDir(storeDir, name);
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && NAME_RE.test(e.name))
    .map((e) => ({ name: e.name, created: createdAt(join(dir, e.name)) }));
  versions.sort((a, b) => (a.created === b.created ? a.name.localeCompare(b.name, 'en', { numeric: true }) : a.created < b.created ? -1 : 1));
  return versions.map((v) => v.name);
}

function createdAt(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as { created_at?: unknown }).created_at ?? '');
  } catch {
    return ''; // unreadable: oldest
  }
}

/** v000001, v000002, …: one more than the largest such name present. */
export function nextVersion(storeDir: string, name: string): string {
  const dir = modelDir(storeDir, name);
  let max = 0;
  if (existsSync(dir)) {
    for (const e of readdirSync(dir)) {
      const m = /^\.?(?:tmp-)?v(\d+)/.exec(e);
      if (m) max = Math.max(max, Number(m[1]));
    }
  }
  return `v${String(max + 1).padStart(6, '0')}`;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface WriteVersionInput {
  storeDir: string;
  name: string;
  files: Record<ModelFile, Uint8Array>;
  /** builds the manifest once the version, the file digests and the replaced version are known */
  manifest: (ctx: { version: string; files: Manifest['files']; replaces: string | null }) => Manifest;
  /** move CURRENT to the new version (the gate passed) */
  publish: (ctx: { replaces: string | null }) => boolean;
  /** versions kept besides CURRENT's (default DEFAULT_KEEP) */
  keep?: number;
  /** explicit version name (default: nextVersion) */
  version?: string;
}

export interface WrittenVersion {
  version: string;
  dir: string;
  manifest: Manifest;
  published: boolean;
  /** versions removed by retention */
  removed: string[];
}

/**
 * Writes one version atomically and, if `publish` says so, points CURRENT at it; then applies retention.
 * The manifest is built inside the lock, so `replaces` is the version CURRENT named when this one was
 * decided on.
 */
export function writeVersion(input: WriteVersionInput): WrittenVersion {
  const { storeDir, name } = input;
  checkName(name, 'name');
  if (input.version !== undefined) checkName(input.version, 'version');
  const keep = input.keep ?? DEFAULT_KEEP;
  if (!Number.isInteger(keep) || keep < 0) throw new InputError(`keep: expected a whole number ≥ 0, got ${keep}`, { field: 'keep' });
  const dir = modelDir(storeDir, name);
  mkdirSync(dir, { recursive: true });
  const release = lock(dir);
  try {
    const replaces = readCurrent(storeDir, name);
    const version = input.version ?? nextVersion(storeDir, name);
    const final = join(dir, version);
    if (existsSync(final)) throw new InputError(`${final} already exists: versions are never overwritten; choose another --version`, { file: final, field: '--version' });
    const files = Object.fromEntries(MODEL_FILES.map((f) => [f, { sha256: sha256(input.files[f]), bytes: input.files[f].length }])) as Manifest['files'];
    const manifest = ManifestSchema.parse(input.manifest({ version, files, replaces }));
    const published = input.publish({ replaces }) && manifest.status === 'published';

    const tmp = join(dir, `.tmp-${version}-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp);
    try {
      for (const f of MODEL_FILES) writeFileSynced(join(tmp, f), input.files[f]);
      writeFileSynced(join(tmp, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
      fsyncPath(tmp);
      renameSync(tmp, final);
      fsyncPath(dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    if (published) writeFileAtomic(join(dir, CURRENT_FILE), version + '\n');
    const removed = applyRetention(storeDir, name, keep);
    return { version, dir: final, manifest, published, removed };
  } finally {
    release();
  }
}

/**
 * Keeps CURRENT's version and the newest `keep` others; removes the rest (each first renamed to a
 * dot-name, so that no reader ever finds a half-deleted version under its name).
 */
export function applyRetention(storeDir: string, name: string, keep: number): string[] {
  const current = readCurrent(storeDir, name);
  const others = listVersions(storeDir, name).filter((v) => v !== current);
  const drop = others.slice(0, Math.max(0, others.length - keep));
  const dir = modelDir(storeDir, name);
  for (const v of drop) {
    const trash = join(dir, `.trash-${v}-${randomBytes(4).toString('hex')}`);
    renameSync(join(dir, v), trash);
    rmSync(trash, { recursive: true, force: true });
  }
  return drop;
}

export interface StoredVersion {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
  /** the bytes whose digests were checked (load these, not the files again) */
  files: Record<ModelFile, Uint8Array>;
}

/** Reads one version and checks it: manifest schema, name and version, each file's size and SHA-256. */
export function readVersion(storeDir: string, name: string, version: string): StoredVersion {
  const dir = join(modelDir(storeDir, name), version);
  const mPath = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(mPath, 'utf8'));
  } catch (err) {
    throw new ModelStoreError(`${mPath}: unreadable manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, mPath);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelStoreError(`${mPath}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, mPath);
  }
  const manifest = parsed.data;
  if (manifest.name !== name || manifest.version !== version) {
    throw new ModelStoreError(`${mPath}: manifest says ${manifest.name}/${manifest.version}, the directory is ${name}/${version}`, mPath);
  }
  const files = {} as Record<ModelFile, Uint8Array>;
  for (const f of MODEL_FILES) {
    const path = join(dir, f);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new ModelStoreError(`${path}: unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, path);
    }
    const want = manifest.files[f];
    if (bytes.length !== want.bytes) throw new ModelStoreError(`${path}: ${bytes.length} bytes, the manifest says ${want.bytes}`, path);
    const got = sha256(bytes);
    if (got !== want.sha256) throw new ModelStoreError(`${path}: sha256 ${got} does not match the manifest's ${want.sha256}`, path);
    files[f] = bytes;
  }
  return { name, version, dir, manifest, files };
}

/** Takes <dir>/.lock (O_EXCL); a lock whose process is gone is taken over. Returns the release function. */
function lock(dir: string): () => void {
  const path = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new TransientError(`${path}: another export of this model is publishing (pid ${pid}); retry when it is done`);
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new TransientError(`${path}: could not take the publish lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}


