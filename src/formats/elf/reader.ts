/**
 * ELF64 vmcore reader (/proc/vmcore and makedumpfile -E output), FORMATS.md §1.
 * Headers and notes are validated before use; a PT_LOAD whose data runs past the end of the
 * file is truncated input: its missing pfns are marked absent and a warning is recorded.
 */
import { VmcoreError, hex } from '../../errors.js';
import { Bitmap } from '../../io/bitmap.js';
import { PfnRanges } from '../../io/pfn-set.js';
import type { ByteSource } from '../../io/file.js';
import { LIMITS } from '../../io/limits.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../../vmcoreinfo/parse.js';
import { START_KERNEL_MAP, type KernelTextMapping } from '../../addrxlat/x86_64.js';
import { kernelTranslator, type KernelArch } from '../../addrxlat/kernel.js';
import type { DumpHeaderInfo, DumpReader, Utsname } from '../dump.js';
import {
  EHDR_SIZE,
  EM_AARCH64,
  EM_X86_64,
  ET_CORE,
  NT_PRSTATUS,
  PHDR_SIZE,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  decodeEhdr,
  decodeNotes,
  decodePhdr,
  type Elf64Ehdr,
  type Elf64Phdr,
} from './layout.js';

/** The page size of a dump without (a usable) PAGESIZE. */
const DEFAULT_PAGE = 4096;
const SHDR_SIZE = 64;
const UTS_LEN = 65;

/** Something odd about the input that did not stop reading it. */
export type ElfReaderWarning =
  | {
      code: 'truncated';
      /** Index of the PT_LOAD in the program-header table. */
      phdrIndex: number;
      /** First pfn whose data is missing. */
      firstMissingPfn: number;
      /** Pfns of that PT_LOAD without data. */
      missingPages: number;
      /** Where the data should have ended in the file. */
      expectedEnd: number;
      fileSize: number;
      message: string;
    }
  | { code: 'utsname'; message: string }
  | { code: 'vmcoreinfo'; message: string }
  | { code: 'machine'; machine: number; message: string };

/** A physically contiguous run of file data (after overlap resolution). */
export interface PhysPiece {
  /** Physical byte range [start, end). */
  start: number;
  end: number;
  fileOffset: number;
}

/** The ELF vmcore reader: a {@link DumpReader} plus what the ELF writer needs. */
export interface ElfDumpReader extends DumpReader {
  readonly format: 'elf';
  readonly ehdr: Elf64Ehdr;
  /** The PT_LOAD program headers, in file order (as written in the input). */
  readonly loads: readonly Elf64Phdr[];
  /** The (first) PT_NOTE and the bytes of every PT_NOTE, concatenated in header order. */
  readonly noteSegment: { phdr: Elf64Phdr; data: Buffer } | null;
  /** File data by physical address, overlaps resolved (first PT_LOAD in header order wins). */
  readonly pieces: readonly PhysPiece[];
  /** The kernel-text PT_LOAD (p_vaddr ≥ __START_KERNEL_map), used to derive phys_base. */
  readonly kernelText: KernelTextMapping | undefined;
  /** PAGE_OFFSET from the last PT_LOAD below the kernel-image map (FORMATS.md §1.3), if any. */
  readonly pageOffset: bigint | undefined;
  readonly vmcoreinfo: Vmcoreinfo | null;
  readonly warnings: ElfReaderWarning[];
}

/** Cheap check: does `source` start like an ELF file? */
export function looksLikeElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/**
 * Open an ELF64 little-endian ET_CORE vmcore. Throws E_FORMAT for a file that is not one,
 * E_TRUNCATED when headers or notes are cut off, E_LIMIT for absurd counts or sizes.
 */
