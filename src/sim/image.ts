/**
 * Writes a machine as an ELF64 vmcore shaped like /proc/vmcore (FORMATS.md §1.1): Ehdr + phdrs
 * padded to 4096, one merged PT_NOTE (CPU NT_PRSTATUS notes, then VMCOREINFO) padded to 4096,
 * the kernel-text PT_LOAD and one PT_LOAD per RAM range each in its own file space. Streaming,
 * in large writes, with bounded memory; runs of zero pages are left as sparse holes.
 */
import * as fs from 'node:fs';
import { VmcoreError } from '../errors.js';
import {
  EHDR_SIZE,
  NT_PRSTATUS,
  PHDR_SIZE,
  EM_AARCH64,
  PRSTATUS_SIZE_X86_64,
  PT_LOAD,
  PT_NOTE,
  encodeEhdr,
  encodeNote,
  encodePhdr,
  vmcoreEhdr,
  type Elf64Phdr,
} from '../formats/elf/layout.js';
import { STYLES } from './content.js';
import { KIND, directMap, type Machine } from './machine.js';
import type { SectionArray } from './pfnstore.js';
import { hash32 } from './rng.js';
import { StructPageEncoder } from './structpage.js';
import { CLASS_CODE } from './truth.js';
import { buildVmcoreinfo } from './vmcoreinfo.js';

const CHUNK_PAGES = 256; // 1 MiB: the unit of the zero-run (sparse) decision
const BATCH_CHUNKS = 8; // up to 8 MiB per write

/** One PT_LOAD: its phdr and the pfn range it covers. */
export interface LoadSegment {
  phdr: Elf64Phdr;
  firstPfn: number;
  pages: number;
}

/**
 * arm64 struct elf_prstatus: 112 bytes of header, pr_reg = struct user_pt_regs (x0..x30, sp, pc,
 * pstate: 34 u64), pr_fpvalid and padding: 392 bytes.
 */
const PRSTATUS_SIZE_ARM64 = 392;

function arm64PrstatusNotes(m: Machine): Buffer[] {
  const out: Buffer[] = [];
  for (let cpu = 0; cpu < m.opts.cpus; cpu++) {
    const d = Buffer.alloc(PRSTATUS_SIZE_ARM64);
    const h = (i: number) => hash32(m.opts.seed + cpu * 977, i);
    d.writeInt16LE(cpu === 0 ? 11 : 0, 12);
    d.writeInt32LE(cpu === 0 ? 1000 + (h(0) % 30000) : 0, 32);
    const regs = 112;
    for (let r = 0; r < 29; r++) d.writeBigUInt64LE(BigInt(h(r + 1)) * 0x10001n, regs + r * 8);
    const sp = directMap(m, m.layout.kernelPhys + 0x1600000 + cpu * 0x4000 + 0x3f00);
    d.writeBigUInt64LE(sp + 0x80n, regs + 29 * 8); // x29 (frame pointer)
    d.writeBigUInt64LE(m.layout.text + BigInt(0x100000 + (h(41) % 0xc00000)), regs + 30 * 8); // x30 (lr)
    d.writeBigUInt64LE(sp, regs + 31 * 8);
    d.writeBigUInt64LE(m.layout.text + BigInt(0x100000 + (h(40) % 0xc00000)), regs + 32 * 8); // pc
    d.writeBigUInt64LE(0x3c5n, regs + 33 * 8); // pstate: EL1h, DAIF masked
    out.push(encodeNote('CORE', NT_PRSTATUS, d));
  }
  return out;
}

