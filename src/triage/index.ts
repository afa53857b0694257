/** Dump triage: what a dump is (`info`) and what filtering it would keep (`stats`), as plain data. */
export { describeDump, describeDumpFile, INFO_SCHEMA, type DumpInfo, type InfoOptions, type InfoRange, type InfoPageTypes } from './info.js';
export {
  dumpStats,
  dumpStatsFile,
  STATS_SCHEMA,
  STANDARD_LEVELS,
  DEFAULT_SAMPLE_EVERY,
  DEFAULT_MAX_SAMPLE,
  type DumpStats,
  type StatsOptions,
  type LevelStats,
  type CodecEstimate,
  type StatsArea,
  type ClassCounts,
} from './stats.js';
export { classDecisions, DECIDED_CLASSES, type ClassDecision, type DecidedClass } from './keys.js';
export { bitmapRuns, zoneRanges, ZONES, MAX_RANGES, type PfnRange, type ZoneName } from './ranges.js';
export { readVmcoreinfoFile } from './vmcoreinfo-file.js';
