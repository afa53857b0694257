/**
 * The library's entry points with their arguments checked: a wrong call (a missing file name,
 * options that are not an object, a reader that is not one) is a `VmcoreError('E_USAGE')` naming
 * the function and the argument, not a TypeError from inside. The functions themselves are
 * unchanged; src/index.ts exports these.
 */
import { VmcoreError } from '../errors.js';
import { describeDumpFile as describeDumpFileImpl, dumpStatsFile as dumpStatsFileImpl } from '../triage/index.js';
import { openDump as openDumpImpl, type OpenDumpOptions } from '../formats/probe.js';
import { simulate as simulateImpl, type SimOptions, type SimResult } from '../sim/index.js';
import { reassembleSplit as reassembleSplitImpl } from '../writer/split.js';
import { reassembleFlattened as reassembleFlattenedImpl } from '../formats/flattened/reader.js';
import { readKernelLog as readKernelLogImpl, type KernelLog } from '../dmesg/index.js';
import { parseVmcoreinfo as parseVmcoreinfoImpl } from '../vmcoreinfo/parse.js';
import type { DumpReader } from '../formats/dump.js';

const usage = (fn: string, arg: string, what: string) => new VmcoreError('E_USAGE', `${fn}: ${arg} ${what}`, { option: arg });

/** A non-empty string argument. */
export function fileName(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw usage(fn, arg, `must be a file name, not ${v === '' ? 'an empty string' : typeof v}`);
  return v;
}

/** An optional options object (undefined → {}). */
export function optionsObject<T extends object>(fn: string, v: unknown): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw usage(fn, 'options', 'must be an object');
  return v as T;
}

/** {@link describeDumpFileImpl} with its arguments checked. */
export const describeDumpFile: typeof describeDumpFileImpl = (path, opts) =>
  describeDumpFileImpl(fileName('describeDumpFile', 'path', path), optionsObject('describeDumpFile', opts));

/** {@link dumpStatsFileImpl} with its arguments checked. */
export const dumpStatsFile: typeof dumpStatsFileImpl = (path, opts) =>
  dumpStatsFileImpl(fileName('dumpStatsFile', 'path', path), optionsObject('dumpStatsFile', opts));

/** {@link openDumpImpl} with its arguments checked. */
export function openDump(path: string, opts?: OpenDumpOptions): DumpReader {
  return openDumpImpl(fileName('openDump', 'path', path), optionsObject('openDump', opts));
}

/** {@link simulateImpl}: options default to the simulator's (a 512 MiB Linux 6.0 machine, seed 1). */
export function simulate(out: string, opts?: Partial<SimOptions>, extra?: { truthRuns?: boolean }): Promise<SimResult> {
  return simulateImpl(fileName('simulate', 'out', out), optionsObject('simulate', opts), optionsObject('simulate', extra));
}

/** {@link reassembleSplitImpl}: `opts.force` defaults to false. */
export function reassembleSplit(parts: string[], output: string, opts?: { force?: boolean }): ReturnType<typeof reassembleSplitImpl> {
  if (!Array.isArray(parts) || parts.length < 2) throw usage('reassembleSplit', 'parts', 'must be two or more file names');
  parts.forEach((p, i) => fileName('reassembleSplit', `parts[${i}]`, p));
  const o = optionsObject<{ force?: boolean }>('reassembleSplit', opts);
  return reassembleSplitImpl(parts, fileName('reassembleSplit', 'output', output), { force: o.force === true });
}

/** {@link reassembleFlattenedImpl} with its arguments checked. */
export function reassembleFlattened(inPath: string, outPath: string): ReturnType<typeof reassembleFlattenedImpl> {
  return reassembleFlattenedImpl(fileName('reassembleFlattened', 'inPath', inPath), fileName('reassembleFlattened', 'outPath', outPath));
}

/** {@link readKernelLogImpl}: `reader` must be an open dump ({@link openDump}). */
export function readKernelLog(reader: DumpReader, opts?: Parameters<typeof readKernelLogImpl>[1]): KernelLog {
  if (reader === null || typeof reader !== 'object' || typeof (reader as { close?: unknown }).close !== 'function') {
    throw usage('readKernelLog', 'reader', 'must be a dump opened with openDump()');
  }
  return readKernelLogImpl(reader, optionsObject('readKernelLog', opts));
}

/** {@link parseVmcoreinfoImpl}: `text` must be a string (VMCOREINFO's KEY=value lines). */
export const parseVmcoreinfo: typeof parseVmcoreinfoImpl = (text) => {
  if (typeof text !== 'string') throw usage('parseVmcoreinfo', 'text', 'must be a string of KEY=value lines');
  return parseVmcoreinfoImpl(text);
};
