/**
 * ELF64 little-endian layouts used by vmcores, defined once for reading and writing
 * (FORMATS.md §1.2–1.4).
 */
import { VmcoreError, hex } from '../../errors.js';

export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const NHDR_SIZE = 12;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
/** e_machine of an arm64 (AArch64) vmcore. */
export const EM_AARCH64 = 183;
export const PN_XNUM = 0xffff;
export const NT_PRSTATUS = 1;
/** Bit makedumpfile sets in e_flags when its ELF output is incomplete. */
export const ELF_INCOMPLETE_FLAG = 1;
export const PRSTATUS_SIZE_X86_64 = 336;

export interface Elf64Ehdr {
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface Elf64Phdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: bigint;
}

export interface ElfNote {
  name: string;
  type: number;
  /** File offset of the descriptor. */
  descOffset: number;
  desc: Buffer;
}

function safe(v: bigint, what: string, at: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VmcoreError('E_LIMIT', `ELF ${what} ${hex(v)} at offset ${hex(at)} is out of range`, { offset: at });
  }
  return Number(v);
}

export function decodeEhdr(b: Uint8Array): Elf64Ehdr {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    type: v.getUint16(16, true),
    machine: v.getUint16(18, true),
    version: v.getUint32(20, true),
    entry: v.getBigUint64(24, true),
    phoff: safe(v.getBigUint64(32, true), 'e_phoff', 32),
    shoff: safe(v.getBigUint64(40, true), 'e_shoff', 40),
    flags: v.getUint32(48, true),
    ehsize: v.getUint16(52, true),
    phentsize: v.getUint16(54, true),
    phnum: v.getUint16(56, true),
    shentsize: v.getUint16(58, true),
    shnum: v.getUint16(60, true),
    shstrndx: v.getUint16(62, true),
  };
}

export function encodeEhdr(h: Elf64Ehdr, out: Uint8Array = new Uint8Array(EHDR_SIZE)): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset, EHDR_SIZE);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  for (let i = 8; i < 16; i++) out[i] = 0;
  v.setUint16(16, h.type, true);
  v.setUint16(18, h.machine, true);
  v.setUint32(20, h.version, true);
  v.setBigUint64(24, h.entry, true);
  v.setBigUint64(32, BigInt(h.phoff), true);
  v.setBigUint64(40, BigInt(h.shoff), true);
  v.setUint32(48, h.flags, true);
  v.setUint16(52, h.ehsize, true);
  v.setUint16(54, h.phentsize, true);
  v.setUint16(56, h.phnum, true);
  v.setUint16(58, h.shentsize, true);
  v.setUint16(60, h.shnum, true);
  v.setUint16(62, h.shstrndx, true);
  return out;
}

/** The Ehdr a vmcore has, for `phnum` program headers. */
export function vmcoreEhdr(phnum: number, machine: number = EM_X86_64): Elf64Ehdr {
  return {
    type: ET_CORE,
    machine,
    version: 1,
    entry: 0n,
    phoff: EHDR_SIZE,
    shoff: 0,
    flags: 0,
    ehsize: EHDR_SIZE,
    phentsize: PHDR_SIZE,
    phnum,
    shentsize: 0,
    shnum: 0,
    shstrndx: 0,
  };
}

export function decodePhdr(b: Uint8Array, off: number, fileOffset: number): Elf64Phdr {
  const v = new DataView(b.buffer, b.byteOffset + off, PHDR_SIZE);
  return {
    type: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    offset: safe(v.getBigUint64(8, true), 'p_offset', fileOffset + 8),
    vaddr: v.getBigUint64(16, true),
    paddr: v.getBigUint64(24, true),
    filesz: safe(v.getBigUint64(32, true), 'p_filesz', fileOffset + 32),
    memsz: safe(v.getBigUint64(40, true), 'p_memsz', fileOffset + 40),
    align: v.getBigUint64(48, true),
  };
}

export function encodePhdr(p: Elf64Phdr, out: Uint8Array, off: number): void {
  const v = new DataView(out.buffer, out.byteOffset + off, PHDR_SIZE);
  v.setUint32(0, p.type, true);
  v.setUint32(4, p.flags, true);
  v.setBigUint64(8, BigInt(p.offset), true);
  v.setBigUint64(16, p.vaddr, true);
  v.setBigUint64(24, p.paddr, true);
  v.setBigUint64(32, BigInt(p.filesz), true);
  v.setBigUint64(40, BigInt(p.memsz), true);
  v.setBigUint64(48, p.align, true);
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Bytes one note occupies. */
export function noteSize(name: string, descLen: number): number {
  return NHDR_SIZE + pad4(name.length + 1) + pad4(descLen);
}

/** Encode one note (name NUL-terminated, both padded to 4). */
export function encodeNote(name: string, type: number, desc: Uint8Array): Buffer {
  const out = Buffer.alloc(noteSize(name, desc.length));
  out.writeUInt32LE(name.length + 1, 0);
  out.writeUInt32LE(desc.length, 4);
  out.writeUInt32LE(type, 8);
  out.write(name, NHDR_SIZE, 'latin1');
  out.set(desc, NHDR_SIZE + pad4(name.length + 1));
  return out;
}

/**
 * Decode the notes of a note segment. Stops at a note with namesz 0 (the kernel's terminator);
 * a note that runs past the segment is an error naming its offset.
 */
export function decodeNotes(seg: Buffer, segFileOffset: number): ElfNote[] {
  const notes: ElfNote[] = [];
  let off = 0;
  while (off + NHDR_SIZE <= seg.length) {
    const namesz = seg.readUInt32LE(off);
    const descsz = seg.readUInt32LE(off + 4);
    const type = seg.readUInt32LE(off + 8);
    if (namesz === 0) break;
    const nameEnd = off + NHDR_SIZE + pad4(namesz);
    const descEnd = nameEnd + pad4(descsz);
    if (namesz > 4096 || nameEnd > seg.length || nameEnd + descsz > seg.length) {
      throw new VmcoreError(
        'E_FORMAT',
        `ELF note at offset ${hex(segFileOffset + off)} (namesz ${namesz}, descsz ${descsz}) runs past the note segment`,
        { offset: segFileOffset + off },
      );
    }
    let name = seg.toString('latin1', off + NHDR_SIZE, off + NHDR_SIZE + namesz);
    const nul = name.indexOf('\0');
    if (nul >= 0) name = name.slice(0, nul);
    notes.push({ name, type, descOffset: segFileOffset + nameEnd, desc: seg.subarray(nameEnd, nameEnd + descsz) });
    off = descEnd;
  }
  return notes;
}
