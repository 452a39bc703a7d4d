export { writeFileAtomic, writeJsonAtomic, writeDirAtomic } from './atomic.ts';
