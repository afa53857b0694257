/**
 * Debian's arm64 6.12 kernels under qemu-system-aarch64 -M virt -cpu max (scripts/real/build.mjs):
 * 4K pages with FEAT_LPA2 (52-bit VAs, five levels), 16K pages (52-bit, four levels), and the 4K
 * kernel on a CPU without LPA2 (48-bit VAs while VMCOREINFO still says VA_BITS=52, and a
 * PHYS_OFFSET that is not the start of RAM). Debian's makedumpfile and crash are x86_64 builds, so
 * the peers here are the cross-architecture ones: libkdumpfile (its addrxlat walks arm64 page
 * tables; it reads every page back) and drgn with the -dbg package's vmlinux (struct zone and the
 * free lists from DWARF; it reads through libkdumpfile, see py/arm64.py).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openDump } from '../../src/formats/probe.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { KernelMemory } from '../../src/memory/kernel.js';
import { excludedClasses } from '../../src/filter/dumplevel.js';
import { CLASS_NAMES, PageClass } from '../../src/filter/classes.js';
import { PYTHON, requirePeer } from '../helpers/peers.js';
import { ARM64_IDS, inDump, realSuite } from './dumps.js';
import { bit, classify } from './compare.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const PY = path.resolve('test/real/py/arm64.py');
const { dir, manifest } = realSuite({ peers: ['kdumpfile', 'drgn'], ids: ARM64_IDS, tmp: 'real-arm64-' });

/** What each boot is: page size, TCR_EL1.T1SZ the kernel runs with, table levels. */
const GUESTS: Record<string, { pageSize: number; t1sz: number; levels: number }> = {
  'arm64-6.12': { pageSize: 4096, t1sz: 12, levels: 5 },
  'arm64-6.12-16k': { pageSize: 16384, t1sz: 12, levels: 4 },
  'arm64-6.12-va48': { pageSize: 4096, t1sz: 16, levels: 4 },
};

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 600_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function py<T>(args: string[]): T {
  const r = spawnSync(PYTHON, [PY, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`arm64.py ${args[0]}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Check {
  page_size: number;
  arch: string;
  format: string;
  max_pfn: number;
  dumpable: number;
  identical: number;
  mismatches: number[];
  unreadable: unknown[];
  bitmap: Uint8Array;
}

/** libkdumpfile's reading of `dump`: its page set, and every page in it compared with the ELF. */
function check(dump: string, elf: string): Check {
  const bm = path.join(dir, `${path.basename(dump)}.bitmap`);
  const res = py<Omit<Check, 'bitmap'>>(['check', dump, elf, bm]);
  const bitmap = new Uint8Array(fs.readFileSync(bm));
  fs.rmSync(bm);
  return { ...res, bitmap };
}

function vmcoreinfoOf(file: string): Vmcoreinfo {
  const r = openDump(file);
  try {
    return parseVmcoreinfo(r.vmcoreinfoText!);
  } finally {
    r.close?.();
  }
}

/**
 * Kernel VAs to translate: every SYMBOL() but vmemmap (the array's base, pfn 0, below RAM: not
 * mapped), and mem_map and linear-map addresses of 64 pfns across RAM. */
function probeAddresses(vi: Vmcoreinfo, startPfn: number, pages: number): bigint[] {
  const shift = BigInt(Math.log2(Number(vi.raw('PAGESIZE'))));
  const u64 = (k: string) => BigInt.asUintN(64, BigInt(vi.raw(k)!));
  const memstart = BigInt.asIntN(64, u64('NUMBER(PHYS_OFFSET)'));
  const sizeofPage = BigInt(vi.raw('SIZE(page)')!);
  // arch/arm64: vmemmap = (struct page *)VMEMMAP_START - (memstart_addr >> PAGE_SHIFT); the linear
  // map is (pa - PHYS_OFFSET) | PAGE_OFFSET, PAGE_OFFSET = -(1 << VA_BITS) (the configured VA_BITS).
  const pageOffset = BigInt.asUintN(64, -(1n << BigInt(vi.raw('NUMBER(VA_BITS)')!)));
  const vas: bigint[] = [];
  for (const line of vi.text.split('\n')) {
    const m = /^SYMBOL\((\w+)\)=([0-9a-f]+)$/.exec(line);
    if (m && m[1] !== 'vmemmap') vas.push(BigInt('0x' + m[2]));
  }
  for (let i = 0; i < 64; i++) {
    const pfn = BigInt(startPfn + Math.floor((i * (pages - 1)) / 63));
    vas.push(BigInt.asUintN(64, u64('NUMBER(VMEMMAP_START)') + (pfn - (memstart >> shift)) * sizeofPage));
    vas.push(BigInt.asUintN(64, (pfn << shift) - memstart) | pageOffset);
  }
  return vas;
}

/** Start and length in pages of the (single) PT_LOAD of QEMU's arm64 ELF, and a page reader. */
function elfRam(file: string, pageSize: number): { startPfn: number; pages: number; isZero: (pfn: number) => boolean } {
  const fd = fs.openSync(file, 'r');
  const eh = Buffer.alloc(64);
  fs.readSync(fd, eh, 0, 64, 0);
  const phoff = Number(eh.readBigUInt64LE(32));
  const ph = Buffer.alloc(56);
  for (let i = 0; i < eh.readUInt16LE(56); i++) {
    fs.readSync(fd, ph, 0, 56, phoff + 56 * i);
    if (ph.readUInt32LE(0) !== 1) continue;
    const off = Number(ph.readBigUInt64LE(8));
    const pa = Number(ph.readBigUInt64LE(24));
    const buf = Buffer.alloc(pageSize);
    return {
      startPfn: pa / pageSize,
      pages: Number(ph.readBigUInt64LE(32)) / pageSize,
      isZero: (pfn) => {
        fs.readSync(fd, buf, 0, pageSize, off + (pfn * pageSize - pa));
        return buf.every((b) => b === 0);
      },
    };
  }
  throw new Error(`${file}: no PT_LOAD`);
}

describe("Debian's makedumpfile and crash (x86_64 builds) on an arm64 dump", () => {
  const m = () => manifest('arm64-6.12');

  it('makedumpfile 1.7.2 walks x86_64 page tables and fails', () => {
    if (!m()) return;
    // Its ELF reader stops earlier (at QEMU's PN_XNUM program headers), so it reads the same
    // memory as a kdump file: QEMU's kdump-zlib, reassembled.
    const kd = path.join(dir, 'qemu.kdump');
    const re = cli(['reassemble', '-f', inDump(m()!, m()!.dumps.files.kdumpZlib), kd]);
    expect(re.status, re.stderr).toBe(0);
    const r = spawnSync('/usr/bin/makedumpfile', ['-d', '31', kd, path.join(dir, 'mdf.out')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain("vtop4_x86_64: Can't get the symbol of init_level4_pgt/init_top_pgt.");
    fs.rmSync(kd);
  });

  it('crash refuses the vmlinux and the dump: machine type mismatch', () => {
    if (!m()) return;
    if (!requirePeer('crash')) return;
    const r = spawnSync('/usr/bin/crash', ['-s', m()!.debugVmlinux!, inDump(m()!, m()!.dumps.files.elf)], { encoding: 'utf8', input: '', timeout: 120_000 });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/machine type mismatch:\s+crash utility: X86_64\s+\S+vmlinux-6\.12\.118\+deb12-arm64: ARM64/);
  });
});

describe.each(ARM64_IDS)('real %s kernel (arm64)', (id) => {
  const m = () => manifest(id);
  const g = GUESTS[id]!;
  const elf = () => inDump(m()!, m()!.dumps.files.elf);

  it('QEMU wrote an aarch64 ELF with VMCOREINFO, and a kdump-zlib in 64 KiB blocks whatever the page size', () => {
    if (!m()) return;
    const vi = vmcoreinfoOf(elf());
    expect(Number(vi.raw('PAGESIZE'))).toBe(g.pageSize);
    expect(Number(vi.raw('NUMBER(TCR_EL1_T1SZ)'))).toBe(g.t1sz);
    expect(vi.raw('NUMBER(VA_BITS)')).toBe('52');
    expect(vi.raw('OSRELEASE')).toBe(m()!.kernel.kver);
    const c = check(elf(), elf());
    expect([c.arch, c.page_size]).toEqual(['aarch64', g.pageSize]);
    // QEMU 7.2's arm64 kdump writer takes 64K, the largest arm64 page, as block_size
    // (target/arm/arch_dump.c); the flattened header's first record is the disk_dump_header.
    const hdr = Buffer.alloc(512);
    const fd = fs.openSync(inDump(m()!, m()!.dumps.files.kdumpZlib), 'r');
    fs.readSync(fd, hdr, 0, 512, 4096 + 16);
    fs.closeSync(fd);
    expect(hdr.subarray(0, 8).toString()).toBe('KDUMP   ');
    expect(hdr.readInt32LE(408 + 16 + 4)).toBe(65536);
  });

  it('info: aarch64, the page size, every class decidable', () => {
    if (!m()) return;
    const r = cli(['info', '--json', elf()]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kernel.release).toBe(m()!.kernel.kver);
    expect(j.kernel.machine).toBe('aarch64');
    expect(j.pageSize).toBe(g.pageSize);
    expect(j.vmcoreinfo.source).toBe('dump');
    for (const [cls, d] of Object.entries(j.classes ?? {})) expect((d as { decidable: boolean }).decidable, cls).toBe(true);
    expect(r.stdout).not.toMatch(/not a kernel-image address|is not x86_64/);
  });

  it("translation: ours equals libkdumpfile's addrxlat on kernel-image, linear-map and mem_map addresses", () => {
    if (!m()) return;
    const r = openDump(elf());
    try {
      const vi = parseVmcoreinfo(r.vmcoreinfoText!);
      const ram = elfRam(elf(), g.pageSize);
      const vas = probeAddresses(vi, ram.startPfn, ram.pages);
      const theirs = py<{ fields: number[]; xlat: [string, string | null, string | null][] }>(['xlat', elf(), ...vas.map((v) => v.toString(16))]);
      expect(theirs.fields.length - 1).toBe(g.levels);
      const km = new KernelMemory(r, vi);
      for (const [va, pa, err] of theirs.xlat) {
        expect(err, va).toBeNull();
        const ours = km.translator.tryTranslate(BigInt('0x' + va));
        expect(ours === undefined ? null : '0x' + ours.toString(16), va).toBe(pa);
      }
      expect(theirs.xlat.length).toBeGreaterThan(128);
      // And an address below the vmemmap of RAM: unmapped to both.
      const base = vi.symbol('vmemmap')!;
      const t = py<{ xlat: [string, string | null, string | null][] }>(['xlat', elf(), base.toString(16)]).xlat[0]!;
      expect(t[1]).toBeNull();
      expect(km.translator.tryTranslate(base)).toBeUndefined();
    } finally {
      r.close?.();
    }
  });

  it("free pages: ours are exactly the blocks on drgn's free lists, and nr_free sums to them; drgn's huge pages are user data", () => {
    if (!m()) return;
    const d = py<{
      zones: { nr_free: number[] }[];
      blocks: [number, number, number, number][];
      hugetlb: { order: number; free: number[]; active: number[] };
      reads: [string, string, string][];
    }>(['free', elf(), m()!.debugVmlinux!]);
    const nrFree = d.zones.reduce((s, z) => s + z.nr_free.reduce((t, n, order) => t + n * 2 ** order, 0), 0);
    const onLists = new Set<number>();
    for (const [pfn, order, , misalign] of d.blocks) {
      expect(misalign).toBe(0);
      for (let p = pfn; p < pfn + 2 ** order; p++) onLists.add(p);
    }
    expect(onLists.size).toBe(nrFree);
    const cls = classify(elf(), 31);
    let ours = 0;
    let hinted = 0;
    for (let p = 0; p < cls.maxMapnr; p++) {
      const c = cls.classOf[p]!;
      const free = c === PageClass.free || c === PageClass.hinted;
      if (free) ours++;
      if (c === PageClass.hinted) hinted++;
      if (free !== onLists.has(p)) expect.fail(`pfn ${p}: ours ${CLASS_NAMES[c]}, ${onLists.has(p) ? '' : 'not '}on a free list`);
    }
    expect(ours).toBe(nrFree);
    // Free page reporting reported part of what the workload freed (at least pageblock order).
    expect(hinted).toBeGreaterThan(0);
    // Every huge page on the hstate's lists is user data to us (excluded with -d 8): the pool's
    // free ones hugetlb, the ones in use (mapped by the workload) user.
    const n = 2 ** d.hugetlb.order;
    expect(d.hugetlb.active.length).toBeGreaterThan(0);
    expect(d.hugetlb.free.length).toBeGreaterThan(0);
    for (const [list, want] of [[d.hugetlb.free, 'hugetlb'], [d.hugetlb.active, 'user']] as const) {
      for (const head of list) {
        for (let p = head; p < head + n; p++) if (CLASS_NAMES[cls.classOf[p]!] !== want) expect.fail(`pfn ${p} of the huge page at ${head}: ours ${CLASS_NAMES[cls.classOf[p]!]}, not ${want}`);
      }
    }
    // drgn's reads at DWARF-located addresses equal ours.
    const r = openDump(elf());
    try {
      const km = new KernelMemory(r, parseVmcoreinfo(r.vmcoreinfoText!));
      for (const [name, va, hex] of d.reads) expect(Buffer.from(km.readVirt(BigInt(va), hex.length / 2)).toString('hex'), name).toBe(hex);
    } finally {
      r.close?.();
    }
  });

  it.each([0, 1, 16, 31])('-d %i into kdump and ELF: libkdumpfile reads our page set, every page identical to the input', (level) => {
    if (!m()) return;
    const cls = classify(elf(), level);
    const excluded = excludedClasses(level);
    const ram = elfRam(elf(), g.pageSize);
    for (const fmt of ['kdump', 'elf'] as const) {
      const out = path.join(dir, `${id}-d${level}.${fmt}`);
      const r = cli(['-d', String(level), '-f', '--json', ...(fmt === 'elf' ? ['-E'] : []), elf(), out]);
      expect(r.status, r.stderr).toBe(0);
      const rep = JSON.parse(r.stdout);
      const c = check(out, elf());
      expect(c.page_size).toBe(g.pageSize);
      expect(c.unreadable).toEqual([]);
      expect(c.mismatches).toEqual([]);
      expect(c.identical).toBe(c.dumpable);
      // kdump output keeps zero pages in its bitmap, all pointing at one stored zero page
      // (src/writer/zero.ts); ELF output leaves them out.
      expect(c.dumpable).toBe(rep.pages.remaining + (fmt === 'kdump' ? rep.excluded.zero : 0));
      // The page set is what our classes say at this level: a present page is kept unless its
      // class is excluded, or (with -d 1) it is all zeros in the input.
      for (let p = ram.startPfn; p < ram.startPfn + ram.pages; p++) {
        const name = CLASS_NAMES[cls.classOf[p]!]!;
        const kept = bit(c.bitmap, p) === 1;
        if (excluded.has(name)) expect(kept, `pfn ${p} (${name})`).toBe(false);
        else if (!kept && !((level & 1) && ram.isZero(p))) expect.fail(`pfn ${p} (${name}) dropped at -d ${level}`);
      }
      fs.rmSync(out);
    }
  });

  it.each(['-c', '-l', '-p', '-z'])('-d 31 %s: libkdumpfile reads the same page set, identical pages', (codec) => {
    if (!m()) return;
    const plain = path.join(dir, `${id}-plain.kdump`);
    const out = path.join(dir, `${id}${codec}.kdump`);
    expect(cli(['-d', '31', '-f', elf(), plain]).status).toBe(0);
    const r = cli(['-d', '31', '-f', codec, elf(), out]);
    expect(r.status, r.stderr).toBe(0);
    const a = check(plain, elf());
    const b = check(out, elf());
    expect(b.mismatches).toEqual([]);
    expect(b.unreadable).toEqual([]);
    expect(b.identical).toBe(a.dumpable);
    expect(Buffer.from(b.bitmap).equals(Buffer.from(a.bitmap))).toBe(true);
    fs.rmSync(plain);
    fs.rmSync(out);
  });

  it("QEMU's kdump-zlib (64 KiB blocks) as input: read in the kernel's pages, the same classes as the ELF, and refiltered page for page", () => {
    if (!m()) return;
    const kd = inDump(m()!, m()!.dumps.files.kdumpZlib);
    const info = JSON.parse(cli(['info', '--json', kd]).stdout);
    expect([info.pageSize, info.kdump.blockSize]).toEqual([g.pageSize, 65536]);
    const a = JSON.parse(cli(['stats', '--json', '-d', '31', elf()]).stdout);
    const r = cli(['stats', '--json', '-d', '31', kd]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).classes).toEqual(a.classes);
    const out = path.join(dir, `${id}-from-qemu.kdump`);
    const f = cli(['-d', '31', '-f', '--json', kd, out]);
    expect(f.status, f.stderr).toBe(0);
    const rep = JSON.parse(f.stdout);
    const c = check(out, elf());
    // libkdumpfile 0.5.1 takes no utsname from a header with empty fields (QEMU fills only
    // machine), so it names no architecture here; the pages it reads are what matter.
    expect([c.page_size, c.mismatches, c.unreadable]).toEqual([g.pageSize, [], []]);
    expect(c.identical).toBe(rep.pages.remaining + rep.excluded.zero);
    fs.rmSync(out);
  });

  it('stats, dmesg and map work; dmesg holds what the guest printed on its serial console', () => {
    if (!m()) return;
    const s = cli(['stats', '--json', elf()]);
    expect(s.status, s.stderr).toBe(0);
    const st = JSON.parse(s.stdout);
    expect(st.classes.user).toBeGreaterThan(0);
    expect(st.classes.cache).toBeGreaterThan(0);
    expect(st.classes.offline * g.pageSize).toBe(m()!.guest.balloonMiB << 20);
    const dm = cli(['dmesg', elf()]);
    expect(dm.status, dm.stderr).toBe(0);
    const serial = fs.readFileSync(inDump(m()!, m()!.dumps.files.serial), 'utf8');
    // A kernel line of the serial log, without its timestamp: the printk ring holds it too.
    const line = /\] (Memory: \d+K\/\d+K available .*)\r?\n/.exec(serial)![1]!;
    expect(dm.stdout).toContain(line);
    expect(dm.stdout).toContain(`Linux version ${m()!.kernel.kver}`);
    const svg = path.join(dir, `${id}.svg`);
    const mp = cli(['map', elf(), '-o', svg, '-f', '--json']);
    expect(mp.status, mp.stderr).toBe(0);
    expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<svg|^<\?xml/);
    fs.rmSync(svg);
  });
});
