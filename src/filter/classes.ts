/** Page classes: one per pfn, stored as a small integer id. */

/** Class names, in id order. */
export const CLASS_NAMES = [
  'hole',
  'free',
  'hinted',
  'offline',
  'hwpoison',
  'cache',
  'cache_private',
  'user',
  'hugetlb',
  'slab',
  'kernel',
  'unknown',
  // Memory above the kernel's memory map (no struct page: device memory, firmware); see classify.ts.
  'no_struct_page',
] as const;

export type PageClassName = (typeof CLASS_NAMES)[number];

/** Class ids (`classOf[pfn]` values). */
export const PageClass = {
  hole: 0,
  free: 1,
  hinted: 2,
  offline: 3,
  hwpoison: 4,
  cache: 5,
  cache_private: 6,
  user: 7,
  hugetlb: 8,
  slab: 9,
  kernel: 10,
  unknown: 11,
  no_struct_page: 12,
} as const satisfies Record<PageClassName, number>;

export const NR_CLASSES = CLASS_NAMES.length;

/** A zero-filled per-class counter. */
export function emptyCounts(): Record<PageClassName, number> {
  const c = {} as Record<PageClassName, number>;
  for (const n of CLASS_NAMES) c[n] = 0;
  return c;
}
