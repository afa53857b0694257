/**
 * x86_64 virtual → physical translation by walking the kernel page tables (FORMATS.md §5.5).
 * Pure: it is fed by a physical-read callback and VMCOREINFO numbers and knows nothing of
 * files or dump formats (STYLE.md habit 3).
 */
import { VmcoreError, hex } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { XlatFailure, cachedEntryReader, translatorOps, type ReadPhysU64, type TranslatorOps, type XlatResult } from './walk.js';

/** `__START_KERNEL_map`: base of the kernel-image mapping. */
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** Physical-address bits an entry can hold (bits 12–51). */
export const PTE_PFN_MASK = 0x000ffffffffff000n;

const PRESENT = 1n;
const PSE = 0x80n;
const U64 = (1n << 64n) - 1n;
const LEVEL_NAMES = ['PTE', 'PMD', 'PUD', 'P4D', 'PGD'] as const;
/** Shift of the address bits each level indexes (index = level: 0 PTE … 4 PGD in 5-level). */
const SHIFTS = [12n, 21n, 30n, 39n, 48n];

export type { ReadPhysU64, XlatPiece, SparseXlatPiece, XlatResult } from './walk.js';

export interface X86_64TranslatorOptions {
  readPhysU64: ReadPhysU64;
  /** Physical address of the top-level table (PGD, or the 5-level PML5). */
  topPgtPhys: bigint;
  /** 5-level paging (`NUMBER(pgtable_l5_enabled)`). */
  l5: boolean;
  /** AMD SME encryption bit(s) to strip from entries (`NUMBER(sme_mask)`). */
  smeMask?: bigint;
}

export interface X86_64Translator extends TranslatorOps {
  readonly arch: 'x86_64';
  readonly l5: boolean;
  readonly topPgtPhys: bigint;
  /** Lowest kernel-half address (for telling kernel pointers from garbage). */
  readonly kernelStart: bigint;
}

/** Create a translator walking 4- or 5-level tables from `topPgtPhys`. */
export function createX86_64Translator(opts: X86_64TranslatorOptions): X86_64Translator {
  const { readPhysU64, topPgtPhys, l5 } = opts;
  const entryMask = PTE_PFN_MASK & ~(opts.smeMask ?? 0n);
  const topLevel = l5 ? 4 : 3;
  const readEntry = cachedEntryReader(5, readPhysU64);

  function canonical(va: bigint): boolean {
    const bits = l5 ? 57n : 48n;
    const top = va >> (bits - 1n);
    return top === 0n || top === U64 >> (bits - 1n);
  }

  function walkInner(va: bigint): XlatResult | XlatFailure {
    if (va < 0n || va > U64) return new XlatFailure('address is not a 64-bit value', 'PGD', 1n);
    if (!canonical(va)) return new XlatFailure('non-canonical address', 'PGD', 1n);
    let table = topPgtPhys & entryMask;
    const visited: bigint[] = [];
    for (let level = topLevel; level >= 0; level--) {
      const name = level === topLevel ? 'PGD' : LEVEL_NAMES[level]!;
      const shift = SHIFTS[level]!;
      const span = 1n << shift;
      const remaining = span - (va & (span - 1n));
      if (visited.includes(table)) {
        return new XlatFailure(`${name} table at ${hex(table)} loops back to a higher-level table`, name, remaining);
      }
      visited.push(table);
      const entryAddr = table + ((va >> shift) & 511n) * 8n;
      const e = readEntry(level, entryAddr);
      if (e === undefined) {
        return new XlatFailure(`${name} entry at physical ${hex(entryAddr)} is not in the dump`, name, remaining);
      }
      if ((e & PRESENT) === 0n) return new XlatFailure(`${name} entry not present`, name, remaining);
      if (level === 0) return { pa: (e & entryMask) | (va & 4095n), pageSize: 4096 };
      if ((level === 1 || level === 2) && (e & PSE) !== 0n) {
        return { pa: ((e & entryMask) & ~(span - 1n)) | (va & (span - 1n)), pageSize: Number(span) };
      }
      table = e & entryMask;
    }
    /* c8 ignore next */
    return new XlatFailure('walk did not end', 'PTE', 1n);
  }

  return { arch: 'x86_64', l5, topPgtPhys, kernelStart: l5 ? 0xff00000000000000n : 0xffff800000000000n, ...translatorOps(walkInner) };
}