/** The CPU notes (x86_64 struct elf_prstatus, 336 bytes each; arm64 392). */
export function prstatusNotes(m: Machine): Buffer[] {
  if (m.layout.arch === 'arm64') return arm64PrstatusNotes(m);
  const out: Buffer[] = [];
  for (let cpu = 0; cpu < m.opts.cpus; cpu++) {
    const d = Buffer.alloc(PRSTATUS_SIZE_X86_64);
    const h = (i: number) => hash32(m.opts.seed + cpu * 977, i);
    d.writeInt16LE(cpu === 0 ? 11 : 0, 12); // pr_cursig: SIGSEGV on the crashing CPU
    d.writeInt32LE(cpu === 0 ? 1000 + (h(0) % 30000) : 0, 32); // pr_pid: idle CPUs run pid 0
    const regs = 112;
    for (let r = 0; r < 27; r++) d.writeBigUInt64LE(BigInt(h(r + 1)) * 0x10001n, regs + r * 8);
    const rip = m.layout.text + BigInt(0x100000 + (h(40) % 0xc00000));
    const rsp = directMap(m, m.layout.kernelPhys + 0x1600000 + cpu * 0x4000 + 0x3f00);
    d.writeBigUInt64LE(rip, regs + 16 * 8);
    d.writeBigUInt64LE(0x10n, regs + 17 * 8); // cs
    d.writeBigUInt64LE(0x246n, regs + 18 * 8); // eflags
    d.writeBigUInt64LE(rsp, regs + 19 * 8);
    d.writeBigUInt64LE(0x18n, regs + 20 * 8); // ss
    d.writeBigUInt64LE(rsp + 0x80n, regs + 4 * 8); // rbp
    for (let r = 21; r < 27; r++) d.writeBigUInt64LE(0n, regs + r * 8);
    out.push(encodeNote('CORE', NT_PRSTATUS, d));
  }
  return out;
}

/** Header, notes and PT_LOAD table of the image. */
export function planImage(m: Machine): { header: Buffer; notes: Buffer; loads: LoadSegment[]; fileSize: number; vmcoreinfo: string } {
  const vmcoreinfo = buildVmcoreinfo(m);
  const noteData = Buffer.concat([...prstatusNotes(m), encodeNote('VMCOREINFO', 0, Buffer.from(vmcoreinfo, 'latin1'))]);
  const L = m.layout;
  const PAGE_SIZE = L.pageSize;
  const ranges = [
    { paddr: L.kernelPhys, vaddr: L.text, size: L.kernelBytes },
    ...L.loads.map((r) => ({ paddr: r.start, vaddr: directMap(m, r.start), size: r.end - r.start })),
  ];
  const phnum = 1 + ranges.length;
  const headerSize = roundUp(EHDR_SIZE + phnum * PHDR_SIZE, PAGE_SIZE);
  const notesSize = roundUp(noteData.length, PAGE_SIZE);
  let off = headerSize + notesSize;
  const loads: LoadSegment[] = ranges.map((r) => {
    const seg: LoadSegment = {
      phdr: { type: PT_LOAD, flags: 7, offset: off, vaddr: r.vaddr, paddr: BigInt(r.paddr), filesz: r.size, memsz: r.size, align: 0n },
      firstPfn: r.paddr / PAGE_SIZE,
      pages: r.size / PAGE_SIZE,
    };
    off += r.size;
    return seg;
  });
  const header = Buffer.alloc(headerSize);
  encodeEhdr(L.arch === 'arm64' ? vmcoreEhdr(phnum, EM_AARCH64) : vmcoreEhdr(phnum), header);
  const notePhdr: Elf64Phdr = { type: PT_NOTE, flags: 0, offset: headerSize, vaddr: 0n, paddr: 0n, filesz: noteData.length, memsz: noteData.length, align: 0n };
  encodePhdr(notePhdr, header, EHDR_SIZE);
  loads.forEach((s, i) => encodePhdr(s.phdr, header, EHDR_SIZE + (i + 1) * PHDR_SIZE));
  const notes = Buffer.alloc(notesSize);
  noteData.copy(notes);
  return { header, notes, loads, fileSize: off, vmcoreinfo };
}

/** Produces the bytes of physical pages from machine state. */
export class PageContent {
  private readonly enc: StructPageEncoder;
  private readonly textEndPfn: number;
  private readonly kernelFirstPfn: number;
  private readonly kernelEndPfn: number;
  constructor(
    private readonly m: Machine,
    private readonly cls: SectionArray,
  ) {
    this.enc = new StructPageEncoder(m);
    const PAGE_SIZE = m.layout.pageSize;
    this.kernelFirstPfn = m.layout.kernelPhys / PAGE_SIZE;
    this.textEndPfn = this.kernelFirstPfn + (14 << 20) / PAGE_SIZE;
    this.kernelEndPfn = this.kernelFirstPfn + m.layout.kernelBytes / PAGE_SIZE;
  }

