/**
 * What every page-table walker shares: the result and piece types, and the range operations
 * built on one "walk this address or say why not" function. Pure, like the walkers.
 */
import { VmcoreError, hex } from '../errors.js';

/** Where translation reads page-table entries: one u64 at a physical address, or undefined if absent. */
export type ReadPhysU64 = (paddr: bigint) => bigint | undefined;

/** One physically contiguous piece of a virtual range. */
export interface XlatPiece {
  va: bigint;
  pa: bigint;
  len: number;
}

/** A piece of a virtual range that may be unmapped (`pa === null`). */
export interface SparseXlatPiece {
  va: bigint;
  pa: bigint | null;
  len: number;
  /** Why the piece is unmapped. */
  reason?: string;
}

/** Result of one walk: the physical address and the size of the page that maps it. */
export interface XlatResult {
  pa: bigint;
  pageSize: number;
}

/** Why one walk failed, and how far the unmapped region reaches from the address. */
export class XlatFailure {
  constructor(
    readonly message: string,
    readonly level: string,
    /** Bytes from va to the end of the unmapped region at that level. */
    readonly span: bigint,
  ) {}
}

/** A walk of one address: the mapping, or why there is none. */
export type WalkFn = (va: bigint) => XlatResult | XlatFailure;

/** The operations of a kernel translator, whatever the architecture. */
export interface TranslatorOps {
  /** Translate one address; throws E_ADDRXLAT naming the address and the failing level. */
  translate(va: bigint): bigint;
  /** Translate and report the size of the page (or block) that maps it. */
  walk(va: bigint): XlatResult;
  /** Like translate, but undefined instead of throwing. */
  tryTranslate(va: bigint): bigint | undefined;
  /** Physically contiguous pieces of `[va, va+len)`; throws E_ADDRXLAT on the first unmapped byte. */
  translateRange(va: bigint, len: number): XlatPiece[];
  /** Pieces of `[va, va+len)` with unmapped stretches reported as `pa: null` instead of failing. */
  translateRangeSparse(va: bigint, len: number): SparseXlatPiece[];
}

/** Build the range operations over one walker. */
export function translatorOps(walkInner: WalkFn): TranslatorOps {
  function fail(va: bigint, f: XlatFailure): never {
    throw new VmcoreError('E_ADDRXLAT', `cannot translate ${hex(va)}: ${f.message}`, { address: va, level: f.level });
  }

  function walk(va: bigint): XlatResult {
    const r = walkInner(va);
    if (r instanceof XlatFailure) fail(va, r);
    return r;
  }

  function translateRangeSparse(va: bigint, len: number): SparseXlatPiece[] {
    const out: SparseXlatPiece[] = [];
    let cur = va;
    const end = va + BigInt(len);
    while (cur < end) {
      const r = walkInner(cur);
      if (r instanceof XlatFailure) {
        let step = r.span;
        if (cur + step > end) step = end - cur;
        const last = out[out.length - 1];
        const reason = `${r.level}: ${r.message}`;
        if (last && last.pa === null && last.reason === reason) last.len += Number(step);
        else out.push({ va: cur, pa: null, len: Number(step), reason });
        cur += step;
        continue;
      }
      const ps = BigInt(r.pageSize);
      let step = ps - (cur & (ps - 1n));
      if (cur + step > end) step = end - cur;
      const last = out[out.length - 1];
      if (last && last.pa !== null && last.pa + BigInt(last.len) === r.pa) last.len += Number(step);
      else out.push({ va: cur, pa: r.pa, len: Number(step) });
      cur += step;
    }
    return out;
  }

  return {
    translate: (va) => walk(va).pa,
    walk,
    tryTranslate(va) {
      const r = walkInner(va);
      return r instanceof XlatFailure ? undefined : r.pa;
    },
    translateRange(va, len) {
      const out: XlatPiece[] = [];
      for (const p of translateRangeSparse(va, len)) {
        if (p.pa === null) {
          // Re-walk for the exact message ("PMD entry not present").
          walk(p.va);
          throw new VmcoreError('E_ADDRXLAT', `cannot translate ${hex(p.va)}`, { address: p.va });
        }
        out.push({ va: p.va, pa: p.pa, len: p.len });
      }
      return out;
    },
    translateRangeSparse,
  };
}

/**
 * Reads table entries through a one-entry cache per level: consecutive addresses share their
 * upper levels, so a walk over mem_map reads each upper entry once.
 */
export function cachedEntryReader(levels: number, readPhysU64: ReadPhysU64): (level: number, addr: bigint) => bigint | undefined {
  const cacheAddr: (bigint | undefined)[] = new Array(levels).fill(undefined);
  const cacheVal: bigint[] = new Array(levels).fill(0n);
  return (level, addr) => {
    if (cacheAddr[level] === addr) return cacheVal[level];
    const v = readPhysU64(addr);
    if (v === undefined) return undefined;
    cacheAddr[level] = addr;
    cacheVal[level] = v;
    return v;
  };
}