export function openElfDump(source: ByteSource): ElfDumpReader {
  const path = source.path;
  const ehdr = readEhdr(source);
  const warnings: ElfReaderWarning[] = [];
  const arch = archOf(ehdr, warnings);
  const phdrs = readPhdrs(source, ehdr);
  const notes = readNotes(source, phdrs);
  const vmcoreinfo = parseTolerant(notes.vmcoreinfoText, warnings);
  // Every pfn below is in the dump's own page size (4, 16 or 64 KiB on arm64).
  const PAGE = dumpPageSize(vmcoreinfo, warnings, path);
  const loads = phdrs.filter((p) => p.type === PT_LOAD);
  const { spans, maxMapnr } = loadSpans(source, ehdr, phdrs, PAGE, warnings);
  const pieces = resolveFirstWins(spans);
  const { kernelText, pageOffset } = kernelMaps(loads);
  const readPhys = makePhysReader(source, pieces);
  const info = headerInfo(vmcoreinfo, notes, kernelText, arch, PAGE, physReaderBig(readPhys), warnings);
  return elfReader(source, {
    ehdr,
    info,
    vmcoreinfoText: notes.vmcoreinfoText,
    vmcoreinfo,
    maxMapnr,
    presentRuns: presentRuns(pieces, PAGE, maxMapnr),
    loads,
    noteSegment: notes.phdrs.length ? { phdr: notes.phdrs[0]!, data: notes.data } : null,
    pieces,
    kernelText,
    pageOffset,
    warnings,
    readPhys,
  });
}

/** The ELF header, checked to be a 64-bit little-endian ET_CORE with 56-byte program headers. */
function readEhdr(source: ByteSource): Elf64Ehdr {
  const path = source.path;
  const fileSize = source.size;
  if (fileSize < EHDR_SIZE) {
    const head = Buffer.alloc(Math.min(fileSize, 16));
    source.readSome(0, head.length, head);
    if (looksLikeElf(head)) {
      throw new VmcoreError('E_TRUNCATED', `${path}: ELF header truncated (file is ${fileSize} bytes)`, { path, offset: 0 });
    }
    throw new VmcoreError('E_FORMAT', `${path}: not an ELF file (${fileSize} bytes)`, { path });
  }
  const eb = source.read(0, EHDR_SIZE);
  if (!looksLikeElf(eb)) throw new VmcoreError('E_FORMAT', `${path}: not an ELF file (bad magic)`, { path, offset: 0 });
  if (eb[4] !== 2) throw new VmcoreError('E_FORMAT', `${path}: ELF class ${eb[4]} is not ELFCLASS64`, { path, offset: 4 });
  if (eb[5] !== 1) throw new VmcoreError('E_FORMAT', `${path}: ELF data encoding ${eb[5]} is not little-endian`, { path, offset: 5 });
  const ehdr = decodeEhdr(eb);
  if (ehdr.type !== ET_CORE) {
    throw new VmcoreError('E_FORMAT', `${path}: ELF type ${ehdr.type} is not ET_CORE (4); not a vmcore`, { path, offset: 16 });
  }
  if (ehdr.phentsize !== PHDR_SIZE) {
    throw new VmcoreError('E_FORMAT', `${path}: e_phentsize ${ehdr.phentsize} is not ${PHDR_SIZE}`, { path, offset: 54 });
  }
  return ehdr;
}

/** The architecture address translation uses; another e_machine is read all the same, with a warning. */
function archOf(ehdr: Elf64Ehdr, warnings: ElfReaderWarning[]): KernelArch | undefined {
  if (ehdr.machine !== EM_X86_64 && ehdr.machine !== EM_AARCH64) {
    // Physical reads work for any machine; only address translation is per architecture.
    warnings.push({ code: 'machine', machine: ehdr.machine, message: `e_machine ${ehdr.machine} is neither x86_64 (62) nor aarch64 (183)` });
  }
  return ehdr.machine === EM_AARCH64 ? 'arm64' : ehdr.machine === EM_X86_64 ? 'x86_64' : undefined;
}

/** The program-header table, bounded by LIMITS.maxPhdrs and by the file. */
function readPhdrs(source: ByteSource, ehdr: Elf64Ehdr): Elf64Phdr[] {
  const path = source.path;
  const phnum = phdrCount(source, ehdr);
  if (phnum === 0) throw new VmcoreError('E_FORMAT', `${path}: ELF vmcore has no program headers`, { path, offset: 56 });
  if (phnum > LIMITS.maxPhdrs) {
    throw new VmcoreError('E_LIMIT', `${path}: ${phnum} program headers exceed the limit of ${LIMITS.maxPhdrs}`, { path, offset: 56 });
  }
  const phBytes = phnum * PHDR_SIZE;
  if (ehdr.phoff + phBytes > source.size) {
    throw new VmcoreError(
      'E_TRUNCATED',
      `${path}: ${phnum} program headers at ${hex(ehdr.phoff)} need ${phBytes} bytes; file ends at ${hex(source.size)}`,
      { path, offset: ehdr.phoff },
    );
  }
  const phb = source.read(ehdr.phoff, phBytes);
  const phdrs: Elf64Phdr[] = [];
  for (let i = 0; i < phnum; i++) phdrs.push(decodePhdr(phb, i * PHDR_SIZE, ehdr.phoff + i * PHDR_SIZE));
  return phdrs;
}

