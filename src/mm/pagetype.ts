/**
 * Page types in the `_mapcount` / `page_type` word, decoded from what VMCOREINFO exports.
 * The scheme is detected from the exported values, never from the kernel version
 * (FORMATS.md §3):
 *  - sentinel (≤ 4.17): a typed page holds exactly the exported value (buddy -128);
 *  - inverted bits (4.18–6.11): a type is a cleared bit under PAGE_TYPE_BASE
 *    (0xf0000000 until 6.10, 0x80000000 in 6.11); `PageT(w) ⇔ (w & (base|T)) == base`.
 *    A page with both the buddy and the offline bit cleared is a *hinted* free page
 *    (BUDDY & OFFLINE = -385 in the 0xf0000000 scheme);
 *  - top byte (6.12+, Linux commit 4ffca5a96678 ("mm: support only one page_type per page")):
 *    the type is `word >> 24`; the low 24 bits carry data. Hinted cannot be encoded.
 */
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';

export type PageTypeScheme = 'sentinel' | 'inverted' | 'top-byte' | 'none';

/** Page types a decoder may know; each is present only if the dump lets us test it. */
export type PageTypeName = 'buddy' | 'offline' | 'slab' | 'hugetlb' | 'unaccepted';

const EXPORT_KEY: Record<PageTypeName, string> = {
  buddy: 'PAGE_BUDDY_MAPCOUNT_VALUE',
  offline: 'PAGE_OFFLINE_MAPCOUNT_VALUE',
  slab: 'PAGE_SLAB_MAPCOUNT_VALUE',
  hugetlb: 'PAGE_HUGETLB_MAPCOUNT_VALUE',
  unaccepted: 'PAGE_UNACCEPTED_MAPCOUNT_VALUE',
};

/** A compiled page-type test for one kernel. */
export interface PageTypeDecoder {
  scheme: PageTypeScheme;
  /** PAGE_TYPE_BASE in the inverted scheme. */
  base?: number;
  /** Exported values (int32) by type. */
  values: Partial<Record<PageTypeName, number>>;
  /** The VMCOREINFO keys that decided the scheme. */
  decidedBy: string[];
  /** Whether a word can say "buddy and offline at once" (hinted). */
  canEncodeHinted: boolean;
  /** Derived hinted value (BUDDY & OFFLINE) when encodable. */
  hintedValue?: number;
  /** True if `word` carries type `t` (kernel semantics of the detected scheme). */
  is(word: number, t: PageTypeName): boolean;
  /** A free page reported to the hypervisor: buddy and offline at once. */
  isHinted(word: number): boolean;
}

/** Detect the page-type scheme of this kernel from its exported PAGE_*_MAPCOUNT_VALUE numbers. */
export function detectPageTypes(vi: Vmcoreinfo): PageTypeDecoder {
  const values: Partial<Record<PageTypeName, number>> = {};
  const decidedBy: string[] = [];
  for (const [t, key] of Object.entries(EXPORT_KEY) as [PageTypeName, string][]) {
    const v = vi.numberAsInt(key);
    if (v !== undefined) {
      values[t] = v | 0;
      decidedBy.push(`NUMBER(${key})`);
    }
  }
  return pageTypeDecoder(values, decidedBy);
}

/** Build a decoder from exported values (int32 as VMCOREINFO prints them). */
export function pageTypeDecoder(values: Partial<Record<PageTypeName, number>>, decidedBy: string[] = []): PageTypeDecoder {
  const buddy = values.buddy;
  let scheme: PageTypeScheme = 'none';
  let base: number | undefined;
  const ref = buddy ?? values.offline ?? values.slab ?? values.hugetlb;
  if (ref !== undefined) {
    const u = ref >>> 0;
    const bit = ~ref >>> 0;
    if ((u & 0xffffff) === 0 && u >>> 24 >= 0x80) {
      scheme = 'top-byte';
    } else if (bit !== 0 && (bit & (bit - 1)) === 0) {
      scheme = 'inverted';
      // 6.11 moved the type bits up under a 0x80000000 base; earlier kernels keep them low.
      base = bit >= 0x01000000 ? 0x80000000 : 0xf0000000;
    } else {
      scheme = 'sentinel';
    }
  }
  const u32 = (v: number) => v >>> 0;
  let is: (word: number, t: PageTypeName) => boolean;
  switch (scheme) {
    case 'inverted': {
      const b = base!;
      is = (w, t) => {
        const v = values[t];
        if (v === undefined) return false;
        const mask = (b | (~v >>> 0)) >>> 0;
        return ((w & mask) >>> 0) === b;
      };
      break;
    }
    case 'top-byte':
      is = (w, t) => {
        const v = values[t];
        return v !== undefined && w >>> 24 === u32(v) >>> 24;
      };
      break;
    case 'sentinel':
      is = (w, t) => {
        const v = values[t];
        return v !== undefined && u32(w) === u32(v);
      };
      break;
    default:
      is = () => false;
  }
  const canEncodeHinted = scheme === 'inverted' && values.buddy !== undefined && values.offline !== undefined;
  const hintedValue = canEncodeHinted ? (values.buddy! & values.offline!) | 0 : undefined;
  return {
    scheme,
    base,
    values,
    decidedBy,
    canEncodeHinted,
    hintedValue,
    is,
    isHinted: (w) => canEncodeHinted && is(w, 'buddy') && is(w, 'offline'),
  };
}
