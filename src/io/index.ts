export { fsyncPath, writeFileAtomic, writeFileSynced, writeJsonAtomic, writeDirAtomic } from './atomic.ts';