/** e_phnum, honouring PN_XNUM (the real count in section header 0's sh_info). */
function phdrCount(source: ByteSource, ehdr: Elf64Ehdr): number {
  if (ehdr.phnum !== PN_XNUM) return ehdr.phnum;
  const path = source.path;
  if (ehdr.shoff === 0) {
    throw new VmcoreError('E_FORMAT', `${path}: e_phnum is PN_XNUM but there is no section header`, { path, offset: 56 });
  }
  if (ehdr.shoff + SHDR_SIZE > source.size) {
    throw new VmcoreError('E_TRUNCATED', `${path}: section header 0 at ${hex(ehdr.shoff)} lies past the end of the file`, {
      path,
      offset: ehdr.shoff,
    });
  }
  return source.read(ehdr.shoff, SHDR_SIZE).readUInt32LE(44);
}

/** What the PT_NOTEs hold: their bytes, the CPU count and the (first) VMCOREINFO note. */
interface ElfNotes {
  phdrs: Elf64Phdr[];
  /** Every PT_NOTE's bytes, concatenated in header order. */
  data: Buffer;
  nrCpus: number;
  /** Where VMCOREINFO's text lies in `data`. */
  vmcoreinfoLoc: { offsetInNotes: number; size: number } | null;
  vmcoreinfoText: string | null;
}

/** Every PT_NOTE, concatenated (the kernel merges them into one; re-filtered files may not). */
function readNotes(source: ByteSource, phdrs: readonly Elf64Phdr[]): ElfNotes {
  const path = source.path;
  const fileSize = source.size;
  const notePhdrs = phdrs.filter((p) => p.type === PT_NOTE);
  let noteBytes = 0;
  for (const p of notePhdrs) noteBytes += p.filesz;
  if (noteBytes > LIMITS.maxNoteBytes) {
    throw new VmcoreError('E_LIMIT', `${path}: ${noteBytes} bytes of notes exceed the limit of ${LIMITS.maxNoteBytes}`, { path });
  }
  const noteParts: Buffer[] = [];
  const out: ElfNotes = { phdrs: notePhdrs, data: Buffer.alloc(0), nrCpus: 0, vmcoreinfoLoc: null, vmcoreinfoText: null };
  let notesSoFar = 0;
  for (const p of notePhdrs) {
    if (p.offset + p.filesz > fileSize) {
      throw new VmcoreError(
        'E_TRUNCATED',
        `${path}: note segment at ${hex(p.offset)} (${p.filesz} bytes) runs past the end of the file at ${hex(fileSize)}`,
        { path, offset: p.offset },
      );
    }
    const seg = source.read(p.offset, p.filesz);
    for (const n of decodeNotes(seg, p.offset)) {
      if (n.name === 'CORE' && n.type === NT_PRSTATUS) out.nrCpus++;
      else if (n.name === 'VMCOREINFO' && n.type === 0 && out.vmcoreinfoLoc === null) {
        if (n.desc.length > LIMITS.maxVmcoreinfo) {
          throw new VmcoreError('E_LIMIT', `${path}: VMCOREINFO note of ${n.desc.length} bytes exceeds ${LIMITS.maxVmcoreinfo}`, {
            path,
            offset: n.descOffset,
          });
        }
        out.vmcoreinfoLoc = { offsetInNotes: notesSoFar + (n.descOffset - p.offset), size: n.desc.length };
        out.vmcoreinfoText = n.desc.toString('latin1');
      }
    }
    noteParts.push(seg);
    notesSoFar += seg.length;
  }
  out.data = Buffer.concat(noteParts);
  return out;
}

/** VMCOREINFO parsed; a malformed one must not make the dump unreadable (pages can still be copied). */
function parseTolerant(text: string | null, warnings: ElfReaderWarning[]): Vmcoreinfo | null {
  if (text === null) return null;
  try {
    return parseVmcoreinfo(text);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    warnings.push({ code: 'vmcoreinfo', message: `VMCOREINFO cannot be parsed: ${e.message}` });
    return null;
  }
}

