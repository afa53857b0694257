/** Page classification and dump-level policy: the public API of the filter. */
export { CLASS_NAMES, PageClass, NR_CLASSES, emptyCounts, type PageClassName } from './classes.js';
export {
  classifyDump,
  prepareClassifier,
  summarizeDump,
  walkClassifier,
  type ClassWindow,
  Classifier,
  ClassWalk,
  type ClassSummary,
  recordZeroPages,
  reportedKeys,
  type Classification,
  type ClassifyOptions,
  type UnknownReason,
} from './classify.js';
export {
  ALWAYS_EXCLUDED,
  DL_EXCLUDE_CACHE,
  DL_EXCLUDE_CACHE_PRI,
  DL_EXCLUDE_FREE,
  DL_EXCLUDE_USER_DATA,
  DL_EXCLUDE_ZERO,
  MAX_DUMP_LEVEL,
  buildDumpableBitmap,
  dumpableTable,
  excludedClasses,
  excludedCounts,
} from './dumplevel.js';
export { DEFAULT_CYCLIC_BUFFER_KIB, addClassCounts, windowPfns } from './walk.js';
export { walkFreeLists, missingFreeListKeys, type FreeListResult } from './freelist.js';
