/**
 * A tiny synthetic x86_64 machine for unit tests: physical memory in a Buffer, real page
 * tables (4/5-level, 1 GiB / 2 MiB / 4 KiB mappings), mem_section, struct pages encoded with
 * the shared layout, VMCOREINFO text and an in-memory ELF vmcore. It also records the class
 * each pfn should get, so tests compare the classifier with what was built.
 */
import { encodeStructPage, type StructPage } from '../../src/mm/layout.js';
import { LINUX_6_0, type KernelProfile } from '../../src/mm/profiles.js';
import { EHDR_SIZE, PHDR_SIZE, PT_LOAD, PT_NOTE, encodeEhdr, encodeNote, encodePhdr, vmcoreEhdr, type Elf64Phdr } from '../../src/formats/elf/layout.js';
import type { PageClassName } from '../../src/filter/classes.js';

export const START_KERNEL_MAP = 0xffffffff80000000n;
const PAGE = 4096;

export interface SynthOptions {
  l5?: boolean;
  /** Physical memory size (bytes); default 32 MiB. */
  memBytes?: number;
  /** phys_base (kernel image at START_KERNEL_MAP maps to this); default 2 MiB. */
  physBase?: number;
  sectionSizeBits?: number;
  /** Direct-map and vmemmap bases (KASLR-like randomisation when changed). */
  pageOffset?: bigint;
  vmemmap?: bigint;
  /** Map the vmemmap with 4 KiB pages at scattered physical pages instead of 2 MiB. */
  vmemmap4k?: boolean;
  profile?: KernelProfile;
  /** 'extreme' (default), 'plain' (non-extreme SPARSEMEM array). */
  sparse?: 'extreme' | 'plain';
  /** Physical RAM ranges [start, end) in bytes given as PT_LOADs (default: all memory). */
  ram?: [number, number][];
}

export class Synth {
  readonly mem: Buffer;
  readonly l5: boolean;
  readonly physBase: number;
  readonly pageOffset: bigint;
  readonly vmemmap: bigint;
  readonly sectionSizeBits: number;
  readonly profile: KernelProfile;
  readonly maxPfn: number;
  readonly top: number;
  readonly expected: (PageClassName | undefined)[];
  readonly ram: [number, number][];
  /** Symbols (name → va). */
  readonly symbols = new Map<string, bigint>();
  /** Extra VMCOREINFO lines, and keys to drop. */
  extraLines: string[] = [];
  omitKeys = new Set<string>();
  private kernelBump: number;
  private dataBump: number;
  readonly sectionFlags = 0xfn;
  private memSectionRootPa = 0;

  constructor(readonly opts: SynthOptions = {}) {
    this.l5 = opts.l5 ?? false;
    this.profile = opts.profile ?? LINUX_6_0;
    const memBytes = opts.memBytes ?? 32 << 20;
    this.mem = Buffer.alloc(memBytes);
    this.maxPfn = memBytes / PAGE;
    this.physBase = opts.physBase ?? 2 << 20;
    this.pageOffset = opts.pageOffset ?? (this.l5 ? 0xff11000000000000n : 0xffff888000000000n);
    this.vmemmap = opts.vmemmap ?? (this.l5 ? 0xffd4000000000000n : 0xffffea0000000000n);
    this.sectionSizeBits = opts.sectionSizeBits ?? 22;
    this.ram = opts.ram ?? [[0, memBytes]];
    this.expected = new Array(this.maxPfn).fill(undefined);
    for (const [s, e] of this.ram) for (let p = s / PAGE; p < e / PAGE; p++) this.expected[p] = 'kernel';
    // Kernel image: 2 MiB at physBase; page tables and static data are allocated inside it.
    this.kernelBump = this.physBase + 0x100000;
    this.dataBump = this.physBase + (2 << 20);
    this.top = this.allocKernel();
    // Kernel image map (2 MiB page), direct map (1 GiB page), vmemmap.
    this.map(START_KERNEL_MAP, this.physBase, 2 << 20);
    this.map(this.pageOffset, 0, 1 << 30);
    this.symbols.set('init_top_pgt', this.kva(this.top));
    this.buildVmemmap();
    this.buildMemSection(opts.sparse ?? 'extreme');
    this.buildUtsname();
    // Default page state: every struct page is an ordinary kernel page with _mapcount -1.
    for (let pfn = 0; pfn < this.maxPfn; pfn++) this.setPage(pfn, {});
  }