/**
 * The PT_LOADs' file data by physical address, in header order, bounded to
 * LIMITS.maxPhysAddrBits; data past the end of the file is cut off with a 'truncated' warning.
 */
function loadSpans(
  source: ByteSource,
  ehdr: Elf64Ehdr,
  phdrs: readonly Elf64Phdr[],
  PAGE: number,
  warnings: ElfReaderWarning[],
): { spans: PhysPiece[]; maxMapnr: number } {
  const path = source.path;
  const fileSize = source.size;
  const maxPhys = 2 ** LIMITS.maxPhysAddrBits;
  let maxEnd = 0;
  const spans: PhysPiece[] = [];
  phdrs.forEach((p, idx) => {
    if (p.type !== PT_LOAD) return;
    if (p.paddr === 0xffffffffffffffffn) return; // makedumpfile: "p_paddr == -1" means no physical address
    const paddr = Number(p.paddr);
    if (p.paddr >= BigInt(maxPhys) || paddr + p.memsz > maxPhys) {
      throw new VmcoreError(
        'E_LIMIT',
        `${path}: PT_LOAD #${idx} [${hex(p.paddr)}+${hex(p.memsz)}) exceeds ${LIMITS.maxPhysAddrBits}-bit physical addresses`,
        { path, offset: ehdr.phoff + idx * PHDR_SIZE },
      );
    }
    if (p.filesz > p.memsz) {
      throw new VmcoreError('E_FORMAT', `${path}: PT_LOAD #${idx} has p_filesz ${hex(p.filesz)} > p_memsz ${hex(p.memsz)}`, {
        path,
        offset: ehdr.phoff + idx * PHDR_SIZE + 32,
      });
    }
    maxEnd = Math.max(maxEnd, paddr + p.memsz);
    let filesz = p.filesz;
    if (p.offset + filesz > fileSize) {
      filesz = Math.max(0, fileSize - p.offset);
      warnings.push(truncatedLoad(p, idx, filesz, fileSize, PAGE));
    }
    if (filesz > 0) spans.push({ start: paddr, end: paddr + filesz, fileOffset: p.offset });
  });
  const maxMapnr = Math.ceil(maxEnd / PAGE);
  if (maxMapnr > LIMITS.maxMapnr) {
    throw new VmcoreError('E_LIMIT', `${path}: max_mapnr ${maxMapnr} exceeds ${LIMITS.maxMapnr}`, { path });
  }
  return { spans, maxMapnr };
}

/** The warning for PT_LOAD #`idx`, of which the file holds only `have` bytes. */
function truncatedLoad(p: Elf64Phdr, idx: number, have: number, fileSize: number, PAGE: number): ElfReaderWarning {
  const paddr = Number(p.paddr);
  const firstMissingPfn = Math.floor((paddr + have) / PAGE);
  const lastPfnEnd = Math.ceil((paddr + p.filesz) / PAGE);
  return {
    code: 'truncated',
    phdrIndex: idx,
    firstMissingPfn,
    missingPages: lastPfnEnd - firstMissingPfn,
    expectedEnd: p.offset + p.filesz,
    fileSize,
    message: `truncated input: PT_LOAD #${idx} needs data up to file offset ${hex(p.offset + p.filesz)} but the file ends at ${hex(fileSize)}; pfns from ${hex(firstMissingPfn)} are missing`,
  };
}

/**
 * The present pfns as runs: a pfn is present when its whole page has file data (a partial page
 * at a truncation point is not).
 */
function presentRuns(pieces: readonly PhysPiece[], PAGE: number, maxMapnr: number): [number, number][] {
  const runs: [number, number][] = [];
  for (const r of mergedRanges(pieces)) {
    const s = Math.ceil(r.start / PAGE);
    const e = Math.min(Math.floor(r.end / PAGE), maxMapnr);
    if (e > s) runs.push([s, e]);
  }
  return runs;
}

/** Kernel-text mapping and PAGE_OFFSET, as makedumpfile derives them. */
function kernelMaps(loads: readonly Elf64Phdr[]): { kernelText: KernelTextMapping | undefined; pageOffset: bigint | undefined } {
  let kernelText: KernelTextMapping | undefined;
  let pageOffset: bigint | undefined;
  for (const p of loads) {
    if (p.vaddr >= START_KERNEL_MAP) {
      if (!kernelText) kernelText = { vaddr: p.vaddr, paddr: p.paddr };
    } else if (p.vaddr >= 0x8000000000000000n) {
      pageOffset = p.vaddr - p.paddr;
    }
  }
  return { kernelText, pageOffset };
}

