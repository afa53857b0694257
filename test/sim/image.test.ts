import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EHDR_SIZE, PHDR_SIZE, PT_LOAD, PT_NOTE, decodeEhdr, decodeNotes, decodePhdr, type Elf64Phdr } from '../../src/formats/elf/layout.js';
import { decodeStructPage } from '../../src/mm/layout.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { CLASSES, buildMachine, simulate, truthClassArray, truthPfnClass, type SimOptions } from '../../src/sim/index.js';
import { KIND, zoneIndex } from '../../src/sim/machine.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-img-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Physical memory of an ELF vmcore (first PT_LOAD containing the address wins). */
class Phys {
  constructor(
    readonly fd: number,
    readonly loads: Elf64Phdr[],
  ) {}
  read(pa: number, len: number): Buffer {
    const s = this.loads.find((l) => Number(l.paddr) <= pa && pa + len <= Number(l.paddr) + l.filesz);
    if (!s) throw new Error(`physical 0x${pa.toString(16)} not in the image`);
    const b = Buffer.alloc(len);
    fs.readSync(this.fd, b, 0, len, s.offset + (pa - Number(s.paddr)));
    return b;
  }
  u64(pa: number): bigint {
    return this.read(pa, 8).readBigUInt64LE(0);
  }
}

/** An independent x86_64 page-table walk (FORMATS.md §5.5). */
function vtop(ph: Phys, vi: Vmcoreinfo, va: bigint): number {
  const mask = 0x000ffffffffff000n;
  const top = vi.symbol('init_top_pgt')! - 0xffffffff80000000n + vi.number('phys_base')!;
  const shifts = vi.number('pgtable_l5_enabled') === 1n ? [48, 39, 30, 21, 12] : [39, 30, 21, 12];
  let table = top;
  for (const sh of shifts) {
    const e = ph.u64(Number(table + ((va >> BigInt(sh)) & 511n) * 8n));
    if (!(e & 1n)) throw new Error(`not present at level ${sh} for 0x${va.toString(16)}`);
    if (sh === 12 || (sh <= 30 && e & 0x80n)) {
      const m = (1n << BigInt(sh)) - 1n;
      return Number((e & mask & ~m) + (va & m));
    }
    table = e & mask;
  }
  throw new Error('unreachable');
}

function openImage(p: string) {
  const fd = fs.openSync(p, 'r');
  const head = Buffer.alloc(4096);
  fs.readSync(fd, head, 0, 4096, 0);
  const eh = decodeEhdr(head);
  const phdrs = Array.from({ length: eh.phnum }, (_, i) => decodePhdr(head, EHDR_SIZE + i * PHDR_SIZE, EHDR_SIZE + i * PHDR_SIZE));
  const note = phdrs[0]!;
  const seg = Buffer.alloc(note.filesz);
  fs.readSync(fd, seg, 0, note.filesz, note.offset);
  const notes = decodeNotes(seg, note.offset);
  return { fd, eh, phdrs, notes };
}

const CASES: Array<Partial<SimOptions>> = [
  { seed: 5, memBytes: 256 << 20 },
  { seed: 6, memBytes: 192 << 20, l5: true, kaslr: true, hintedStyle: 'pg-reported', cpus: 3 },
  { seed: 8, memBytes: 64 << 20, freeContent: 'zero', cpus: 1 },
];