  /** Kernel-image virtual address of physical `pa` (inside the image). */
  kva(pa: number): bigint {
    return START_KERNEL_MAP + BigInt(pa - this.physBase);
  }
  /** Direct-map address of physical `pa`. */
  dva(pa: number): bigint {
    return this.pageOffset + BigInt(pa);
  }
  allocKernel(): number {
    const pa = this.kernelBump;
    this.kernelBump += PAGE;
    if (this.kernelBump > this.physBase + (2 << 20)) throw new Error('kernel image full');
    return pa;
  }
  /** Allocate a data page outside the kernel image (for vmemmap backing etc.). */
  allocData(): number {
    const pa = this.dataBump;
    this.dataBump += PAGE;
    return pa;
  }
  u64(pa: number): bigint {
    return this.mem.readBigUInt64LE(pa);
  }
  setU64(pa: number, v: bigint): void {
    this.mem.writeBigUInt64LE(BigInt.asUintN(64, v), pa);
  }

  /** Map [va, va+size) → [pa, …) with pages of `size` (4 KiB, 2 MiB, 1 GiB) or 4 KiB pieces. */
  map(va: bigint, pa: number, size: number, pageSize = size >= 1 << 30 ? 1 << 30 : size >= 2 << 20 ? 2 << 20 : PAGE): void {
    for (let off = 0; off < size; off += pageSize) this.mapOne(va + BigInt(off), pa + off, pageSize);
  }
  mapOne(va: bigint, pa: number, pageSize: number): void {
    const levels = this.l5 ? [48n, 39n, 30n, 21n, 12n] : [39n, 30n, 21n, 12n];
    let table = this.top;
    for (const shift of levels) {
      const idx = Number((va >> shift) & 511n);
      const ea = table + idx * 8;
      const leaf = (shift === 30n && pageSize === 1 << 30) || (shift === 21n && pageSize === 2 << 20) || shift === 12n;
      if (leaf) {
        this.setU64(ea, BigInt(pa) | (shift === 12n ? 0x63n : 0xe3n));
        return;
      }
      let e = this.u64(ea);
      if ((e & 1n) === 0n) {
        const t = this.allocKernel();
        e = BigInt(t) | 0x63n;
        this.setU64(ea, e);
      }
      table = Number(e & 0x000ffffffffff000n);
    }
  }
  /** Clear the entry at `level` ('PGD'…'PTE') for `va`. */
  unmap(va: bigint, level: 'PUD' | 'PMD' | 'PTE'): void {
    const levels = this.l5 ? [48n, 39n, 30n, 21n, 12n] : [39n, 30n, 21n, 12n];
    const stopShift = { PUD: 30n, PMD: 21n, PTE: 12n }[level];
    let table = this.top;
    for (const shift of levels) {
      const ea = table + Number((va >> shift) & 511n) * 8;
      if (shift === stopShift) {
        this.setU64(ea, 0n);
        return;
      }
      table = Number(this.u64(ea) & 0x000ffffffffff000n);
    }
  }

  private vmemmapPa = new Map<number, number>(); // vmemmap page index → pa
  private buildVmemmap(): void {
    const bytes = this.maxPfn * this.profile.layout.size;
    const pages = Math.ceil(bytes / PAGE);
    if (this.opts.vmemmap4k) {
      // Scattered 4 KiB pages: every other page, in reverse order (physically discontiguous).
      const pool: number[] = [];
      for (let i = 0; i < 2 * pages; i++) pool.push(this.allocData());
      for (let i = 0; i < pages; i++) this.vmemmapPa.set(i, pool[2 * (pages - 1 - i)]!);
      const order = [...this.vmemmapPa.entries()];
      for (const [i, pa] of order) this.mapOne(this.vmemmap + BigInt(i * PAGE), pa, PAGE);
    } else {
      // One 2 MiB mapping per 2 MiB of struct pages, at a 2 MiB-aligned physical block.
      this.dataBump = Math.ceil(this.dataBump / (2 << 20)) * (2 << 20);
      for (let off = 0; off < bytes; off += 2 << 20) {
        const pa = this.dataBump;
        this.dataBump += 2 << 20;
        this.mapOne(this.vmemmap + BigInt(off), pa, 2 << 20);
        for (let i = 0; i < 512; i++) this.vmemmapPa.set(off / PAGE + i, pa + i * PAGE);
      }
    }
  }
  /** Physical address of the struct page of `pfn`. */
  structPagePa(pfn: number): number {
    const off = pfn * this.profile.layout.size;
    return this.vmemmapPa.get(Math.floor(off / PAGE))! + (off % PAGE);
  }
  structPageVa(pfn: number): bigint {
    return this.vmemmap + BigInt(pfn * this.profile.layout.size);
  }