type PhysReader = ReturnType<typeof makePhysReader>;

/** A bigint-addressed physical read for address translation: undefined where the dump has no data. */
function physReaderBig(readPhys: PhysReader): (pa: bigint, len: number) => Uint8Array | undefined {
  const maxPhys = 2 ** LIMITS.maxPhysAddrBits;
  return (pa, len) => {
    if (pa < 0n || pa + BigInt(len) > BigInt(maxPhys)) return undefined;
    const b = new Uint8Array(len);
    return readPhys(Number(pa), len, b, 0, false) < 0 ? b : undefined;
  };
}

/** What {@link elfReader} is built from. */
interface ElfReaderParts extends Omit<ElfDumpReader, 'format' | 'path' | 'present' | 'presentSet' | 'readPhys' | 'readPages' | 'close'> {
  presentRuns: [number, number][];
  readPhys: PhysReader;
}

/**
 * The reader over what openElfDump found. Presence is kept as runs (bounded by the PT_LOADs);
 * the whole-dump bitmap is built only when asked for.
 */
function elfReader(source: ByteSource, parts: ElfReaderParts): ElfDumpReader {
  const { presentRuns: runs, readPhys, maxMapnr } = parts;
  const path = source.path;
  const PAGE = parts.info.pageSize;
  const presentSet = new PfnRanges(maxMapnr, runs);
  let presentBitmap: Bitmap | undefined;
  const present = (): Bitmap => {
    if (presentBitmap) return presentBitmap;
    try {
      presentBitmap = new Bitmap(maxMapnr);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new VmcoreError('E_LIMIT', `${path}: max_mapnr ${maxMapnr} needs a ${Math.ceil(maxMapnr / 8)}-byte bitmap, more than this process can allocate`, { path });
    }
    for (const [s, e] of runs) presentBitmap.setRange(s, e);
    return presentBitmap;
  };
  function readPhysBytes(paddr: number, len: number, buf: Uint8Array, bufOff = 0): void {
    const miss = readPhys(paddr, len, buf, bufOff, false);
    if (miss >= 0) {
      throw new VmcoreError('E_FORMAT', `${path}: physical address ${hex(miss)} is not in the dump`, {
        path,
        address: BigInt(miss),
        pfn: Math.floor(miss / PAGE),
      });
    }
  }
  return {
    format: 'elf',
    path,
    ehdr: parts.ehdr,
    info: parts.info,
    vmcoreinfoText: parts.vmcoreinfoText,
    vmcoreinfo: parts.vmcoreinfo,
    maxMapnr,
    get present() {
      return present();
    },
    presentSet,
    loads: parts.loads,
    noteSegment: parts.noteSegment,
    pieces: parts.pieces,
    kernelText: parts.kernelText,
    pageOffset: parts.pageOffset,
    warnings: parts.warnings,
    readPhys: readPhysBytes,
    readPages(pfn: number, count: number, buf: Uint8Array, bufOff = 0): void {
      if (count <= 0) return;
      // allPresent looks at `count` bits only (nextClear would scan to the end of the run: quadratic).
      if (pfn < 0 || pfn + count > maxMapnr || !presentSet.has(pfn, pfn + count)) {
        const bad = pfn < 0 || pfn >= maxMapnr ? pfn : Math.min(presentSet.nextClear(pfn), pfn + count - 1);
        throw new VmcoreError('E_FORMAT', `${path}: pfn ${hex(bad)} is not in the dump`, { path, pfn: bad });
      }
      readPhysBytes(pfn * PAGE, count * PAGE, buf, bufOff);
    },
    close: () => source.close(),
  };
}

