/**
 * vmcore-filter as a library. The CLI (src/cli) is a thin shell over these functions; every
 * result here is plain, serialisable data, and every failure a {@link VmcoreError} with a code.
 */
export { VmcoreError, EXIT, type ErrorCode, type ErrorData } from './errors.js';

// The main job.
export { filterDump, resolveFilterOptions, FILTER_DEFAULTS, type FilterDumpOptions } from './api/filter-dump.js';
export type { FilterOptions } from './writer/pipeline.js';
export { PAGE_CLASSES, type FilterReport, type PageClass } from './writer/report.js';
export { splitRanges } from './writer/split.js';
export { reassembleFlattenedStream } from './formats/flattened/reader.js';
// Entry points whose arguments are checked (VmcoreError('E_USAGE'), never a TypeError).
export { describeDumpFile, dumpStatsFile, openDump, simulate, reassembleSplit, reassembleFlattened, readKernelLog, parseVmcoreinfo } from './api/guards.js';

// Reading dumps.
export { dumpFormats, type OpenDumpOptions } from './formats/probe.js';
export type { DumpReader, DumpHeaderInfo, PageWriterInput, Utsname } from './formats/dump.js';
export { Vmcoreinfo } from './vmcoreinfo/parse.js';
export { detectPageTypes, pageTypeDecoder, type PageTypeDecoder, type PageTypeScheme } from './mm/pagetype.js';
export { PROFILES, type KernelProfile } from './mm/profiles.js';

// Classification and dump levels.
export { classifyDump, buildDumpableBitmap, excludedClasses, CLASS_NAMES, type Classification, type PageClassName } from './filter/index.js';

// Codecs.
export { loadCodec, codecCapabilities, type CodecName, type PageCodec } from './compress/index.js';

// Triage.
export { describeDump, dumpStats, type DumpInfo, type DumpStats } from './triage/index.js';
export { formatKernelLog, type KernelLog } from './dmesg/index.js';
export { buildMemoryMap, renderMapSvg } from './map/index.js';

// The simulator (test images with a ground truth).
export { buildMachine, type SimOptions, type SimResult, type GroundTruth } from './sim/index.js';