  private buildMemSection(kind: 'extreme' | 'plain'): void {
    const pps = 2 ** (this.sectionSizeBits - 12);
    const nrSections = Math.ceil(this.maxPfn / pps);
    const msSize = this.profile.memSectionSize;
    const entries: number[] = [];
    if (kind === 'extreme') {
      const spr = PAGE / msSize;
      const root = this.allocKernel();
      this.memSectionRootPa = root;
      this.symbols.set('mem_section', this.dva(root));
      for (let r = 0; r * spr < nrSections; r++) {
        const page = this.allocKernel();
        this.setU64(root + r * 8, this.dva(page));
        for (let i = 0; i < spr && r * spr + i < nrSections; i++) entries.push(page + i * msSize);
      }
    } else {
      const pa = this.allocKernel();
      this.symbols.set('mem_section', this.kva(pa));
      for (let i = 0; i < nrSections; i++) entries.push(pa + i * msSize);
    }
    entries.forEach((ea, nr) => {
      const enc = this.vmemmap + BigInt(nr * pps * this.profile.layout.size) - BigInt(nr * pps * this.profile.layout.size);
      this.setU64(ea + this.profile.memSectionMapOffset, enc | this.sectionFlags);
    });
    this.sparseKind = kind;
  }
  sparseKind: 'extreme' | 'plain' = 'extreme';
  /** Physical address of section `nr`'s struct mem_section. */
  sectionEntryPa(nr: number): number {
    const msSize = this.profile.memSectionSize;
    if (this.sparseKind === 'extreme') {
      const spr = PAGE / msSize;
      const rootPtr = this.u64(this.memSectionRootPa + Math.floor(nr / spr) * 8);
      return Number(rootPtr - this.pageOffset) + (nr % spr) * msSize;
    }
    return Number(this.symbols.get('mem_section')! - START_KERNEL_MAP) + this.physBase + nr * msSize;
  }

  readonly uts = { sysname: 'Linux', nodename: 'synth-host', release: '', version: '#1 SMP synth', machine: 'x86_64', domainname: '(none)' };
  private buildUtsname(): void {
    const pa = this.allocKernel();
    this.uts.release = this.profile.osrelease;
    this.symbols.set('init_uts_ns', this.kva(pa));
    const f = [this.uts.sysname, this.uts.nodename, this.uts.release, this.uts.version, this.uts.machine, this.uts.domainname];
    f.forEach((s, i) => this.mem.write(s, pa + i * 65, 'latin1'));
  }

  /** Write the struct page of `pfn` (fields default to an untyped kernel page). */
  setPage(pfn: number, p: Partial<StructPage> & { dtor?: number; order?: number }): void {
    const l = this.profile.layout;
    const pa = this.structPagePa(pfn);
    const v = new DataView(this.mem.buffer, this.mem.byteOffset + pa, l.size);
    new Uint8Array(this.mem.buffer, this.mem.byteOffset + pa, l.size).fill(0);
    encodeStructPage(v, 0, { flags: 0n, compoundHead: 0n, mapping: 0n, private: 0n, mapcount: -1, refcount: 1, ...p }, l);
    if (p.dtor !== undefined) v.setUint8(l.compoundDtor!, p.dtor);
    if (p.order !== undefined) v.setUint8(l.compoundOrder!, p.order);
  }
  flagBit(name: 'lru' | 'private' | 'swapcache' | 'swapbacked' | 'slab' | 'hwpoison'): bigint {
    return 1n << BigInt(this.profile.flags[name]!);
  }
  private expect(pfn: number, n: number, cls: PageClassName): void {
    for (let p = pfn; p < pfn + n; p++) if (this.expected[p] !== undefined) this.expected[p] = cls;
  }