/** Resolve overlapping file-data spans: the first in header order wins; adjacent pieces with contiguous file data merge. */
export function resolveFirstWins(spans: readonly PhysPiece[]): PhysPiece[] {
  let out: PhysPiece[] = [];
  for (const s of spans) {
    // Parts of s not covered by out.
    const add: PhysPiece[] = [];
    let cur = s.start;
    // out is sorted and disjoint: find first piece ending after cur.
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (out[mid]!.end <= cur) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < out.length && cur < s.end; i++) {
      const o = out[i]!;
      if (o.start >= s.end) break;
      if (o.start > cur) add.push({ start: cur, end: o.start, fileOffset: s.fileOffset + (cur - s.start) });
      cur = Math.max(cur, o.end);
    }
    if (cur < s.end) add.push({ start: cur, end: s.end, fileOffset: s.fileOffset + (cur - s.start) });
    if (add.length) out = mergeSorted(out, add);
  }
  // Merge neighbours whose file data is contiguous: one positional read serves both.
  const merged: PhysPiece[] = [];
  for (const p of out) {
    const last = merged[merged.length - 1];
    if (last && last.end === p.start && last.fileOffset + (last.end - last.start) === p.fileOffset) last.end = p.end;
    else merged.push({ ...p });
  }
  return merged;
}

function mergeSorted(a: PhysPiece[], b: PhysPiece[]): PhysPiece[] {
  const out: PhysPiece[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.start < b[j]!.start)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** Physically contiguous ranges of file data (regardless of file offsets). */
function mergedRanges(pieces: readonly PhysPiece[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && last.end === p.start) last.end = p.end;
    else out.push({ start: p.start, end: p.end });
  }
  return out;
}

/**
 * A physical reader over resolved pieces: one positional read per piece touched. Returns -1
 * on success, else the first physical address without data (bytes without data are zeroed
 * when `zeroFill`, and then it still reports the first miss).
 */
function makePhysReader(source: ByteSource, pieces: readonly PhysPiece[]) {
  return function readPhys(paddr: number, len: number, buf: Uint8Array, bufOff: number, zeroFill: boolean): number {
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pieces[mid]!.end <= paddr) lo = mid + 1;
      else hi = mid;
    }
    let cur = paddr;
    const end = paddr + len;
    let firstMiss = -1;
    for (let i = lo; cur < end; i++) {
      const p = pieces[i];
      if (!p || p.start >= end) {
        if (firstMiss < 0) firstMiss = cur;
        if (!zeroFill) return firstMiss;
        buf.fill(0, bufOff + (cur - paddr), bufOff + len);
        break;
      }
      if (p.start > cur) {
        if (firstMiss < 0) firstMiss = cur;
        if (!zeroFill) return firstMiss;
        buf.fill(0, bufOff + (cur - paddr), bufOff + (p.start - paddr));
        cur = p.start;
      }
      const n = Math.min(end, p.end) - cur;
      source.readInto(p.fileOffset + (cur - p.start), n, buf, bufOff + (cur - paddr));
      cur += n;
    }
    return firstMiss;
  };
}

function cstr(b: Uint8Array, off: number, len: number): string {
  let e = off;
  while (e < off + len && b[e] !== 0) e++;
  return Buffer.from(b.buffer, b.byteOffset + off, e - off).toString('latin1');
}

/** Header facts: utsname from init_uts_ns when translation allows, else from OSRELEASE. */
function headerInfo(
  vi: Vmcoreinfo | null,
  notes: ElfNotes,
  kernelText: KernelTextMapping | undefined,
  arch: KernelArch | undefined,
  pageSize: number,
  readPhysBig: (pa: bigint, len: number) => Uint8Array | undefined,
  warnings: ElfReaderWarning[],
): DumpHeaderInfo {
  let utsname: Utsname = {
    sysname: 'Linux',
    nodename: '',
    release: vi?.osrelease ?? '',
    version: '',
    machine: arch === 'arm64' ? 'aarch64' : 'x86_64',
    domainname: '',
  };
  let physBase = 0n;
  if (vi) {
    physBase = physBaseOf(vi, kernelText, warnings);
    utsname = utsnameOf(vi, kernelText, arch, readPhysBig, warnings) ?? utsname;
  }
  return {
    utsname,
    crashTime: tolerant(() => vi?.crashTime, warnings) ?? 0,
    nrCpus: notes.nrCpus,
    physBase,
    notes: notes.data,
    vmcoreinfo: notes.vmcoreinfoLoc,
    pageSize,
  };
}

/** phys_base: VMCOREINFO's NUMBER(phys_base), else derived from the kernel-text PT_LOAD, else 0. */
function physBaseOf(vi: Vmcoreinfo, kernelText: KernelTextMapping | undefined, warnings: ElfReaderWarning[]): bigint {
  const pb = tolerant(() => vi.number('phys_base'), warnings);
  if (pb !== undefined) return BigInt.asUintN(64, pb);
  if (kernelText) return BigInt.asUintN(64, kernelText.paddr - (kernelText.vaddr - START_KERNEL_MAP));
  return 0n;
}

