import { describe, expect, it } from 'vitest';
import { createArm64Translator } from '../../src/addrxlat/arm64.js';
import { arm64KernelTranslatorFromVmcoreinfo, arm64LayoutFromVmcoreinfo, arm64LinearToPhys, arm64PhysToLinear } from '../../src/addrxlat/arm64-linux.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { VmcoreError } from '../../src/errors.js';

/** Physical memory with a bump allocator of granule-sized tables. */
class Mem {
  mem: Buffer;
  next: number;
  constructor(readonly granule: number, size = 4 << 20) {
    this.mem = Buffer.alloc(size);
    this.next = granule;
  }
  alloc(): number {
    const pa = this.next;
    this.next += this.granule;
    return pa;
  }
  set(table: number, idx: number, v: bigint): void {
    this.mem.writeBigUInt64LE(v, table + idx * 8);
  }
  read = (pa: bigint): bigint | undefined => (pa + 8n > BigInt(this.mem.length) ? undefined : this.mem.readBigUInt64LE(Number(pa)));
}
const TABLE = 3n; // valid | table
const PAGE = 0x703n; // valid | page | AF | SH inner
const BLOCK = 0x701n; // valid | block | AF | SH inner
const UXN_PXN = 3n << 53n;

describe('arm64 translator, hand-built tables (Arm ARM D8 descriptors)', () => {
  it('4K granule, 48-bit VA: 4 levels, 9 index bits each, 2M and 1G blocks', () => {
    const m = new Mem(4096);
    const [pgd, pud, pmd, pte] = [m.alloc(), m.alloc(), m.alloc(), m.alloc()];
    const va = 0xffff_0000_4020_1234n; // indices: pgd 0, pud 1, pmd 1, pte 1
    m.set(pgd, 0, BigInt(pud) | TABLE);
    m.set(pud, 1, BigInt(pmd) | TABLE);
    m.set(pmd, 1, BigInt(pte) | TABLE);
    m.set(pte, 1, 0x8_1234_5000n | PAGE | UXN_PXN); // attribute bits above 48 are not address
    m.set(pmd, 2, 0x8000_0000n | BLOCK); // va pmd index 2 → 2M block
    m.set(pud, 3, 0x1_4000_0000n | BLOCK); // 1G block
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 12, vaBits: 48, vaBitsActual: 48 });
    expect(x.levels).toBe(4);
    expect(x.translate(va)).toBe(0x8_1234_5234n);
    expect(x.walk(va).pageSize).toBe(4096);
    expect(x.translate(0xffff_0000_4045_6789n)).toBe(0x8000_0000n + 0x5_6789n);
    expect(x.walk(0xffff_0000_4045_6789n).pageSize).toBe(2 << 20);
    expect(x.translate(0xffff_0000_c123_4567n)).toBe(0x1_4123_4567n);
    expect(() => x.translate(0xffff_0000_4020_2000n)).toThrow(/PTE entry not valid/);
    expect(() => x.translate(0x0000_ffff_0000_0000n)).toThrow(/not a kernel \(TTBR1\) address/);
  });

  it('4K granule, 39-bit VA: 3 levels', () => {
    const m = new Mem(4096);
    const [pgd, pmd, pte] = [m.alloc(), m.alloc(), m.alloc()];
    const va = 0xffff_ff80_0060_3008n; // pgd index (bits 38:30) 0, pmd (29:21) 3, pte (20:12) 3
    m.set(pgd, 0, BigInt(pmd) | TABLE);
    m.set(pmd, 3, BigInt(pte) | TABLE);
    m.set(pte, 3, 0x4567_8000n | PAGE);
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 12, vaBits: 39, vaBitsActual: 39 });
    expect(x.levels).toBe(3);
    expect(x.translate(va)).toBe(0x4567_8008n);
  });

  it('16K granule, 48-bit VA: 4 levels (top has 2 entries), 11 index bits, 32M blocks', () => {
    const m = new Mem(16384);
    const [pgd, pud, pmd, pte] = [m.alloc(), m.alloc(), m.alloc(), m.alloc()];
    // shifts: pte 14, pmd 25, pud 36, pgd 47. va = top | pud 5 | pmd 7 | pte 9 | 0x123
    const va = (0xffffn << 48n) | (1n << 47n) | (5n << 36n) | (7n << 25n) | (9n << 14n) | 0x123n;
    m.set(pgd, 1, BigInt(pud) | TABLE);
    m.set(pud, 5, BigInt(pmd) | TABLE);
    m.set(pmd, 7, BigInt(pte) | TABLE);
    m.set(pte, 9, 0x12_3456_4000n | PAGE);
    m.set(pmd, 8, 0x4000_0000n | BLOCK);
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 14, vaBits: 48, vaBitsActual: 48 });
    expect(x.levels).toBe(4);
    expect(x.translate(va)).toBe(0x12_3456_4123n);
    const vb = (va & ~((1n << 25n) - 1n)) + (1n << 25n) + 0x77777n;
    expect(x.translate(vb)).toBe(0x4000_0000n + 0x77777n);
    expect(x.walk(vb).pageSize).toBe(32 << 20);
  });

  it('64K granule, 48-bit VA: 3 levels, 13 index bits, 512M blocks; 52-bit PA in bits 15:12', () => {
    const m = new Mem(65536);
    const [pgd, pmd, pte] = [m.alloc(), m.alloc(), m.alloc()];
    // shifts: pte 16, pmd 29, pgd 42 (6 bits)
    const va = (0xffffn << 48n) | (3n << 42n) | (11n << 29n) | (13n << 16n) | 0xbeefn;
    m.set(pgd, 3, BigInt(pmd) | TABLE);
    m.set(pmd, 11, BigInt(pte) | TABLE);
    // PA 0x000f_1234_5678_0000: PA[51:48] = 0xf goes to bits 15:12
    m.set(pte, 13, 0x1234_5678_0000n | (0xfn << 12n) | PAGE);
    m.set(pmd, 12, 0x2000_0000n | BLOCK);
    const base = { readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 16, vaBits: 48, vaBitsActual: 48 };
    expect(createArm64Translator(base).translate(va)).toBe(0x1234_5678_beefn);
    const x = createArm64Translator({ ...base, pa52: true });
    expect(x.levels).toBe(3);
    expect(x.translate(va)).toBe(0xf_1234_5678_beefn);
    const vb = (va & ~((1n << 29n) - 1n)) + (1n << 29n) + 0x123n;
    expect(x.translate(vb)).toBe(0x2000_0123n);
    expect(x.walk(vb).pageSize).toBe(512 << 20);
  });

  it('64K granule, VA_BITS=52 on 48-bit hardware: TTBR1 offset into swapper_pg_dir', () => {
    const m = new Mem(65536);
    const [pgd, pmd, pte] = [m.alloc(), m.alloc(), m.alloc()];
    const va = (0xffffn << 48n) | (2n << 42n) | (1n << 29n) | (1n << 16n);
    // the 48-bit range uses the last 64 of the 1024 52-bit entries
    m.set(pgd, 1024 - 64 + 2, BigInt(pmd) | TABLE);
    m.set(pmd, 1, BigInt(pte) | TABLE);
    m.set(pte, 1, 0x5_0000n | PAGE);
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 16, vaBits: 52, vaBitsActual: 48 });
    expect(x.translate(va)).toBe(0x5_0000n);
  });

  it('LPA2 (4K, 52-bit VA): 5 levels, PA[51:50] in bits 9:8', () => {
    const m = new Mem(4096);
    const t = [m.alloc(), m.alloc(), m.alloc(), m.alloc(), m.alloc()];
    const va = (0xfffn << 52n) | (1n << 48n) | (2n << 39n) | (3n << 30n) | (4n << 21n) | (5n << 12n) | 0x10n;
    m.set(t[0]!, 1, BigInt(t[1]!) | TABLE);
    m.set(t[1]!, 2, BigInt(t[2]!) | TABLE);
    m.set(t[2]!, 3, BigInt(t[3]!) | TABLE);
    m.set(t[3]!, 4, BigInt(t[4]!) | TABLE);
    m.set(t[4]!, 5, 0x3_0000_0000_7000n | (2n << 8n) | 0x403n); // PA bits 49:12 in place, PA[51:50] = 2
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(t[0]!), pageShift: 12, vaBits: 52, vaBitsActual: 52, lpa2: true });
    expect(x.levels).toBe(5);
    expect(x.translate(va)).toBe((2n << 50n) | 0x3_0000_0000_7010n);
  });

  it('rejects blocks where the granule has none and reserved level-3 descriptors', () => {
    const m = new Mem(16384);
    const [pgd, pud] = [m.alloc(), m.alloc()];
    const va = (0xffffn << 48n) | (1n << 47n) | (5n << 36n);
    m.set(pgd, 1, BigInt(pud) | TABLE);
    m.set(pud, 5, 0x10_0000_0000n | BLOCK); // 64G block needs LPA2 with 16K pages
    const x = createArm64Translator({ readPhysU64: m.read, pgdPhys: BigInt(pgd), pageShift: 14, vaBits: 48, vaBitsActual: 48 });
    expect(() => x.translate(va)).toThrow(/PUD block descriptor is not allowed/);
  });
});

