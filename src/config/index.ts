/** Typed configs with paper defaults in one place, and how config files are read. */
export { IngestConfig } from './ingest.ts';
export { loadConfigFile, parseConfigText } from './load.ts';
