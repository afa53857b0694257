/**
 * Which VMCOREINFO keys let a dump decide each page class. The classifier says whether a class is
 * decidable (and if not, why); this adds, for people and scripts, the exports that decided it.
 */
import { VmcoreError } from '../errors.js';
import { reportedKeys, type ClassSummary } from '../filter/index.js';
import { compoundDecoderFromVmcoreinfo } from '../mm/compound.js';
import { structPageLayoutFromVmcoreinfo } from '../mm/layout.js';
import { detectPageTypes } from '../mm/pagetype.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';

/** Classes a dump level can exclude (and `kernel`, which is never excluded), in report order. */
export const DECIDED_CLASSES = ['free', 'hinted', 'offline', 'hwpoison', 'zero', 'cache', 'cache_private', 'user', 'hugetlb', 'slab', 'kernel'] as const;
export type DecidedClass = (typeof DECIDED_CLASSES)[number];

/** How one class is decided in this dump. */
export interface ClassDecision {
  decidable: boolean;
  /** The exports (or other inputs) that decide it; empty when undecidable. */
  keys: string[];
  /** Why it cannot be decided (the missing exports). */
  missing?: string;
}

const FREE_LIST_SHOWN = ['OFFSET(zone.free_area)', 'OFFSET(free_area.free_list)', 'OFFSET(list_head.next)', 'OFFSET(page.lru)'];

/** The decision of every class: decidability from the classifier, keys from VMCOREINFO. */
export function classDecisions(c: ClassSummary, vi: Vmcoreinfo | null): Record<DecidedClass, ClassDecision> {
  const has = (k: string) => vi?.has(k) ?? false;
  const present = (...ks: string[]) => ks.filter(has);
  let hugetlbBy: string | null = null;
  let orderBy: string | null = null;
  if (vi) {
    try {
      const d = compoundDecoderFromVmcoreinfo(vi, structPageLayoutFromVmcoreinfo(vi), detectPageTypes(vi));
      hugetlbBy = d.hugetlbBy;
      orderBy = d.orderBy;
    } catch (e) {
      if (!(e instanceof VmcoreError)) throw e;
    }
  }
  const free =
    c.freePagesBy === 'page_type'
      ? present('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'OFFSET(page._mapcount)', 'OFFSET(page.private)', 'NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)')
      : c.freePagesBy === 'free_lists'
        ? [...present('SYMBOL(node_data)', 'SYMBOL(contig_page_data)'), ...present(...FREE_LIST_SHOWN)]
        : [];
  const hinted: string[] = [];
  if (c.pageTypes?.canEncodeHinted) hinted.push(...present('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)'));
  hinted.push(...reportedKeys(c.reported));
  const keys: Record<DecidedClass, string[]> = {
    free,
    hinted,
    offline: present('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)', 'OFFSET(page._mapcount)'),
    hwpoison: present('NUMBER(PG_hwpoison)', 'OFFSET(page.flags)'),
    zero: ['page contents'],
    cache: present('NUMBER(PG_lru)', 'NUMBER(PG_swapcache)', 'NUMBER(PG_swapbacked)', 'OFFSET(page.mapping)'),
    cache_private: present('NUMBER(PG_lru)', 'NUMBER(PG_private)', 'OFFSET(page.mapping)'),
    user: present('OFFSET(page.mapping)', 'NUMBER(PG_lru)'),
    hugetlb: [...(hugetlbBy ? [hugetlbBy] : []), ...present('NUMBER(PG_head_mask)'), ...(orderBy ? [orderBy] : [])],
    slab: present('NUMBER(PG_slab)', 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)'),
    kernel: [...present('SIZE(page)', 'OFFSET(page.flags)'), ...(c.memMap?.decidedBy ?? [])],
  };
  const out = {} as Record<DecidedClass, ClassDecision>;
  for (const k of DECIDED_CLASSES) {
    // Zero pages are found by content, whatever VMCOREINFO says.
    const decidable = k === 'zero' ? true : c.decidable[k];
    const missing = k === 'zero' ? undefined : c.undecidable[k];
    out[k] = decidable ? { decidable, keys: keys[k] } : { decidable, keys: [], missing: missing ?? 'not decidable in this dump' };
  }
  return out;
}