/** The utsname in init_uts_ns, or undefined (with a warning) when it cannot be read or disagrees with OSRELEASE. */
function utsnameOf(
  vi: Vmcoreinfo,
  kernelText: KernelTextMapping | undefined,
  arch: KernelArch | undefined,
  readPhysBig: (pa: bigint, len: number) => Uint8Array | undefined,
  warnings: ElfReaderWarning[],
): Utsname | undefined {
  let sym: bigint | undefined;
  let off: number | undefined;
  try {
    sym = vi.symbol('init_uts_ns');
    off = vi.offset('uts_namespace.name');
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
  }
  if (sym === undefined || off === undefined) {
    warnings.push({ code: 'utsname', message: 'VMCOREINFO lacks SYMBOL(init_uts_ns) or OFFSET(uts_namespace.name); utsname from OSRELEASE' });
    return undefined;
  }
  let u: Utsname;
  try {
    u = decodeUtsname(readInitUts(vi, sym + BigInt(off), kernelText, arch, readPhysBig));
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    warnings.push({ code: 'utsname', message: `cannot read init_uts_ns (${e.message}); utsname from OSRELEASE` });
    return undefined;
  }
  if (vi.osrelease !== undefined && u.release !== vi.osrelease) {
    warnings.push({
      code: 'utsname',
      message: `init_uts_ns release "${u.release}" differs from OSRELEASE "${vi.osrelease}"; using OSRELEASE`,
    });
    return undefined;
  }
  return u;
}

/** The six fields of init_uts_ns.name at virtual address `va`, read through the kernel's page tables. */
function readInitUts(
  vi: Vmcoreinfo,
  va: bigint,
  kernelText: KernelTextMapping | undefined,
  arch: KernelArch | undefined,
  readPhysBig: (pa: bigint, len: number) => Uint8Array | undefined,
): Uint8Array {
  const readU64 = (pa: bigint) => {
    const b = readPhysBig(pa, 8);
    return b ? Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0) : undefined;
  };
  const { translator } = kernelTranslator(vi, readU64, { kernelText, arch });
  const len = 6 * UTS_LEN;
  const buf = new Uint8Array(len);
  let at = 0;
  for (const piece of translator.translateRange(va, len)) {
    const b = readPhysBig(piece.pa, piece.len);
    if (!b) throw new VmcoreError('E_FORMAT', `init_uts_ns at physical ${hex(piece.pa)} is not in the dump`);
    buf.set(b, at);
    at += piece.len;
  }
  return buf;
}

/** struct new_utsname: six NUL-terminated fields of __NEW_UTS_LEN + 1 bytes. */
function decodeUtsname(buf: Uint8Array): Utsname {
  return {
    sysname: cstr(buf, 0, UTS_LEN),
    nodename: cstr(buf, UTS_LEN, UTS_LEN),
    release: cstr(buf, 2 * UTS_LEN, UTS_LEN),
    version: cstr(buf, 3 * UTS_LEN, UTS_LEN),
    machine: cstr(buf, 4 * UTS_LEN, UTS_LEN),
    domainname: cstr(buf, 5 * UTS_LEN, UTS_LEN),
  };
}

/**
 * PAGESIZE from VMCOREINFO (4096 when there is none or it is malformed, with a warning); a
 * well-formed value that is not 4, 16 or 64 KiB is refused (E_VMCOREINFO naming the key).
 */
export function dumpPageSize(vi: Vmcoreinfo | null, warnings: { code: string; message: string }[], path: string): number {
  const v = tolerant(() => vi?.pageSize, warnings as ElfReaderWarning[]);
  if (v === undefined) return DEFAULT_PAGE;
  if (v !== 4096 && v !== 16384 && v !== 65536) {
    throw new VmcoreError('E_VMCOREINFO', `${path}: PAGESIZE=${v} is not a page size this tool reads (4096, 16384 or 65536)`, { key: 'PAGESIZE', path });
  }
  return v;
}

/** A VMCOREINFO value, or undefined (with a warning) when it is malformed. */
function tolerant<T>(get: () => T | undefined, warnings: ElfReaderWarning[]): T | undefined {
  try {
    return get();
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    warnings.push({ code: 'vmcoreinfo', message: e.message });
    return undefined;
  }
}