describe.each(CASES)('image %o', (o) => {
  it('is a /proc/vmcore-shaped ELF whose contents match the machine', async () => {
    const out = path.join(dir, `img-${o.seed}`);
    const { truth } = await simulate(out, o);
    const m = buildMachine({ ...(o as SimOptions) });
    const { fd, eh, phdrs, notes } = openImage(out);
    try {
      expect(eh.type).toBe(4);
      expect(eh.machine).toBe(62);
      expect(phdrs[0]!.type).toBe(PT_NOTE);
      expect(phdrs[0]!.offset % 4096).toBe(0);
      expect(phdrs.slice(1).every((p) => p.type === PT_LOAD)).toBe(true);
      // kernel-text PT_LOAD first, then RAM PT_LOADs at PAGE_OFFSET + paddr
      const text = phdrs[1]!;
      expect(text.vaddr).toBe(BigInt(truth.layout.text));
      const ram = phdrs.slice(2);
      for (const p of ram) expect(p.vaddr - p.paddr).toBe(BigInt(truth.layout.pageOffset));
      expect(ram.map((p) => [Number(p.paddr), Number(p.paddr) + p.memsz])).toEqual(truth.layout.loads.map((r) => [r.start, r.end]));
      expect(phdrs[1]!.offset).toBe(phdrs[0]!.offset + Math.ceil(phdrs[0]!.filesz / 4096) * 4096);

      const cpuNotes = notes.filter((n) => n.name === 'CORE' && n.type === 1);
      expect(cpuNotes.length).toBe(o.cpus ?? 2);
      expect(cpuNotes.every((n) => n.desc.length === 336)).toBe(true);
      const vin = notes.at(-1)!;
      expect(vin.name).toBe('VMCOREINFO');
      expect(vin.type).toBe(0);
      const vi = parseVmcoreinfo(vin.desc.toString('latin1'));
      expect(vi.keys[0]).toBe('OSRELEASE');
      expect(vi.keys.at(-1)).toBe('CRASHTIME');
      expect(vi.number('phys_base')).toBe(BigInt(truth.layout.physBase));
      expect(vi.number('pgtable_l5_enabled')).toBe(o.l5 ? 1n : 0n);
      expect(vi.number('MAX_PHYSMEM_BITS')).toBe(o.l5 ? 52n : 46n);
      expect(vi.length('mem_section')).toBe(2 ** ((o.l5 ? 52 : 46) - 27) / 256);
      expect(vi.symbol('swapper_pg_dir')).toBe(vi.symbol('init_top_pgt'));
      expect(vi.kernelOffset).toBe(BigInt(truth.layout.kernelOffset));
      for (const line of vi.text.split('\n')) expect(line.length).toBeLessThan(80);

      const ph = new Phys(fd, ram);
      // translation: direct map, kernel image, vmemmap (2 MiB and 4 KiB mappings)
      const po = BigInt(truth.layout.pageOffset);
      for (const r of truth.layout.loads) expect(vtop(ph, vi, po + BigInt(r.start) + 0x1234n)).toBe(r.start + 0x1234);
      expect(vtop(ph, vi, vi.symbol('_stext')!)).toBe(truth.layout.kernelPhys);
      const uts = ph.read(vtop(ph, vi, vi.symbol('init_uts_ns')!), 390);
      expect(uts.toString('latin1', 0, 5)).toBe('Linux');
      expect(uts.toString('latin1', 130, 130 + 10)).toBe(vi.osrelease!.slice(0, 10));

      // mem_section → mem_map for every present section, struct pages agree with the machine
      const root = vi.symbol('mem_section')!;
      const vmemmap = BigInt(truth.layout.vmemmap);
      for (const s of m.layout.presentSections) {
        const rootEntry = ph.u64(vtop(ph, vi, root + BigInt(Math.floor(s / 256) * 8)));
        expect(rootEntry).not.toBe(0n);
        const smm = ph.u64(vtop(ph, vi, rootEntry + BigInt((s % 256) * 16)));
        expect(smm & 0x1fn).toBe(0xfn);
        const memMap = (smm & ~0x1fn) + BigInt(s * 32768 * 64);
        expect(memMap).toBe(vmemmap + BigInt(s * 32768 * 64));
        // sample struct pages across the section
        for (let i = 0; i < 32768; i += 997) {
          const pfn = s * 32768 + i;
          const spa = vtop(ph, vi, memMap + BigInt(i * 64));
          const sp = decodeStructPage(new DataView(ph.read(spa, 64).buffer), 0, m.profile.layout);
          const k = m.kind.get(pfn);
          if (k === KIND.FREE && m.buddy.freeOrder.get(pfn) >= 0) {
            expect([0xffffff7f, 0xfffffe7f]).toContain(sp.mapcount);
            expect(sp.private).toBe(BigInt(m.buddy.freeOrder.get(pfn)));
          }
          if (k === KIND.BALLOON || k === KIND.VIRTIO_MEM) expect(sp.mapcount).toBe(0xfffffeff);
          if (k === KIND.ANON) expect(sp.mapping & 1n).toBe(1n);
          if (k === KIND.RESERVED) expect(sp.flags & (1n << 12n)).toBe(1n << 12n);
          expect(Number((sp.flags >> 52n) & 3n)).toBe(zoneIndex(m, pfn));
        }
      }

      // free lists: walk node_data[0] → zones → free_area lists through the image
      const pgdat = ph.u64(vtop(ph, vi, vi.symbol('node_data')!));
      let walked = 0;
      let vmStat = 0n;
      for (let z = 0; z < 4; z++) {
        const zone = pgdat + BigInt(z * vi.size('zone')!);
        vmStat += ph.u64(vtop(ph, vi, zone + BigInt(vi.offset('zone.vm_stat')!)));
        for (let order = 0; order < 11; order++) {
          const fa = zone + BigInt(vi.offset('zone.free_area')! + order * vi.size('free_area')!);
          let nr = 0;
          for (let mt = 0; mt < 6; mt++) {
            const head = fa + BigInt(mt * 16);
            let prev = head;
            let e = ph.u64(vtop(ph, vi, head));
            while (e !== head) {
              expect(ph.u64(vtop(ph, vi, e + 8n))).toBe(prev);
              const pfn = Number((e - 8n - vmemmap) / 64n);
              expect(m.buddy.freeOrder.get(pfn)).toBe(order);
              nr++;
              walked += 1 << order;
              prev = e;
              e = ph.u64(vtop(ph, vi, e));
            }
          }
          expect(ph.u64(vtop(ph, vi, fa + 96n))).toBe(BigInt(nr));
        }
      }
      expect(BigInt(walked)).toBe(vmStat);
      expect(walked).toBe(truth.counts.free + truth.counts.hinted);

      // page contents: every non-zero ordinary page starts with its pfn; classes with zero content are zero
      const zeroClasses = new Set(CLASSES.filter((c) => truth.zeroContent[c]));
      const clsArr = truthClassArray(truth);
      for (let pfn = 0; pfn < clsArr.length; pfn += 101) expect(truthPfnClass(truth, pfn)).toBe(CLASSES[clsArr[pfn]!]);
      const zeroPage = Buffer.alloc(4096);
      let checked = 0;
      const bad: string[] = [];
      for (const r of truth.layout.loads) {
        const buf = Buffer.alloc(r.end - r.start);
        const seg = ram.find((p) => Number(p.paddr) === r.start)!;
        fs.readSync(fd, buf, 0, buf.length, seg.offset);
        for (let off = 0; off < buf.length; off += 4096) {
          const pfn = (r.start + off) / 4096;
          const page = buf.subarray(off, off + 4096);
          const cls = CLASSES[clsArr[pfn]!]!;
          const zero = page.equals(zeroPage);
          if (zeroClasses.has(cls) !== zero) bad.push(`pfn ${pfn} (${cls}) is ${zero ? '' : 'not '}zero`);
          const special = m.structural.has(pfn) || m.backingSection.has(pfn >>> 9);
          if (!zero && !special) {
            if (page.readUInt32LE(0) + page.readUInt32LE(4) * 2 ** 32 !== pfn) bad.push(`pfn ${pfn} lacks its stamp`);
            checked++;
          }
        }
      }
      expect(bad.slice(0, 10)).toEqual([]);
      expect(checked).toBeGreaterThan(1000);
      // the kernel text PT_LOAD carries the same bytes as RAM
      const tb = Buffer.alloc(1 << 20);
      fs.readSync(fd, tb, 0, tb.length, text.offset + (4 << 20));
      expect(tb.equals(ph.read(Number(text.paddr) + (4 << 20), 1 << 20))).toBe(true);

      // truth: every pfn below max_mapnr in exactly one class
      const sum = CLASSES.reduce((a, c) => a + truth.counts[c], 0);
      expect(sum).toBe(truth.layout.maxMapnr);
      const loadPages = truth.layout.loads.reduce((a, r) => a + (r.end - r.start) / 4096, 0);
      expect(truth.counts.hole).toBe(truth.layout.maxMapnr - loadPages);
      for (const c of ['free', 'hinted', 'offline', 'hwpoison', 'zero', 'cache', 'cache_private', 'user', 'slab', 'kernel'] as const) {
        expect(truth.counts[c], c).toBeGreaterThan(0);
      }
    } finally {
      fs.closeSync(fd);
    }
  });
});
