/**
 * arm64 (AArch64) kernel virtual → physical translation by walking swapper_pg_dir, for 4, 16
 * and 64 KiB granules, 2–5 levels, 52-bit output addresses (64 KiB pages with
 * CONFIG_ARM64_PA_BITS_52, or LPA2), and the linear-map / kernel-image layout of the flipped
 * (5.4+) and the older VA space. Pure (STYLE.md habit 3): fed by a physical-read callback and
 * VMCOREINFO numbers. Every decision is made from exports
 * (arch/arm64/kernel/vmcore_info.c, formerly crash_core.c); where they do not suffice it throws
 * E_VMCOREINFO naming the key, never a guess.
 */
import { hex } from '../errors.js';
import { XlatFailure, cachedEntryReader, translatorOps, type ReadPhysU64, type TranslatorOps, type XlatResult } from './walk.js';

const U64 = (1n << 64n) - 1n;
/** Names by distance from the leaf level; the top level is always PGD. */
const LEVEL_NAMES = ['PTE', 'PMD', 'PUD', 'P4D'] as const;
/** The granules arm64 has (PAGE_SHIFT 12, 14, 16). */
export const ARM64_PAGE_SIZES = [4096, 16384, 65536] as const;

export interface Arm64TranslatorOptions {
  readPhysU64: ReadPhysU64;
  /** Physical address of swapper_pg_dir. */
  pgdPhys: bigint;
  /** log2 of the granule: 12, 14 or 16. */
  pageShift: number;
  /** CONFIG_ARM64_VA_BITS (`NUMBER(VA_BITS)`): the geometry swapper_pg_dir was built for. */
  vaBits: number;
  /** The VA size the MMU runs with (64 − TCR_EL1.T1SZ); less than vaBits when a 52-bit kernel runs on 48-bit hardware. */
  vaBitsActual: number;
  /** 64 KiB granule with 52-bit PAs: descriptor bits 15:12 hold PA[51:48]. */
  pa52?: boolean;
  /** LPA2 (4/16 KiB granule, 52-bit VA): descriptor bits 9:8 hold PA[51:50]. */
  lpa2?: boolean;
}

export interface Arm64Translator extends TranslatorOps {
  readonly arch: 'arm64';
  readonly pgdPhys: bigint;
  readonly pageShift: number;
  /** Levels walked (ARM64_HW_PGTABLE_LEVELS of vaBitsActual). */
  readonly levels: number;
  /** Lowest TTBR1 (kernel) address: 2^64 − 2^vaBitsActual. */
  readonly kernelStart: bigint;
}

/** ARM64_HW_PGTABLE_LEVELS(va_bits) of arch/arm64/include/asm/pgtable-hwdef.h. */
export function arm64Levels(vaBits: number, pageShift: number): number {
  return Math.floor((vaBits - 4) / (pageShift - 3));
}

/** Create a translator walking swapper_pg_dir. */
export function createArm64Translator(opts: Arm64TranslatorOptions): Arm64Translator {
  const { readPhysU64, pageShift, vaBits, vaBitsActual } = opts;
  const bitsPerLevel = pageShift - 3;
  const levels = arm64Levels(vaBitsActual, pageShift);
  const shiftOf = (level: number) => BigInt(pageShift + level * bitsPerLevel);
  const topLevel = levels - 1;
  const topShift = shiftOf(topLevel);
  const topIndexMask = (1n << (BigInt(vaBitsActual) - topShift)) - 1n;
  const lowMask = (1n << BigInt(pageShift)) - 1n;
  // Output address bits [47:PAGE_SHIFT] (LPA2: [49:PAGE_SHIFT]), plus the high PA bits held below.
  const oaMask = ((1n << (opts.lpa2 ? 50n : 48n)) - 1n) & ~lowMask;
  const outputAddress = (e: bigint): bigint => {
    let pa = e & oaMask;
    if (opts.lpa2) pa |= ((e >> 8n) & 3n) << 50n;
    else if (opts.pa52 && pageShift === 16) pa |= ((e >> 12n) & 0xfn) << 48n;
    return pa;
  };
  // A 52-bit 64K-page kernel on 48-bit hardware keeps the same number of levels and points
  // TTBR1 into swapper_pg_dir at TTBR1_BADDR_4852_OFFSET (arch/arm64/include/asm/asm-uaccess.h
  // offset_ttbr1): the top-level entries for the 48-bit range are the last ones of the table.
  let base = opts.pgdPhys;
  if (vaBits > vaBitsActual && arm64Levels(vaBits, pageShift) === levels) {
    base += ((1n << (BigInt(vaBits) - topShift)) - (1n << (BigInt(vaBitsActual) - topShift))) * 8n;
  }
  const kernelStart = (U64 << BigInt(vaBitsActual)) & U64;
  // Level 1 blocks exist for every granule; level 2 blocks for 4 KiB (1 GiB) and, with 52-bit
  // output addresses, for 16/64 KiB (64 GiB / 4 TiB) (Arm ARM D8.2, pgtable-hwdef.h).
  const blockAllowed = (level: number) => level === 1 || (level === 2 && (pageShift === 12 || !!opts.lpa2 || !!opts.pa52));
  const readEntry = cachedEntryReader(levels, readPhysU64);

  function walkInner(va: bigint): XlatResult | XlatFailure {
    if (va < 0n || va > U64) return new XlatFailure('address is not a 64-bit value', 'PGD', 1n);
    if (va < kernelStart) return new XlatFailure(`not a kernel (TTBR1) address for ${vaBitsActual}-bit VAs`, 'PGD', 1n);
    let table = base;
    const visited: bigint[] = [];
    for (let level = topLevel; level >= 0; level--) {
      const name = level === topLevel ? 'PGD' : LEVEL_NAMES[level]!;
      const shift = shiftOf(level);
      const span = 1n << shift;
      const remaining = span - (va & (span - 1n));
      if (visited.includes(table)) {
        return new XlatFailure(`${name} table at ${hex(table)} loops back to a higher-level table`, name, remaining);
      }
      visited.push(table);
      const mask = level === topLevel ? topIndexMask : (1n << BigInt(bitsPerLevel)) - 1n;
      const entryAddr = table + ((va >> shift) & mask) * 8n;
      const e = readEntry(level, entryAddr);
      if (e === undefined) {
        return new XlatFailure(`${name} entry at physical ${hex(entryAddr)} is not in the dump`, name, remaining);
      }
      const type = e & 3n;
      if ((type & 1n) === 0n) return new XlatFailure(`${name} entry not valid`, name, remaining);
      if (level === 0) {
        if (type !== 3n) return new XlatFailure('PTE entry is a reserved descriptor', name, remaining);
        return { pa: outputAddress(e) | (va & lowMask), pageSize: 1 << pageShift };
      }
      if (type === 1n) {
        if (!blockAllowed(level) || level === topLevel) return new XlatFailure(`${name} block descriptor is not allowed at this level`, name, remaining);
        return { pa: (outputAddress(e) & ~(span - 1n)) | (va & (span - 1n)), pageSize: Number(span) };
      }
      table = outputAddress(e);
    }
    /* c8 ignore next */
    return new XlatFailure('walk did not end', 'PTE', 1n);
  }

  return { arch: 'arm64', pgdPhys: opts.pgdPhys, pageShift, levels, kernelStart, ...translatorOps(walkInner) };
}
