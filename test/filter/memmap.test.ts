import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { KernelMemory } from '../../src/memory/kernel.js';
import { locateMemMap } from '../../src/mm/memmap.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { decodeStructPage } from '../../src/mm/layout.js';
import { Synth } from './synth.js';

class CountingSource extends BufferSource {
  reads = 0;
  override readSome(pos: number, len: number, buf: Uint8Array, bufOff = 0): number {
    this.reads++;
    return super.readSome(pos, len, buf, bufOff);
  }
}

function open(s: Synth) {
  const src = new CountingSource(s.elf());
  const r = openElfDump(src);
  const vi = parseVmcoreinfo(r.vmcoreinfoText!);
  const mem = new KernelMemory(r, vi);
  return { src, r, vi, mem, mm: locateMemMap(mem, vi, r.maxMapnr) };
}

describe('mem_map', () => {
  it('locates SPARSEMEM_EXTREME sections on vmemmap', () => {
    const s = new Synth({ sectionSizeBits: 22 });
    const { mm } = open(s);
    expect(mm.model).toBe('sparsemem-extreme');
    expect(mm.pagesPerSection).toBe(1024);
    expect(mm.sections.map((x) => x.nr)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(mm.sections[3]!.memMap).toBe(s.structPageVa(3072));
    expect(mm.pfnOfStructPage(s.structPageVa(5000))).toBe(5000);
    expect(mm.pfnOfStructPage(s.structPageVa(5000) + 8n)).toBeUndefined();
    expect(mm.unusable).toEqual([]);
  });

  it('reads a whole section of struct pages in one physical read (2 MiB-mapped vmemmap)', () => {
    const s = new Synth({ sectionSizeBits: 27 - 2, memBytes: 64 << 20 }); // 8192-pfn sections, 512 KiB of struct pages
    s.anon(8200);
    const { src, mm } = open(s);
    src.reads = 0;
    const b = mm.readStructPages(8192, 8192);
    expect(src.reads).toBe(1);
    expect(b.reads).toBe(1);
    expect(b.unreadable).toEqual([]);
    const p = decodeStructPage(b.view, 8 * 64, s.profile.layout);
    expect(p.mapping & 1n).toBe(1n);
  });

  it('reads discontiguous 4 KiB-mapped struct pages piece by piece', () => {
    const s = new Synth({ vmemmap4k: true, sectionSizeBits: 22 });
    s.anon(1030);
    const { mm } = open(s);
    const b = mm.readStructPages(1024, 1024);
    expect(b.unreadable).toEqual([]);
    expect(b.reads).toBeGreaterThan(1);
    expect(decodeStructPage(b.view, 6 * 64, s.profile.layout).mapcount).toBe(0);
    expect(decodeStructPage(b.view, 7 * 64, s.profile.layout).mapcount).toBe(0xffffffff);
  });

  it('retries with the symbol as a pointer to the root array', () => {
    const s = new Synth();
    // Point SYMBOL(mem_section) at a variable holding the root array address (vmlinux semantics).
    const ptrPa = s.allocKernel();
    s.setU64(ptrPa, s.symbols.get('mem_section')!);
    s.symbols.set('mem_section', s.kva(ptrPa));
    const { mm } = open(s);
    expect(mm.sections.length).toBe(8);
  });

  it('masks section flag bits including a 6th one', () => {
    const s = new Synth();
    s.setU64(s.sectionEntryPa(1), s.vmemmap | 0x3fn);
    const { mm } = open(s);
    expect(mm.sections[1]!.memMap).toBe(s.structPageVa(1024));
  });

  it('falls back to FLATMEM with SYMBOL(mem_map)', () => {
    const s = new Synth();
    const ptrPa = s.allocKernel();
    s.setU64(ptrPa, s.vmemmap);
    for (const k of ['SYMBOL(mem_section)', 'SIZE(mem_section)', 'OFFSET(mem_section.section_mem_map)', 'LENGTH(mem_section)']) s.omitKeys.add(k);
    s.extraLines.push(`SYMBOL(mem_map)=${s.kva(ptrPa).toString(16)}`);
    const { mm } = open(s);
    expect(mm.model).toBe('flatmem');
    expect(mm.pfnOfStructPage(s.structPageVa(4321))).toBe(4321);
  });

  it('refuses to guess without any memory-model keys', () => {
    const s = new Synth();
    s.omitKeys.add('SYMBOL(mem_section)');
    const src = new BufferSource(s.elf());
    const r = openElfDump(src);
    const vi = parseVmcoreinfo(r.vmcoreinfoText!);
    expect(() => locateMemMap(new KernelMemory(r, vi), vi, r.maxMapnr)).toThrow(/SYMBOL\(mem_section\)/);
  });
});
