/**
 * Cached u64 reads of physical memory for page-table walks and pointer chasing: a small LRU
 * of whole pages (the dump's page size), so a walk touching the same tables reads each table page once.
 */
import { readablePfns, type DumpReader } from '../formats/dump.js';
import type { ReadPhysU64 } from '../addrxlat/walk.js';

/** A physical u64 reader with a page cache; `undefined` for addresses the dump does not hold. */
export interface CachedPhysReader {
  readU64: ReadPhysU64;
  /** Number of page reads issued (for tests and statistics). */
  readonly pageReads: number;
}

/** Build a cached u64 reader over `reader`'s readable pages. */
export function createPhysU64Reader(
  reader: Pick<DumpReader, 'present' | 'presentSet' | 'dumpable' | 'readableSet' | 'maxMapnr' | 'readPages'>,
  cachePages = 64,
  pageSize = 4096,
): CachedPhysReader {
  const pageBig = BigInt(pageSize);
  // The readable pfns as the reader keeps them (an ELF input's runs), not as a whole-dump
  // bitmap: that costs max_mapnr/8 bytes, which past 2^35 pfns Node cannot allocate at all
  // (the classifier then kept every page of a 2^40-pfn dump as undecided).
  const readable = readablePfns(reader);
  const cache = new Map<number, DataView>();
  let pageReads = 0;
  const readU64: ReadPhysU64 = (paddr) => {
    if (paddr < 0n || (paddr & 7n) !== 0n) {
      if (paddr < 0n) return undefined;
      // Unaligned: assemble from bytes (never happens for page-table entries).
      const lo = readU64(paddr & ~7n);
      const hi = readU64((paddr & ~7n) + 8n);
      if (lo === undefined || hi === undefined) return undefined;
      const sh = (paddr & 7n) * 8n;
      return BigInt.asUintN(64, (lo >> sh) | (hi << (64n - sh)));
    }
    const pfnBig = paddr / pageBig;
    if (pfnBig >= BigInt(reader.maxMapnr)) return undefined;
    const pfn = Number(pfnBig);
    let v = cache.get(pfn);
    if (v) {
      cache.delete(pfn);
      cache.set(pfn, v);
    } else {
      if (!readable.get(pfn)) return undefined;
      const b = new Uint8Array(pageSize);
      reader.readPages(pfn, 1, b);
      pageReads++;
      v = new DataView(b.buffer);
      cache.set(pfn, v);
      if (cache.size > cachePages) cache.delete(cache.keys().next().value!);
    }
    return v.getBigUint64(Number(paddr % pageBig), true);
  };
  return {
    readU64,
    get pageReads() {
      return pageReads;
    },
  };
}