  buddy(pfn: number, order: number, opts: { hinted?: boolean; reportedBit?: number } = {}): void {
    const t = this.profile.pageTypes;
    const word = opts.hinted ? t.buddy! & t.offline! : t.buddy!;
    const flags = opts.reportedBit !== undefined ? 1n << BigInt(opts.reportedBit) : 0n;
    this.setPage(pfn, { mapcount: word, private: BigInt(order), flags, refcount: 0 });
    for (let i = 1; i < 2 ** order; i++) this.setPage(pfn + i, { refcount: 0 });
    this.expect(pfn, 2 ** order, opts.hinted || opts.reportedBit !== undefined ? 'hinted' : 'free');
  }
  offline(pfn: number): void {
    this.setPage(pfn, { mapcount: this.profile.pageTypes.offline! });
    this.expect(pfn, 1, 'offline');
  }
  hwpoison(pfn: number): void {
    this.setPage(pfn, { flags: this.flagBit('hwpoison') });
    this.expect(pfn, 1, 'hwpoison');
  }
  anon(pfn: number, extraFlags = 0n): void {
    this.setPage(pfn, { mapping: this.dva(0x1000) | 1n, mapcount: 0, flags: extraFlags });
    this.expect(pfn, 1, 'user');
  }
  cache(pfn: number, priv = false): void {
    this.setPage(pfn, { mapping: this.dva(0x2000), flags: this.flagBit('lru') | (priv ? this.flagBit('private') : 0n), mapcount: 0 });
    this.expect(pfn, 1, priv ? 'cache_private' : 'cache');
  }
  slab(pfn: number, mapcount = -1): void {
    this.setPage(pfn, { flags: this.flagBit('slab'), mapcount, mapping: this.dva(0x3000) | 1n });
    this.expect(pfn, 1, 'slab');
  }
  /** A compound page: head flags + PG_head, tails pointing at the head; `kind` decides the expected class. */
  compound(pfn: number, order: number, kind: 'thp' | 'hugetlb' | 'kernel' | 'cache', opts: { badOrder?: number } = {}): void {
    const headMask = this.profile.flags.headMask;
    const dt = this.profile.compoundDtor;
    const head: Partial<StructPage> =
      kind === 'thp'
        ? { mapping: this.dva(0x1000) | 1n, mapcount: 0 }
        : kind === 'cache'
          ? { mapping: this.dva(0x2000), flags: this.flagBit('lru') }
          : {};
    this.setPage(pfn, { ...head, flags: (head.flags ?? 0n) | headMask });
    for (let i = 1; i < 2 ** order; i++) {
      const extra = i === 1 ? { order: opts.badOrder ?? order, dtor: kind === 'hugetlb' ? dt.hugetlb : kind === 'thp' ? dt.transhuge : dt.compound } : {};
      this.setPage(pfn + i, { compoundHead: this.structPageVa(pfn) | 1n, ...extra });
    }
    const cls: PageClassName = kind === 'thp' ? 'user' : kind === 'hugetlb' ? 'hugetlb' : kind === 'cache' ? 'cache' : 'kernel';
    this.expect(pfn, 2 ** order, cls);
  }
  setExpected(pfn: number, n: number, cls: PageClassName): void {
    this.expect(pfn, n, cls);
  }

