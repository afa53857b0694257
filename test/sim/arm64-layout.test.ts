import { describe, expect, it } from 'vitest';
import { buildMachine } from '../../src/sim/machine.js';
import { buildVmcoreinfo } from '../../src/sim/vmcoreinfo.js';
import { resolveOptions } from '../../src/sim/options.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';

const vi = (pageSize: number, vaBits: number) =>
  parseVmcoreinfo(buildVmcoreinfo(buildMachine(resolveOptions({ kernel: 'linux-6.12', memBytes: 64 << 20, arch: 'arm64', pageSize, vaBits }))));

// The values of real Debian 12 linux-image-6.12.118+deb12-arm64 (4K) and -arm64-16k VMCOREINFO
// notes (VA_BITS 52 in use, PHYS_OFFSET 0x40000000), read from their QEMU dumps.
describe('arm64 sim layout against real 6.12 VMCOREINFO values', () => {
  it.each([
    [4096, { MODULES_VADDR: 0xffff800000000000n, MODULES_END: 0xffff800080000000n, VMALLOC_END: 0xffffc1ffbf800000n, VMEMMAP_START: 0xffffc1ffc0000000n, SYMBOL_vmemmap: 0xffffc1ffbf000000n }],
    [16384, { MODULES_VADDR: 0xffffc00000000000n, MODULES_END: 0xffffc00080000000n, VMALLOC_END: 0xfffff03fbf800000n, VMEMMAP_START: 0xfffff03fc0000000n, SYMBOL_vmemmap: 0xfffff03fbfc00000n }],
  ])('%i-byte pages, VA_BITS 52', (ps, want) => {
    const v = vi(ps, 52);
    expect(v.number('VA_BITS')).toBe(52n);
    expect(v.number('TCR_EL1_T1SZ')).toBe(12n);
    expect(v.number('MAX_PHYSMEM_BITS')).toBe(52n);
    expect(v.number('PHYS_OFFSET')).toBe(0x40000000n);
    expect(v.number('VMEMMAP_END')).toBe(0xffffffffc0000000n);
    expect(v.number('VMALLOC_START')).toBe(want.MODULES_END);
    for (const k of ['MODULES_VADDR', 'MODULES_END', 'VMALLOC_END', 'VMEMMAP_START'] as const) expect(v.number(k), k).toBe(want[k]);
    expect(v.symbol('vmemmap')).toBe(want.SYMBOL_vmemmap);
  });
});
