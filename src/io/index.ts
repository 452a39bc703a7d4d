export { createFileExclusive, fsyncErrorTolerated, fsyncPath, writeFileAtomic, writeFileSynced, writeJsonAtomic, writeDirAtomic } from './atomic.ts';
export { csvField, toCsv, type CsvCell } from './csv.ts';
export { acquireFileLease, FileLease, LeaseHeldError, LeaseLostError, readLease, DEFAULT_LEASE_MS, type FileLeaseOptions, type LeaseHolder } from './lease.ts';
export { formatSeconds, phaseClock, type PhaseClock } from './phases.ts';
