import { describe, expect, it } from 'vitest';
import { createX86_64Translator, kernelTranslatorFromVmcoreinfo, START_KERNEL_MAP } from '../../src/addrxlat/x86_64.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { VmcoreError } from '../../src/errors.js';

/** Physical memory as a Buffer with a bump allocator for tables. */
class Tables {
  mem = Buffer.alloc(1 << 20);
  next = 0x1000;
  reads = 0;
  alloc(): number {
    const pa = this.next;
    this.next += 4096;
    return pa;
  }
  set(table: number, idx: number, v: bigint): void {
    this.mem.writeBigUInt64LE(v, table + idx * 8);
  }
  read = (pa: bigint): bigint | undefined => {
    this.reads++;
    if (pa + 8n > BigInt(this.mem.length)) return undefined;
    return this.mem.readBigUInt64LE(Number(pa));
  };
}
const idx = (va: bigint, shift: bigint) => Number((va >> shift) & 511n);

function fourLevel() {
  const t = new Tables();
  const pgd = t.alloc();
  const pud = t.alloc();
  const pmd = t.alloc();
  const pte = t.alloc();
  return { t, pgd, pud, pmd, pte };
}

describe('x86_64 translator', () => {
  const va4k = 0xffffea0000201234n;
  it('walks 4-level tables to a 4 KiB page', () => {
    const { t, pgd, pud, pmd, pte } = fourLevel();
    t.set(pgd, idx(va4k, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(va4k, 30n), BigInt(pmd) | 0x63n);
    t.set(pmd, idx(va4k, 21n), BigInt(pte) | 0x63n);
    t.set(pte, idx(va4k, 12n), 0x8000000123456063n); // NX bit and high bits are masked off
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(x.translate(va4k)).toBe(0x123456234n);
    expect(x.walk(va4k).pageSize).toBe(4096);
  });

  it('maps 2 MiB and 1 GiB pages', () => {
    const { t, pgd, pud, pmd } = fourLevel();
    const va2m = 0xffff888000345678n;
    t.set(pgd, idx(va2m, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(va2m, 30n), BigInt(pmd) | 0x63n);
    t.set(pmd, idx(va2m, 21n), 0x40000000n | 0xe3n);
    const va1g = 0xffff8880c0000000n + 0x1234567n;
    t.set(pud, idx(va1g, 30n), 0x140000000n | 0xe3n);
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(x.translate(va2m)).toBe(0x40000000n + (va2m & 0x1fffffn));
    expect(x.walk(va2m).pageSize).toBe(2 << 20);
    expect(x.translate(va1g)).toBe(0x140000000n + 0x1234567n);
    expect(x.walk(va1g).pageSize).toBe(1 << 30);
  });

  it('walks 5-level tables', () => {
    const t = new Tables();
    const [pml5, p4d, pud, pmd, pte] = [t.alloc(), t.alloc(), t.alloc(), t.alloc(), t.alloc()];
    const va = 0xffd4000000003008n;
    t.set(pml5, idx(va, 48n), BigInt(p4d) | 0x63n);
    t.set(p4d, idx(va, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(va, 30n), BigInt(pmd) | 0x63n);
    t.set(pmd, idx(va, 21n), BigInt(pte) | 0x63n);
    t.set(pte, idx(va, 12n), 0x777000n | 0x63n);
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pml5), l5: true });
    expect(x.translate(va)).toBe(0x777008n);
    // The same tables read as 4-level do not reach the page.
    const x4 = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pml5), l5: false });
    expect(() => x4.translate(va)).toThrow(VmcoreError);
  });

  it('names the address and the level that failed', () => {
    const { t, pgd, pud, pmd } = fourLevel();
    t.set(pgd, idx(va4k, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(va4k, 30n), BigInt(pmd) | 0x63n);
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(() => x.translate(va4k)).toThrow('cannot translate 0xffffea0000201234: PMD entry not present');
    try {
      x.translate(va4k);
    } catch (e) {
      expect((e as VmcoreError).code).toBe('E_ADDRXLAT');
      expect((e as VmcoreError).data.address).toBe(va4k);
      expect((e as VmcoreError).data.level).toBe('PMD');
    }
    expect(() => x.translate(0xffff900000000000n)).toThrow('PGD entry not present');
    expect(x.tryTranslate(va4k)).toBeUndefined();
    expect(() => x.translate(0x0000900000000000n | (1n << 47n))).toThrow('non-canonical');
  });

  it('reports an entry outside the dump', () => {
    const { t, pgd } = fourLevel();
    t.set(pgd, idx(va4k, 39n), 0x7fff0000000n | 0x63n); // beyond the Buffer
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(() => x.translate(va4k)).toThrow(/PUD entry at physical 0x7fff0000000 is not in the dump/);
  });

  it('refuses a looping table instead of walking it', () => {
    const { t, pgd, pud } = fourLevel();
    t.set(pgd, idx(va4k, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(va4k, 30n), BigInt(pgd) | 0x63n); // PUD entry points back at the PGD
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(() => x.translate(va4k)).toThrow(/loops back/);
  });

  it('strips the SME mask from entries', () => {
    const { t, pgd, pud, pmd } = fourLevel();
    const sme = 1n << 47n;
    const va = 0xffff888000001000n;
    t.set(pgd, idx(va, 39n), BigInt(pud) | sme | 0x63n);
    t.set(pud, idx(va, 30n), BigInt(pmd) | sme | 0x63n);
    t.set(pmd, idx(va, 21n), 0x200000n | sme | 0xe3n);
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false, smeMask: sme });
    expect(x.translate(va)).toBe(0x201000n);
  });

  it('splits a range into physically contiguous pieces', () => {
    const { t, pgd, pud, pmd, pte } = fourLevel();
    const base = 0xffffea0000000000n;
    t.set(pgd, idx(base, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(base, 30n), BigInt(pmd) | 0x63n);
    t.set(pmd, 0, BigInt(pte) | 0x63n);
    // 4 KiB pages: 0,1 contiguous at 0x100000; 2 at 0x300000; 3 absent.
    t.set(pte, 0, 0x100000n | 0x63n);
    t.set(pte, 1, 0x101000n | 0x63n);
    t.set(pte, 2, 0x300000n | 0x63n);
    t.set(pmd, 1, 0x400000n | 0xe3n); // a 2 MiB page right after the PTE table's 2 MiB
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    expect(x.translateRange(base + 0x800n, 0x1800)).toEqual([
      { va: base + 0x800n, pa: 0x100800n, len: 0x1800 },
    ]);
    expect(x.translateRange(base, 0x3000)).toEqual([
      { va: base, pa: 0x100000n, len: 0x2000 },
      { va: base + 0x2000n, pa: 0x300000n, len: 0x1000 },
    ]);
    expect(() => x.translateRange(base, 0x4000)).toThrow('cannot translate 0xffffea0000003000: PTE entry not present');
    const sparse = x.translateRangeSparse(base + 0x2000n, (2 << 20) + 0x1000);
    expect(sparse[0]).toEqual({ va: base + 0x2000n, pa: 0x300000n, len: 0x1000 });
    expect(sparse[1]!.pa).toBeNull();
    expect(sparse[1]!.len).toBe((2 << 20) - 0x3000);
    expect(sparse[2]).toEqual({ va: base + 0x200000n, pa: 0x400000n, len: 0x3000 });
  });

  it('caches upper-level entries across a range walk', () => {
    const { t, pgd, pud, pmd } = fourLevel();
    const base = 0xffffea0000000000n;
    t.set(pgd, idx(base, 39n), BigInt(pud) | 0x63n);
    t.set(pud, idx(base, 30n), BigInt(pmd) | 0x63n);
    for (let i = 0; i < 8; i++) t.set(pmd, i, BigInt(0x200000 * (i + 1)) | 0xe3n);
    const x = createX86_64Translator({ readPhysU64: t.read, topPgtPhys: BigInt(pgd), l5: false });
    t.reads = 0;
    const pieces = x.translateRange(base, 8 * (2 << 20));
    expect(pieces).toEqual([{ va: base, pa: 0x200000n, len: 8 * (2 << 20) }]);
    expect(t.reads).toBeLessThanOrEqual(2 + 8); // PGD + PUD once, one PMD entry per 2 MiB
  });

  it('builds the kernel translator from VMCOREINFO, deriving phys_base from the kernel-text PT_LOAD', () => {
    const t = new Tables();
    const physBase = 0x1000n;
    const pgd = t.alloc();
    const vi = (extra: string) => parseVmcoreinfo(`SYMBOL(init_top_pgt)=${(START_KERNEL_MAP + BigInt(pgd) - physBase).toString(16)}\n${extra}`);
    const a = kernelTranslatorFromVmcoreinfo(vi(`NUMBER(phys_base)=${physBase}\nNUMBER(pgtable_l5_enabled)=1\n`), t.read);
    expect(a.translator.topPgtPhys).toBe(BigInt(pgd));
    expect(a.translator.l5).toBe(true);
    expect(a.physBaseSource).toBe('NUMBER(phys_base)');
    const b = kernelTranslatorFromVmcoreinfo(vi(''), t.read, {
      kernelText: { vaddr: START_KERNEL_MAP + 0x1000000n, paddr: 0x1000000n + physBase },
    });
    expect(b.physBase).toBe(physBase);
    expect(b.physBaseSource).toBe('kernel-text PT_LOAD');
    expect(b.translator.topPgtPhys).toBe(BigInt(pgd));
    expect(b.translator.l5).toBe(false);
    expect(() => kernelTranslatorFromVmcoreinfo(parseVmcoreinfo('PAGESIZE=4096\n'), t.read)).toThrow(/init_top_pgt/);
    const c = kernelTranslatorFromVmcoreinfo(
      parseVmcoreinfo(`SYMBOL(swapper_pg_dir)=${(START_KERNEL_MAP + BigInt(pgd)).toString(16)}\n`),
      t.read,
    );
    expect(c.topSymbol).toBe('SYMBOL(swapper_pg_dir)');
    expect(c.physBaseSource).toBe('assumed 0');
  });
});