  /** Write page `pfn` into buf at off; returns false when the page is all zero (buf is zeroed). */
  fill(pfn: number, buf: Buffer, off: number): boolean {
    const m = this.m;
    const st = m.structural.get(pfn);
    if (st) {
      st.copy(buf, off);
      return true;
    }
    const c = m.content;
    switch (m.kind.get(pfn)) {
      case KIND.RESERVED: {
        const s = m.backingSection.get(Math.floor(pfn / 2 ** m.backingShift));
        const idx = s === undefined ? -1 : pfn - m.memmapBacking.get(s)!;
        const per = m.layout.pageSize / m.profile.layout.size;
        // a backing smaller than its 2 MiB lookup block (16/64 KiB pages) leaves other pfns in it
        if (s !== undefined && idx * per < m.layout.pagesPerSection) {
          this.enc.encode(s * m.layout.pagesPerSection + idx * per, per, buf, off);
        } else if (pfn >= this.kernelFirstPfn && pfn < this.textEndPfn) {
          c.fill(pfn, STYLES.kernelText, buf, off);
        } else if (pfn >= this.kernelFirstPfn && pfn < this.kernelEndPfn) {
          c.fill(pfn, STYLES.kernelData, buf, off);
        } else {
          c.fill(pfn, STYLES.kernelData, buf, off);
        }
        return true;
      }
      case KIND.FREE:
        if (this.cls.get(pfn) === CLASS_CODE.hinted || m.opts.freeContent === 'zero') break;
        c.fill(pfn, STYLES.stale, buf, off);
        return true;
      case KIND.KERNEL:
        c.fill(pfn, STYLES.kernelData, buf, off);
        return true;
      case KIND.SLAB:
        c.fill(pfn, STYLES.slab, buf, off);
        return true;
      case KIND.CACHE:
      case KIND.CACHE_PRIVATE:
        c.fill(pfn, STYLES.cache, buf, off);
        return true;
      case KIND.ANON:
      case KIND.SWAPCACHE:
      case KIND.THP:
      case KIND.HUGETLB:
        c.fill(pfn, STYLES.anon, buf, off);
        return true;
      case KIND.HUGETLB_FREE:
      case KIND.HWPOISON:
        c.fill(pfn, STYLES.stale, buf, off);
        return true;
      default:
        // KERNEL_ZERO, BALLOON, VIRTIO_MEM, NOMEM: zero
        break;
    }
    buf.fill(0, off, off + m.layout.pageSize);
    return false;
  }
}

/** Stream the image to `path` (written directly; the caller renames). Returns the file size. */
export function writeImage(m: Machine, cls: SectionArray, path: string): number {
  const plan = planImage(m);
  const pc = new PageContent(m, cls);
  const PAGE_SIZE = m.layout.pageSize;
  const CHUNK = (CHUNK_PAGES * 4096) / PAGE_SIZE; // 1 MiB of pages whatever the page size
  let fd: number;
  try {
    fd = fs.openSync(path, 'w');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new VmcoreError('E_OUTPUT_IO', `cannot create ${path}: ${err.code ?? err.message}`, { path });
  }
  const write = (b: Buffer, len: number, pos: number) => {
    let done = 0;
    while (done < len) {
      try {
        done += fs.writeSync(fd, b, done, len - done, pos + done);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new VmcoreError(err.code === 'ENOSPC' ? 'E_NO_SPACE' : 'E_OUTPUT_IO', `writing ${path} at offset ${pos + done}: ${err.code ?? err.message}`, {
          path,
          offset: pos + done,
        });
      }
    }
  };
  try {
    write(plan.header, plan.header.length, 0);
    write(plan.notes, plan.notes.length, plan.header.length);
    const buf = Buffer.allocUnsafe(CHUNK * BATCH_CHUNKS * PAGE_SIZE);
    for (const seg of plan.loads) {
      let page = 0;
      let batchStart = seg.phdr.offset; // file offset of buf[0]
      let batchLen = 0;
      const flush = () => {
        if (batchLen) write(buf, batchLen, batchStart);
        batchLen = 0;
      };
      while (page < seg.pages) {
        const n = Math.min(CHUNK, seg.pages - page);
        let nonzero = false;
        for (let i = 0; i < n; i++) {
          if (pc.fill(seg.firstPfn + page + i, buf, batchLen + i * PAGE_SIZE)) nonzero = true;
        }
        const chunkOff = seg.phdr.offset + page * PAGE_SIZE;
        if (nonzero) {
          if (batchLen === 0) batchStart = chunkOff;
          batchLen += n * PAGE_SIZE;
          if (batchLen + CHUNK * PAGE_SIZE > buf.length) flush();
        } else {
          flush(); // a zero chunk stays a hole in the file
        }
        page += n;
      }
      flush();
    }
    fs.ftruncateSync(fd, plan.fileSize);
  } finally {
    fs.closeSync(fd);
  }
  return plan.fileSize;
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