  vmcoreinfo(): string {
    const p = this.profile;
    const l = p.layout;
    const z = p.zone;
    const sym = (n: string) => this.symbols.get(n)!.toString(16);
    const lines = [
      `OSRELEASE=${p.osrelease}`,
      'PAGESIZE=4096',
      `SYMBOL(init_uts_ns)=${sym('init_uts_ns')}`,
      `OFFSET(uts_namespace.name)=0`,
      `SYMBOL(swapper_pg_dir)=${sym('init_top_pgt')}`,
      `SYMBOL(mem_section)=${sym('mem_section')}`,
      `LENGTH(mem_section)=${
        this.sparseKind === 'extreme'
          ? Math.ceil(2 ** ((this.l5 ? 52 : 46) - this.sectionSizeBits) / (PAGE / p.memSectionSize))
          : 2 ** ((this.l5 ? 52 : 46) - this.sectionSizeBits)
      }`,
      `SIZE(mem_section)=${p.memSectionSize}`,
      `OFFSET(mem_section.section_mem_map)=${p.memSectionMapOffset}`,
      `NUMBER(SECTION_SIZE_BITS)=${this.sectionSizeBits}`,
      `NUMBER(MAX_PHYSMEM_BITS)=${this.l5 ? 52 : 46}`,
      `SIZE(page)=${l.size}`,
      `SIZE(pglist_data)=${z.pglistDataSize}`,
      `SIZE(zone)=${z.zoneSize}`,
      `SIZE(free_area)=${z.freeAreaSize}`,
      `SIZE(list_head)=${z.listHeadSize}`,
      `OFFSET(page.flags)=${l.flags}`,
      `OFFSET(page._refcount)=${l.refcount}`,
      `OFFSET(page.mapping)=${l.mapping}`,
      `OFFSET(page.lru)=${l.lru}`,
      `OFFSET(page._mapcount)=${l.mapcount}`,
      `OFFSET(page.private)=${l.private}`,
      `OFFSET(page.compound_dtor)=${l.compoundDtor}`,
      `OFFSET(page.compound_order)=${l.compoundOrder}`,
      `OFFSET(page.compound_head)=${l.compoundHead}`,
      `OFFSET(pglist_data.node_zones)=${z.nodeZones}`,
      `OFFSET(pglist_data.nr_zones)=${z.nrZones}`,
      `OFFSET(pglist_data.node_start_pfn)=${z.nodeStartPfn}`,
      `OFFSET(pglist_data.node_spanned_pages)=${z.nodeSpannedPages}`,
      `OFFSET(pglist_data.node_id)=${z.nodeId}`,
      `OFFSET(zone.free_area)=${z.zoneFreeArea}`,
      `OFFSET(zone.vm_stat)=${z.zoneVmStat}`,
      `OFFSET(zone.spanned_pages)=${z.zoneSpannedPages}`,
      `OFFSET(free_area.free_list)=${z.freeAreaFreeList}`,
      `OFFSET(list_head.next)=${z.listHeadNext}`,
      `OFFSET(list_head.prev)=${z.listHeadPrev}`,
      `LENGTH(zone.free_area)=${z.nrOrders}`,
      `LENGTH(free_area.free_list)=${z.nrMigrateTypes}`,
      `NUMBER(NR_FREE_PAGES)=0`,
      `NUMBER(PG_lru)=${p.flags.lru}`,
      `NUMBER(PG_private)=${p.flags.private}`,
      `NUMBER(PG_swapcache)=${p.flags.swapcache}`,
      `NUMBER(PG_swapbacked)=${p.flags.swapbacked}`,
      `NUMBER(PG_slab)=${p.flags.slab}`,
      `NUMBER(PG_hwpoison)=${p.flags.hwpoison}`,
      `NUMBER(PG_head_mask)=${p.flags.headMask}`,
      `NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=${p.pageTypes.buddy}`,
      `NUMBER(HUGETLB_PAGE_DTOR)=${p.compoundDtor.hugetlb}`,
      `NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=${p.pageTypes.offline}`,
      ...(this.symbols.has('node_data') ? [`SYMBOL(node_data)=${sym('node_data')}`, `LENGTH(node_data)=${this.nodeDataLength}`] : []),
      `NUMBER(phys_base)=${this.physBase}`,
      `SYMBOL(init_top_pgt)=${sym('init_top_pgt')}`,
      `NUMBER(pgtable_l5_enabled)=${this.l5 ? 1 : 0}`,
      `KERNELOFFSET=0`,
      `NUMBER(sme_mask)=0`,
      ...this.extraLines,
      `CRASHTIME=1700000000`,
    ];
    return lines.filter((ln) => !this.omitKeys.has(ln.slice(0, ln.indexOf('=')))).join('\n') + '\n';
  }
  nodeDataLength = 1;

  /**
   * Free lists: one node, one zone; `blocks` (pfn, order) are linked on the order's list of
   * migrate type 0 through the struct pages' lru. Returns the zone's physical address.
   */
  buildFreeLists(blocks: [number, number][], opts: { breakPrevAt?: number } = {}): number {
    const z = this.profile.zone;
    // pglist_data is big (175 KiB): only its used fields matter; place it sparsely in the image.
    const pgdatPa = this.physBase + 0x40000; // inside the image, below the bump area
    const nodeDataPa = this.allocKernel();
    this.setU64(nodeDataPa, this.dva(pgdatPa));
    this.symbols.set('node_data', this.kva(nodeDataPa));
    this.mem.writeUInt32LE(1, pgdatPa + z.nrZones);
    const zonePa = pgdatPa + z.nodeZones;
    this.setU64(zonePa + z.zoneSpannedPages, BigInt(this.maxPfn));
    const lists = new Map<string, number[]>();
    for (const [pfn, order] of blocks) {
      const k = `${order}`;
      if (!lists.has(k)) lists.set(k, []);
      lists.get(k)!.push(pfn);
    }
    for (let order = 0; order < z.nrOrders; order++) {
      for (let mt = 0; mt < z.nrMigrateTypes; mt++) {
        const headPa = zonePa + z.zoneFreeArea + order * z.freeAreaSize + z.freeAreaFreeList + mt * z.listHeadSize;
        const headVa = this.dva(headPa);
        const pfns = mt === 0 ? lists.get(`${order}`) ?? [] : [];
        const nodes = pfns.map((p) => this.structPageVa(p) + BigInt(this.profile.layout.lru));
        const all = [headVa, ...nodes];
        const paOf = (i: number) => (i === 0 ? headPa : this.structPagePa(pfns[i - 1]!) + this.profile.layout.lru);
        for (let i = 0; i < all.length; i++) {
          this.setU64(paOf(i) + z.listHeadNext, all[(i + 1) % all.length]!);
          const prev = opts.breakPrevAt === pfns[i - 1] ? 0xdeadn : all[(i - 1 + all.length) % all.length]!;
          this.setU64(paOf(i) + z.listHeadPrev, prev);
        }
      }
    }
    for (const [pfn, order] of blocks) this.expect(pfn, 2 ** order, 'free');
    return zonePa;
  }

