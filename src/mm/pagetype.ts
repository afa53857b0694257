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
  /**
   * `is(word, t)` as one int32 test, `(word & mask) === value`, for hot loops that hold the
   * word as an int32; null when type `t` cannot be tested (then `is` is always false).
   */
  test(t: PageTypeName): PageTypeTest | null;
  /** A free page reported to the hypervisor: buddy and offline at once. */
  isHinted(word: number): boolean;
}

/** A page-type test on an int32 word: the type is present iff `(word & mask) === value`. */
export interface PageTypeTest {
  mask: number;
  value: number;
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

/**
 * The page-type generations, each in one place: how its exported values look (`matches`, tried
 * in this order on the first exported value), its PAGE_TYPE_BASE, and the one int32 test of a
 * type. A new generation is one more entry.
 */
interface SchemeRule {
  scheme: Exclude<PageTypeScheme, 'none'>;
  matches(ref: number): boolean;
  base?(ref: number): number;
  test(v: number, base: number | undefined): PageTypeTest;
  /** Whether one word can carry two types (buddy and offline: a hinted free page). */
  encodesHinted?: boolean;
}
const SCHEMES: readonly SchemeRule[] = [
  {
    // 6.12+: the type is the top byte (≥ 0x80), the low 24 bits are data.
    scheme: 'top-byte',
    matches: (ref) => ((ref >>> 0) & 0xffffff) === 0 && (ref >>> 0) >>> 24 >= 0x80,
    test: (v) => ({ mask: 0xff000000 | 0, value: (v & 0xff000000) | 0 }),
  },
  {
    // 4.18–6.11: a type is one cleared bit under PAGE_TYPE_BASE; PageT(w) ⇔ (w & (base | T)) == base.
    scheme: 'inverted',
    matches: (ref) => {
      const bit = ~ref >>> 0;
      return bit !== 0 && (bit & (bit - 1)) === 0;
    },
    // 6.11 moved the type bits up under a 0x80000000 base; earlier kernels keep them low.
    base: (ref) => ((~ref >>> 0) >= 0x01000000 ? 0x80000000 : 0xf0000000),
    test: (v, base) => ({ mask: (base! | ~v) | 0, value: base! | 0 }),
    encodesHinted: true,
  },
  {
    // ≤ 4.17: a typed page holds exactly the exported value.
    scheme: 'sentinel',
    matches: () => true,
    test: (v) => ({ mask: -1, value: v | 0 }),
  },
];

/** Build a decoder from exported values (int32 as VMCOREINFO prints them). */
export function pageTypeDecoder(values: Partial<Record<PageTypeName, number>>, decidedBy: string[] = []): PageTypeDecoder {
  const ref = values.buddy ?? values.offline ?? values.slab ?? values.hugetlb;
  const rule = ref === undefined ? undefined : SCHEMES.find((r) => r.matches(ref));
  const scheme: PageTypeScheme = rule?.scheme ?? 'none';
  const base = rule?.base?.(ref!);
  // Every scheme's test is a mask and compare on the 32-bit word (int32 arithmetic: `&` works
  // mod 2^32, so a u32 or an int32 word gives the same answer).
  const tests: Partial<Record<PageTypeName, PageTypeTest>> = {};
  if (rule) for (const [t, v] of Object.entries(values) as [PageTypeName, number][]) tests[t] = rule.test(v, base);
  const test = (t: PageTypeName): PageTypeTest | null => tests[t] ?? null;
  const is = (w: number, t: PageTypeName): boolean => {
    const m = tests[t];
    return m !== undefined && (w & m.mask) === m.value;
  };
  const canEncodeHinted = rule?.encodesHinted === true && values.buddy !== undefined && values.offline !== undefined;
  const hintedValue = canEncodeHinted ? (values.buddy! & values.offline!) | 0 : undefined;
  return {
    scheme,
    base,
    values,
    decidedBy,
    canEncodeHinted,
    hintedValue,
    is,
    test,
    isHinted: (w) => canEncodeHinted && is(w, 'buddy') && is(w, 'offline'),
  };
}
