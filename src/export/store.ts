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
 * One publisher per model name at a time: writeVersion and setCurrent hold a lease on <name>/.lock
 * (src/io/lease.ts: host, pid, token, expiry; why not a library: src/export/lock.ts) and check it, and
 * any outer lock the caller holds, before each step they cannot take back. Readers take no lock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { acquireFileLease, fsyncPath, writeFileAtomic, writeFileSynced, type FileLease } from '../io/index.ts';
import type { HeldLock, StoreLeaseOptions } from './lock.ts';
import { ManifestSchema, MODEL_FILES, type Manifest, type ModelFile } from './manifest.ts';

export const CURRENT_FILE = 'CURRENT';
export const MANIFEST_FILE = 'manifest.json';
/** the publish lock's file in <store>/<name>/ */
export const LOCK_FILE = '.lock';
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

/** What CURRENT holds: nothing yet, a version name, or something that is not one (shown, not thrown). */
export type CurrentState = { kind: 'none' } | { kind: 'version'; version: string } | { kind: 'garbage'; path: string; text: string };

export function readCurrentState(storeDir: string, name: string): CurrentState {
  const path = join(modelDir(storeDir, name), CURRENT_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  const v = text.trim();
  return NAME_RE.test(v) ? { kind: 'version', version: v } : { kind: 'garbage', path, text };
}

/** The version CURRENT names, or null when nothing was published yet; garbage is a ModelStoreError. */
export function readCurrent(storeDir: string, name: string): string | null {
  const c = readCurrentState(storeDir, name);
  if (c.kind === 'garbage') {
    const shown = JSON.stringify(c.text.length > 60 ? c.text.slice(0, 60) + '…' : c.text);
    throw new ModelStoreError(`${c.path}: ${shown} is not a version name; \`mtf models list --name ${name}\` shows the versions, \`mtf models rollback <version> --name ${name}\` repairs it`, c.path);
  }
  return c.kind === 'version' ? c.version : null;
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
  /** outer locks the caller holds (withPublishLock), checked with the store's own before each commit step */
  held?: HeldLock[];
  /** the store's own lease on <name>/.lock */
  lease?: StoreLeaseOptions;
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
  const lease = takeLease(storeDir, name, input.lease);
  const check = checker(lease, input.held);
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
      for (const f of MODEL_FILES) {
        check(); // renews the lease when a third of it has passed
        writeFileSynced(join(tmp, f), input.files[f]);
      }
      writeFileSynced(join(tmp, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
      fsyncPath(tmp);
      check();
      renameSync(tmp, final);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    fsyncPath(dir);
    if (published) {
      check();
      writeFileAtomic(join(dir, CURRENT_FILE), version + '\n');
    }
    let removed: string[] = [];
    try {
      check();
      removed = applyRetention(storeDir, name, keep);
    } catch (err) {
      // The version is written (and published); with the lease lost, old versions stay for the next
      // publisher's retention rather than be removed beside it.
      if (!(err instanceof Error && err.name === 'LeaseLostError')) throw err;
    }
    return { version, dir: final, manifest, published, removed };
  } finally {
    lease.release();
  }
}

export interface SetCurrentInput {
  storeDir: string;
  name: string;
  version: string;
  /** move only if CURRENT still names this (null: nothing; undefined: whatever it holds, garbage included) */
  expect?: string | null;
  held?: HeldLock[];
  lease?: StoreLeaseOptions;
}

export interface SetCurrentResult {
  version: string;
  /** what CURRENT held before */
  previous: CurrentState;
  /** false when CURRENT named `version` already */
  changed: boolean;
  manifest: Manifest;
}

/**
 * Points CURRENT at an existing version, under the publish lock: the version is verified first
 * (readVersion: manifest, sizes, SHA-256s) and must be `published`; a rejected or corrupt version is a
 * ModelStoreError and CURRENT stays as it was. Works when CURRENT holds garbage (the repair of
 * `mtf models rollback`).
 */
export function setCurrent(input: SetCurrentInput): SetCurrentResult {
  const { storeDir, name, version } = input;
  checkName(name, 'name');
  checkName(version, 'version');
  const dir = modelDir(storeDir, name);
  if (!existsSync(dir)) throw new ModelStoreError(`${dir}: no model '${name}' in the store ${storeDir}`, dir);
  if (!existsSync(join(dir, version))) throw new ModelStoreError(`${join(dir, version)}: no such version (\`mtf models list --name ${name}\` shows them)`, join(dir, version));
  const lease = takeLease(storeDir, name, input.lease);
  const check = checker(lease, input.held);
  try {
    const stored = readVersion(storeDir, name, version);
    const m = stored.manifest;
    if (m.status !== 'published') {
      throw new ModelStoreError(`${join(dir, version)}: status '${m.status}' (the gate said: ${m.gate.reason}); only a published version can be made CURRENT`, join(dir, version, MANIFEST_FILE));
    }
    const previous = readCurrentState(storeDir, name);
    const before = previous.kind === 'version' ? previous.version : previous.kind === 'none' ? null : undefined;
    if (input.expect !== undefined && before !== input.expect) {
      throw new ModelStoreError(`${join(dir, CURRENT_FILE)}: expected ${input.expect ?? 'nothing'}, found ${before === undefined ? 'garbage' : (before ?? 'nothing')}; CURRENT left as it is`, join(dir, CURRENT_FILE));
    }
    if (before === version) return { version, previous, changed: false, manifest: m };
    check();
    writeFileAtomic(join(dir, CURRENT_FILE), version + '\n');
    return { version, previous, changed: true, manifest: m };
  } finally {
    lease.release();
  }
}

function takeLease(storeDir: string, name: string, opts: StoreLeaseOptions | undefined): FileLease {
  return acquireFileLease(join(modelDir(storeDir, name), LOCK_FILE), { ...opts, purpose: `publish ${name}` });
}

/** The check before each commit step: the store's lease, then every outer lock. */
function checker(lease: FileLease, held: HeldLock[] | undefined): () => void {
  return () => {
    lease.check();
    for (const h of held ?? []) h.check();
  };
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