const VI = (extra: Record<string, string>, drop: string[] = []) => {
  const base: Record<string, string> = {
    OSRELEASE: '6.12.0',
    PAGESIZE: '4096',
    'SYMBOL(swapper_pg_dir)': 'ffff800081a3c000',
    'SYMBOL(_stext)': 'ffff800080010000',
    'NUMBER(VA_BITS)': '48',
    'NUMBER(VMEMMAP_START)': '0xfffffdffbfe00000',
    'NUMBER(kimage_voffset)': '0xffff7fffc0000000',
    'NUMBER(PHYS_OFFSET)': '0x40000000',
    'NUMBER(TCR_EL1_T1SZ)': '0x10',
    KERNELOFFSET: '0',
    ...extra,
  };
  for (const d of drop) delete base[d];
  return parseVmcoreinfo(Object.entries(base).map(([k, v]) => `${k}=${v}\n`).join(''));
};

describe('arm64 layout from VMCOREINFO', () => {
  it('flipped layout (5.4+): linear map at -(1 << VA_BITS), image above PAGE_END', () => {
    const l = arm64LayoutFromVmcoreinfo(VI({}));
    expect(l.flipped).toBe(true);
    expect(l.pageOffset).toBe(0xffff_0000_0000_0000n);
    expect(l.pageEnd).toBe(0xffff_8000_0000_0000n);
    expect(l.pgdPhys).toBe(0xffff800081a3c000n - 0xffff7fffc0000000n);
    expect(arm64LinearToPhys(l, 0xffff_0000_0123_4000n)).toBe(0x4123_4000n);
    expect(arm64PhysToLinear(l, 0x4123_4000n)).toBe(0xffff_0000_0123_4000n);
    expect(arm64LinearToPhys(l, 0xffff_8000_0000_0000n)).toBeUndefined();
    expect(l.vmemmapStart).toBe(0xfffffdffbfe00000n);
  });

  it('older layout (before 5.4): linear map in the upper half', () => {
    const l = arm64LayoutFromVmcoreinfo(
      VI({ 'SYMBOL(swapper_pg_dir)': 'ffff000009a3c000', 'SYMBOL(_stext)': 'ffff000008081000', 'NUMBER(kimage_voffset)': '0xfffeffffc8000000' }, ['NUMBER(TCR_EL1_T1SZ)']),
    );
    expect(l.flipped).toBe(false);
    expect(l.pageOffset).toBe(0xffff_8000_0000_0000n);
    expect(arm64LinearToPhys(l, 0xffff_8000_0123_4000n)).toBe(0x4123_4000n);
  });

  const bad: [string, Record<string, string>, string[], RegExp][] = [
    ['T1SZ contradicts VA_BITS', { 'NUMBER(TCR_EL1_T1SZ)': '0x19' }, [], /NUMBER\(TCR_EL1_T1SZ\)=25 \(a 39-bit VA\) contradicts NUMBER\(VA_BITS\)=48/],
    ['page size not a granule', { PAGESIZE: '8192' }, [], /PAGESIZE=8192 is not an arm64 granule/],
    ['swapper_pg_dir in the linear map', { 'SYMBOL(swapper_pg_dir)': 'ffff000001a3c000' }, [], /SYMBOL\(swapper_pg_dir\)=0xffff000001a3c000 is not a kernel-image address/],
    ['swapper_pg_dir below _stext', { 'SYMBOL(swapper_pg_dir)': 'ffff800080000000' }, [], /outside the kernel image/],
    ['no VA_BITS', {}, ['NUMBER(VA_BITS)'], /lacks NUMBER\(VA_BITS\)/],
    ['no kimage_voffset', {}, ['NUMBER(kimage_voffset)'], /lacks NUMBER\(kimage_voffset\)/],
    ['52-bit without T1SZ', { 'NUMBER(VA_BITS)': '52', 'SYMBOL(swapper_pg_dir)': 'fff8000081a3c000', 'SYMBOL(_stext)': 'fff8000080010000' }, ['NUMBER(TCR_EL1_T1SZ)'], /lacks NUMBER\(TCR_EL1_T1SZ\)/],
  ];
  for (const [name, extra, drop, re] of bad) {
    it(`refuses: ${name} (E_VMCOREINFO, one line)`, () => {
      let err: unknown;
      try {
        arm64LayoutFromVmcoreinfo(VI(extra, drop));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VmcoreError);
      expect((err as VmcoreError).code).toBe('E_VMCOREINFO');
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('52-bit kernel on 48-bit hardware: T1SZ decides', () => {
    const l = arm64LayoutFromVmcoreinfo(
      VI({ PAGESIZE: '65536', 'NUMBER(VA_BITS)': '52', 'SYMBOL(swapper_pg_dir)': 'ffff800081a30000', 'SYMBOL(_stext)': 'ffff800080010000', 'NUMBER(MAX_PHYSMEM_BITS)': '52' }),
    );
    expect(l.vaBits).toBe(52);
    expect(l.vaBitsActual).toBe(48);
    expect(l.pa52).toBe(true);
    expect(l.pageOffset).toBe(0xfff0_0000_0000_0000n);
  });

  it('52-bit kernel on 48-bit hardware: memstart_addr below 0 (as in a real Debian 6.12 dump)', () => {
    // PHYS_OFFSET = 0x40000000 − (_PAGE_OFFSET(48) − _PAGE_OFFSET(52)), printed as u64
    const l = arm64LayoutFromVmcoreinfo(
      VI({ 'NUMBER(VA_BITS)': '52', 'NUMBER(PHYS_OFFSET)': '0xfff1000040000000', 'SYMBOL(swapper_pg_dir)': 'ffffd85a0b30f000', 'SYMBOL(_stext)': 'ffffd85a09610000', 'NUMBER(kimage_voffset)': '0xffffd859c9a00000' }),
    );
    expect(l.vaBitsActual).toBe(48);
    expect(l.lpa2).toBe(false);
    expect(arm64LinearToPhys(l, 0xffff_0000_0000_0000n)).toBe(0x4000_0000n);
    expect(arm64PhysToLinear(l, 0x4000_0000n)).toBe(0xffff_0000_0000_0000n);
  });

  it('swapper_pg_dir outside the dump is named', () => {
    expect(() => arm64KernelTranslatorFromVmcoreinfo(VI({}), () => undefined)).toThrow(/swapper_pg_dir at physical 0xc1a3c000 .* is not in the dump/);
  });
});
