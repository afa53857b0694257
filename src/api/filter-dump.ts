/**
 * The library's `filterDump`: the pipeline's (src/writer/pipeline.ts) with every option
 * optional — the CLI's defaults (dump level 16, kdump-compressed, uncompressed pages, no
 * overwrite) — and each argument checked, so a wrong call is a `VmcoreError('E_USAGE')` naming
 * the option, never a TypeError from deep inside.
 */
import { VmcoreError } from '../errors.js';
import { CODEC_NAMES, type CodecName } from '../compress/codec.js';
import { filterDump as runPipeline, type FilterOptions } from '../writer/pipeline.js';
import type { FilterReport } from '../writer/report.js';

/** {@link FilterOptions} with every field optional; `dumpLevels` may be one number. */
export type FilterDumpOptions = Partial<Omit<FilterOptions, 'dumpLevels'>> & { dumpLevels?: number | number[] };

/** The defaults of an omitted option: what `vmcore-filter IN OUT` does. */
export const FILTER_DEFAULTS = { dumpLevels: [16], format: 'kdump', force: false } as const satisfies Partial<FilterOptions>;

const bad = (option: string, what: string) => new VmcoreError('E_USAGE', `filterDump: ${option} ${what}`, { option });

function int(v: unknown, option: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(option, `must be an integer ${min}..${max}, not ${String(v)}`);
  return v;
}

/** One checker per option: returns the value to use or throws. */
const CHECK: { [K in keyof FilterDumpOptions]-?: (v: unknown) => unknown } = {
  dumpLevels: (v) => {
    const levels = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(levels) || levels.length < 1 || levels.length > 8) throw bad('dumpLevels', 'must be a level 0..31 or an array of 1 to 8 of them');
    return levels.map((l, i) => int(l, `dumpLevels[${i}]`, 0, 31));
  },
  format: (v) => {
    if (v !== 'kdump' && v !== 'elf') throw bad('format', `must be "kdump" or "elf", not ${JSON.stringify(v)}`);
    return v;
  },
  codec: (v) => {
    if (v === undefined || v === null) return undefined;
    if (!CODEC_NAMES.includes(v as CodecName)) throw bad('codec', `must be one of ${CODEC_NAMES.join(', ')}, not ${JSON.stringify(v)}`);
    return v;
  },
  reportedBit: (v) => (v === null || v === undefined ? v : int(v, 'reportedBit', 0, 63)),
  elfMinHolePages: (v) => int(v, 'elfMinHolePages', 1, 2 ** 31),
  numThreads: (v) => int(v, 'numThreads', 1, 256),
  cyclicBufferKiB: (v) => int(v, 'cyclicBufferKiB', 1, 2 ** 31),
  sizeLimit: (v) => int(v, 'sizeLimit', 1, Number.MAX_SAFE_INTEGER),
  splitOutputs: (v) => {
    if (!Array.isArray(v) || v.length < 2 || !v.every((p) => typeof p === 'string' && p !== '')) throw bad('splitOutputs', 'must be two or more file names');
    return v;
  },
  onProgress: (v) => {
    if (typeof v !== 'function') throw bad('onProgress', 'must be a function (phase, done, total)');
    return v;
  },
  stdout: (v) => {
    if (typeof (v as NodeJS.WritableStream)?.write !== 'function') throw bad('stdout', 'must be a writable stream');
    return v;
  },
  vmcoreinfoOverride: (v) => {
    if (typeof v !== 'string') throw bad('vmcoreinfoOverride', 'must be VMCOREINFO text (a string)');
    return v;
  },
  force: (v) => bool(v, 'force'),
  flattened: (v) => bool(v, 'flattened'),
  keepIncomplete: (v) => bool(v, 'keepIncomplete'),
  dryRun: (v) => bool(v, 'dryRun'),
};

function bool(v: unknown, option: string): boolean {
  if (typeof v !== 'boolean') throw bad(option, `must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

/** Complete and check `options` (unknown keys, a misspelt `dumpLevel` say, are refused). */
export function resolveFilterOptions(options: unknown = {}): FilterOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw bad('options', 'must be an object');
  const out: Record<string, unknown> = { ...FILTER_DEFAULTS, dumpLevels: [...FILTER_DEFAULTS.dumpLevels] };
  for (const [k, v] of Object.entries(options)) {
    if (!Object.hasOwn(CHECK, k)) throw bad(k, `is not an option (options: ${Object.keys(CHECK).join(', ')})`);
    if (v === undefined) continue;
    out[k] = CHECK[k as keyof FilterDumpOptions](v);
  }
  return out as unknown as FilterOptions;
}

/**
 * Filter the dump at `input` into `output` (a file name; "-" with `flattened` for the stream)
 * and resolve to the report. Options default to {@link FILTER_DEFAULTS}; every failure is a
 * {@link VmcoreError} whose `code` says which kind (its `exitCode` is the CLI's).
 */
export async function filterDump(input: string, output: string, options?: FilterDumpOptions): Promise<FilterReport> {
  if (typeof input !== 'string' || input === '') throw bad('input', 'must be a file name');
  if (typeof output !== 'string' || output === '') throw bad('output', 'must be a file name ("-" with flattened: true)');
  return runPipeline(input, output, resolveFilterOptions(options));
}