/** The kernel-text PT_LOAD (or equivalent) used to derive phys_base when it is not exported. */
export interface KernelTextMapping {
  vaddr: bigint;
  paddr: bigint;
}

export interface KernelTranslatorOptions {
  /** Kernel-text PT_LOAD: `phys_base = p_paddr − (p_vaddr − __START_KERNEL_map)` (FORMATS.md §1.3). */
  kernelText?: KernelTextMapping;
  /** phys_base from elsewhere (e.g. a kdump sub-header) when VMCOREINFO lacks it. */
  fallbackPhysBase?: bigint;
}

export interface KernelTranslator {
  translator: X86_64Translator;
  physBase: bigint;
  /** Where phys_base came from. */
  physBaseSource: 'NUMBER(phys_base)' | 'kernel-text PT_LOAD' | 'fallback' | 'assumed 0';
  /** The VMCOREINFO key naming the top table. */
  topSymbol: string;
}

/**
 * Build the kernel's translator from VMCOREINFO: top = SYMBOL(init_top_pgt) (or init_level4_pgt,
 * swapper_pg_dir) − __START_KERNEL_map + phys_base; 5-level from NUMBER(pgtable_l5_enabled);
 * SME mask from NUMBER(sme_mask). Throws E_VMCOREINFO when no top-table symbol is exported.
 */
export function kernelTranslatorFromVmcoreinfo(
  vi: Vmcoreinfo,
  readPhysU64: ReadPhysU64,
  opts: KernelTranslatorOptions = {},
): KernelTranslator {
  let topSymbol = '';
  let topVa: bigint | undefined;
  for (const s of ['init_top_pgt', 'init_level4_pgt', 'swapper_pg_dir']) {
    topVa = vi.symbol(s);
    if (topVa !== undefined) {
      topSymbol = `SYMBOL(${s})`;
      break;
    }
  }
  if (topVa === undefined) {
    throw new VmcoreError('E_VMCOREINFO', 'VMCOREINFO lacks SYMBOL(init_top_pgt) (and init_level4_pgt, swapper_pg_dir): cannot translate kernel addresses', {
      key: 'SYMBOL(init_top_pgt)',
    });
  }
  if (topVa < START_KERNEL_MAP) {
    throw new VmcoreError('E_VMCOREINFO', `${topSymbol}=${hex(topVa)} is not a kernel-image address`, { key: topSymbol });
  }
  let physBase: bigint;
  let physBaseSource: KernelTranslator['physBaseSource'];
  const exported = vi.number('phys_base');
  if (exported !== undefined) {
    physBase = BigInt.asUintN(64, exported);
    physBaseSource = 'NUMBER(phys_base)';
  } else if (opts.kernelText && opts.kernelText.vaddr >= START_KERNEL_MAP) {
    physBase = BigInt.asUintN(64, opts.kernelText.paddr - (opts.kernelText.vaddr - START_KERNEL_MAP));
    physBaseSource = 'kernel-text PT_LOAD';
  } else if (opts.fallbackPhysBase !== undefined) {
    physBase = opts.fallbackPhysBase;
    physBaseSource = 'fallback';
  } else {
    physBase = 0n;
    physBaseSource = 'assumed 0';
  }
  const l5 = (vi.number('pgtable_l5_enabled') ?? 0n) !== 0n;
  const sme = vi.number('sme_mask');
  const translator = createX86_64Translator({
    readPhysU64,
    topPgtPhys: BigInt.asUintN(64, topVa - START_KERNEL_MAP + physBase),
    l5,
    smeMask: sme === undefined ? undefined : BigInt.asUintN(64, sme),
  });
  return { translator, physBase, physBaseSource, topSymbol };
}
