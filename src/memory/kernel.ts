/**
 * Kernel virtual memory of a dump: the kernel translator (x86_64 or arm64, from VMCOREINFO)
 * joined to a reader's physical pages, in the dump's page size. Used to read mem_section roots, mem_map, zones and free lists.
 */
import { VmcoreError, hex } from '../errors.js';
import { readablePfns, type DumpReader } from '../formats/dump.js';
import type { PfnSet } from '../io/pfn-set.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { KernelTextMapping } from '../addrxlat/x86_64.js';
import type { SparseXlatPiece } from '../addrxlat/walk.js';
import { kernelTranslator, type AnyKernelTranslator, type Translator } from '../addrxlat/kernel.js';
import { createPhysU64Reader } from './physcache.js';

export interface KernelMemoryOptions {
  kernelText?: KernelTextMapping;
}

/** Virtual reads through the kernel page tables. */
export class KernelMemory {
  readonly translator: Translator;
  readonly xlat: AnyKernelTranslator;
  /** The dump's page size (PAGESIZE). */
  readonly pageSize: number;
  readonly readPhysU64: (pa: bigint) => bigint | undefined;
  /**
   * Pfns with readable data (see {@link readablePfns}): an ELF input's runs, never a whole-dump
   * bitmap (max_mapnr/8 bytes, which Node cannot allocate past 2^35 pfns).
   */
  readonly readable: PfnSet;

  constructor(
    readonly reader: DumpReader,
    readonly vi: Vmcoreinfo,
    opts: KernelMemoryOptions = {},
  ) {
    this.readable = readablePfns(reader);
    this.pageSize = reader.info.pageSize;
    const kernelPage = vi.pageSize;
    if (kernelPage !== undefined && kernelPage !== this.pageSize) {
      // struct pages describe the kernel's pages: a dump in other units cannot be matched to them
      // (larger whole-multiple blocks are split by formats/blocks.ts before this point)
      throw new VmcoreError('E_VMCOREINFO', `${reader.path}: the dump's pages are ${this.pageSize} bytes but PAGESIZE=${kernelPage}`, { key: 'PAGESIZE', path: reader.path });
    }
    const cached = createPhysU64Reader(reader, 64, this.pageSize);
    this.readPhysU64 = cached.readU64;
    const kernelText = opts.kernelText ?? (reader as { kernelText?: KernelTextMapping }).kernelText;
    const arch = reader.info.utsname.machine === 'aarch64' ? 'arm64' : undefined;
    this.xlat = kernelTranslator(vi, cached.readU64, { kernelText, fallbackPhysBase: reader.info.physBase, arch });
    this.translator = this.xlat.translator;
  }

  /** True when every pfn of [pa, pa+len) has readable data in the dump. */
  physPresent(pa: bigint, len: number): boolean {
    return this.physPresentAt(Number(pa), len);
  }

  /** {@link physPresent} for a physical address held as a number (< 2^52: no BigInt in hot paths). */
  physPresentAt(pa: number, len: number): boolean {
    if (len <= 0) return true;
    const first = Math.floor(pa / this.pageSize);
    const last = Math.floor((pa + len - 1) / this.pageSize);
    if (last >= this.reader.maxMapnr) return false;
    return this.readable.nextClear(first, last + 1) > last;
  }

  /** Read `len` bytes at kernel virtual `va`; throws E_ADDRXLAT or E_FORMAT naming the address. */
  readVirt(va: bigint, len: number, buf: Uint8Array = new Uint8Array(len), bufOff = 0): Uint8Array {
    let at = bufOff;
    for (const p of this.translator.translateRange(va, len)) {
      if (!this.physPresent(p.pa, p.len)) {
        throw new VmcoreError('E_FORMAT', `reading ${hex(p.va)}: physical ${hex(p.pa)} is not in the dump`, {
          address: p.va,
          pfn: Number(p.pa / BigInt(this.pageSize)),
        });
      }
      this.readPhysAny(p.pa, p.len, buf, at);
      at += p.len;
    }
    return buf;
  }

  /** Read a u64 at kernel virtual `va`. */
  readU64(va: bigint): bigint {
    const pa = this.translator.translate(va);
    const v = this.readPhysU64(pa);
    if (v === undefined) {
      throw new VmcoreError('E_FORMAT', `reading ${hex(va)}: physical ${hex(pa)} is not in the dump`, { address: va });
    }
    return v;
  }

  /** Like readU64 but undefined on any translation or presence failure. */
  tryReadU64(va: bigint): bigint | undefined {
    const pa = this.translator.tryTranslate(va);
    return pa === undefined ? undefined : this.readPhysU64(pa);
  }

  /** Pieces of a virtual range, unmapped or absent stretches marked `pa: null`. */
  mapRange(va: bigint, len: number): SparseXlatPiece[] {
    return this.translator.translateRangeSparse(va, len);
  }

  /** Physical read; page-granular when aligned (the reader's fast path), else via readPhys. */
  readPhysAny(pa: bigint, len: number, buf: Uint8Array, bufOff = 0): void {
    this.readPhysAt(Number(pa), len, buf, bufOff);
  }

  /** {@link readPhysAny} for a physical address held as a number (< 2^52). */
  readPhysAt(pa: number, len: number, buf: Uint8Array, bufOff = 0): void {
    const ps = this.pageSize;
    if (pa % ps === 0 && len % ps === 0) {
      this.reader.readPages(pa / ps, len / ps, buf, bufOff);
    } else {
      this.reader.readPhys(pa, len, buf, bufOff);
    }
  }
}