  /**
   * The ELF vmcore: a PT_NOTE (CPU notes + VMCOREINFO), the kernel-text PT_LOAD first (overlaps
   * RAM, like kexec), then one PT_LOAD per RAM range. `textData` overrides the text segment's bytes.
   */
  elf(opts: { cpus?: number; textLoad?: boolean; textData?: Buffer; vmcoreinfo?: string | null; truncateBy?: number; extraLoads?: Partial<Elf64Phdr>[] } = {}): Buffer {
    const notes: Buffer[] = [];
    for (let i = 0; i < (opts.cpus ?? 2); i++) notes.push(encodeNote('CORE', 1, Buffer.alloc(336)));
    const vi = opts.vmcoreinfo === undefined ? this.vmcoreinfo() : opts.vmcoreinfo;
    if (vi !== null) notes.push(encodeNote('VMCOREINFO', 0, Buffer.from(vi, 'latin1')));
    const noteBuf = Buffer.concat(notes);
    const loads: { phdr: Elf64Phdr; data: Buffer }[] = [];
    if (opts.textLoad ?? true) {
      const data = opts.textData ?? this.mem.subarray(this.physBase, this.physBase + (2 << 20));
      loads.push({
        phdr: { type: PT_LOAD, flags: 7, offset: 0, vaddr: START_KERNEL_MAP + 0x0n, paddr: BigInt(this.physBase), filesz: data.length, memsz: data.length, align: 0n },
        data,
      });
    }
    for (const [s, e] of this.ram) {
      loads.push({
        phdr: { type: PT_LOAD, flags: 7, offset: 0, vaddr: this.pageOffset + BigInt(s), paddr: BigInt(s), filesz: e - s, memsz: e - s, align: 0n },
        data: this.mem.subarray(s, e),
      });
    }
    for (const x of opts.extraLoads ?? []) {
      loads.push({ phdr: { type: PT_LOAD, flags: 7, offset: 0, vaddr: 0n, paddr: 0n, filesz: 0, memsz: 0, align: 0n, ...x }, data: Buffer.alloc(x.filesz ?? 0) });
    }
    const phnum = 1 + loads.length;
    const hdrSize = Math.ceil((EHDR_SIZE + phnum * PHDR_SIZE) / PAGE) * PAGE;
    const noteSize = Math.ceil(noteBuf.length / PAGE) * PAGE;
    let off = hdrSize + noteSize;
    for (const l of loads) {
      l.phdr.offset = off;
      off += Math.ceil(l.data.length / PAGE) * PAGE;
    }
    const out = Buffer.alloc(off);
    encodeEhdr(vmcoreEhdr(phnum), out);
    encodePhdr({ type: PT_NOTE, flags: 0, offset: hdrSize, vaddr: 0n, paddr: 0n, filesz: noteBuf.length, memsz: noteBuf.length, align: 0n }, out, EHDR_SIZE);
    loads.forEach((l, i) => {
      encodePhdr(l.phdr, out, EHDR_SIZE + (i + 1) * PHDR_SIZE);
      l.data.copy(out, l.phdr.offset);
    });
    noteBuf.copy(out, hdrSize);
    return opts.truncateBy ? out.subarray(0, out.length - opts.truncateBy) : out;
  }

  /** Expected per-class counts over pfns below maxPfn. */
  expectedCounts(): Partial<Record<PageClassName, number>> {
    const c: Partial<Record<PageClassName, number>> = {};
    for (const cls of this.expected) {
      const k = cls ?? 'hole';
      c[k] = (c[k] ?? 0) + 1;
    }
    return c;
  }
}
