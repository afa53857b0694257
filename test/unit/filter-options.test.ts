/** The library's filterDump options: defaults for what is left out, VmcoreError('E_USAGE') for what is wrong. */
import { describe, expect, it } from 'vitest';
import { FILTER_DEFAULTS, filterDump, resolveFilterOptions } from '../../src/index.js';
import { VmcoreError } from '../../src/errors.js';

function usage(f: () => unknown, option: string, text: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(VmcoreError);
    expect((e as VmcoreError).code).toBe('E_USAGE');
    expect((e as VmcoreError).data.option).toBe(option);
    expect((e as VmcoreError).message).toMatch(text);
    return;
  }
  throw new Error('did not throw');
}

describe('resolveFilterOptions', () => {
  it("fills in the CLI's defaults", () => {
    expect(resolveFilterOptions()).toEqual({ dumpLevels: [16], format: 'kdump', force: false });
    expect(resolveFilterOptions({})).toEqual(resolveFilterOptions(undefined));
    expect(resolveFilterOptions({ dumpLevels: 31, codec: 'lzo' })).toEqual({ ...FILTER_DEFAULTS, dumpLevels: [31], codec: 'lzo' });
    expect(resolveFilterOptions({ dumpLevels: [11, 31], reportedBit: null, codec: undefined }).dumpLevels).toEqual([11, 31]);
  });
  it('names the option in a VmcoreError for every bad value', () => {
    usage(() => resolveFilterOptions({ dumpLevels: 32 }), 'dumpLevels[0]', /integer 0\.\.31, not 32/);
    usage(() => resolveFilterOptions({ dumpLevels: [] }), 'dumpLevels', /1 to 8/);
    usage(() => resolveFilterOptions({ dumpLevels: '31' }), 'dumpLevels', /level 0\.\.31/);
    usage(() => resolveFilterOptions({ format: 'ELF' }), 'format', /"kdump" or "elf"/);
    usage(() => resolveFilterOptions({ codec: 'gzip' }), 'codec', /zlib, lzo, snappy, zstd/);
    usage(() => resolveFilterOptions({ force: 'yes' }), 'force', /true or false/);
    usage(() => resolveFilterOptions({ numThreads: 0 }), 'numThreads', /1\.\.256/);
    usage(() => resolveFilterOptions({ reportedBit: 64 }), 'reportedBit', /0\.\.63/);
    usage(() => resolveFilterOptions({ splitOutputs: ['a'] }), 'splitOutputs', /two or more/);
    usage(() => resolveFilterOptions({ onProgress: 1 }), 'onProgress', /function/);
    usage(() => resolveFilterOptions({ dumpLevel: 31 }), 'dumpLevel', /is not an option/);
    usage(() => resolveFilterOptions(null), 'options', /object/);
    usage(() => resolveFilterOptions([16]), 'options', /object/);
  });
  it('filterDump checks its file names before touching the disk', async () => {
    await expect(filterDump(undefined as unknown as string, 'x')).rejects.toMatchObject({ code: 'E_USAGE', data: { option: 'input' } });
    await expect(filterDump('in', '')).rejects.toMatchObject({ code: 'E_USAGE', data: { option: 'output' } });
    await expect(filterDump('/nonexistent/in', '/nonexistent/out')).rejects.toMatchObject({ code: 'E_INPUT_IO' });
  });
});

describe('the other entry points', () => {
  it('refuse a wrong call with VmcoreError("E_USAGE") naming the function and argument, never a TypeError', async () => {
    const lib = await import('../../src/index.js');
    const calls: [string, () => unknown, RegExp][] = [
      ['describeDumpFile', () => lib.describeDumpFile(undefined as unknown as string), /^describeDumpFile: path must be a file name/],
      ['dumpStatsFile', () => lib.dumpStatsFile(5 as unknown as string), /^dumpStatsFile: path must be a file name, not number/],
      ['dumpStatsFile options', () => lib.dumpStatsFile('x', 'fast' as never), /^dumpStatsFile: options must be an object/],
      ['openDump', () => lib.openDump(''), /^openDump: path must be a file name, not an empty string/],
      ['simulate', () => lib.simulate(undefined as unknown as string), /^simulate: out must be a file name/],
      ['reassembleSplit', () => lib.reassembleSplit(['a'], 'b'), /^reassembleSplit: parts must be two or more/],
      ['reassembleFlattened', () => lib.reassembleFlattened('a', undefined as unknown as string), /^reassembleFlattened: outPath must be a file name/],
      ['readKernelLog', () => lib.readKernelLog(undefined as never), /^readKernelLog: reader must be a dump opened with openDump/],
      ['parseVmcoreinfo', () => lib.parseVmcoreinfo(5 as unknown as string), /^parseVmcoreinfo: text must be a string/],
    ];
    for (const [name, call, message] of calls) {
      let err: unknown;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(VmcoreError);
      expect((err as VmcoreError).code, name).toBe('E_USAGE');
      expect((err as VmcoreError).message, name).toMatch(message);
    }
  });
});
