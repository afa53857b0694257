/**
 * Finding free pages by walking the zones' buddy free lists (FORMATS.md §4.6), for kernels
 * that export no PAGE_BUDDY_MAPCOUNT_VALUE. Every list is followed with its `prev` links
 * checked and a step bound; a broken list is dropped whole (its pages stay kept).
 */
import { hex } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { KernelMemory } from '../memory/kernel.js';
import type { MemMap } from '../mm/memmap.js';

/** Free blocks found on the free lists. */
export interface FreeListResult {
  /** Block head pfn → order. */
  heads: Map<number, number>;
  /** Pages in those blocks. */
  pages: number;
  /** Lists walked, and lists dropped as broken. */
  lists: number;
  brokenLists: number;
  warnings: string[];
}

/** The keys a free-list walk needs (besides node_data or contig_page_data). */
export const FREE_LIST_KEYS = [
  'SIZE(zone)',
  'OFFSET(zone.free_area)',
  'OFFSET(zone.spanned_pages)',
  'OFFSET(pglist_data.node_zones)',
  'OFFSET(pglist_data.nr_zones)',
  'SIZE(free_area)',
  'OFFSET(free_area.free_list)',
  'OFFSET(list_head.next)',
  'OFFSET(list_head.prev)',
  'OFFSET(page.lru)',
  'LENGTH(zone.free_area)',
] as const;

/** Keys missing for a free-list walk (empty when it is possible). */
export function missingFreeListKeys(vi: Vmcoreinfo): string[] {
  const m: string[] = FREE_LIST_KEYS.filter((k) => !vi.has(k));
  if (!vi.has('SYMBOL(node_data)') && !vi.has('SYMBOL(contig_page_data)')) m.push('SYMBOL(node_data) or SYMBOL(contig_page_data)');
  return m;
}

const MAX_NODES = 1 << 10;
const MAX_ZONES = 8;

/** Where the walk finds zones, free areas and list links (from VMCOREINFO). */
interface FreeListLayout {
  zoneSize: number;
  zoneFreeArea: number;
  zoneSpanned: number;
  nodeZones: number;
  nrZonesOff: number;
  faSize: number;
  faList: number;
  lhNext: number;
  lhPrev: number;
  lhSize: number;
  lruOff: bigint;
  nrOrders: number;
  /** Migrate types: free_area = { list_head free_list[MIGRATE_TYPES]; unsigned long nr_free; }. */
  nrMt: number;
}

/** What one walk shares: the dump, its layout and the result being built. */
interface Walk {
  mem: KernelMemory;
  memmap: MemMap;
  maxMapnr: number;
  l: FreeListLayout;
  res: FreeListResult;
}

/** Walk every online node's zones' free lists. Call only when {@link missingFreeListKeys} is empty. */
export function walkFreeLists(vi: Vmcoreinfo, mem: KernelMemory, memmap: MemMap, maxMapnr: number): FreeListResult {
  const res: FreeListResult = { heads: new Map(), pages: 0, lists: 0, brokenLists: 0, warnings: [] };
  const l = freeListLayout(vi);
  if (l.nrOrders <= 0 || l.nrOrders > 64 || l.nrMt <= 0 || l.nrMt > 64) {
    res.warnings.push(`free-list walk: LENGTH(zone.free_area)=${l.nrOrders} / ${l.nrMt} migrate types are implausible`);
    return res;
  }
  const w: Walk = { mem, memmap, maxMapnr, l, res };
  for (const pgdat of nodePgdats(vi, mem, res)) walkNode(w, pgdat);
  return res;
}

function freeListLayout(vi: Vmcoreinfo): FreeListLayout {
  const faSize = vi.size('free_area')!;
  const lhSize = vi.size('list_head') ?? 16;
  return {
    zoneSize: vi.size('zone')!,
    zoneFreeArea: vi.offset('zone.free_area')!,
    zoneSpanned: vi.offset('zone.spanned_pages')!,
    nodeZones: vi.offset('pglist_data.node_zones')!,
    nrZonesOff: vi.offset('pglist_data.nr_zones')!,
    faSize,
    faList: vi.offset('free_area.free_list')!,
    lhNext: vi.offset('list_head.next')!,
    lhPrev: vi.offset('list_head.prev')!,
    lhSize,
    lruOff: BigInt(vi.offset('page.lru')!),
    nrOrders: vi.length('zone.free_area')!,
    nrMt: vi.length('free_area.free_list') ?? Math.floor((faSize - 8) / lhSize),
  };
}

/** The online nodes' pglist_data: node_data[] (NUMA) or contig_page_data. */
function nodePgdats(vi: Vmcoreinfo, mem: KernelMemory, res: FreeListResult): bigint[] {
  const nodeData = vi.symbol('node_data');
  if (nodeData === undefined) return [vi.symbol('contig_page_data')!];
  const pgdats: bigint[] = [];
  const n = Math.min(vi.length('node_data') ?? 1, MAX_NODES);
  for (let i = 0; i < n; i++) {
    const p = mem.tryReadU64(nodeData + BigInt(i * 8));
    if (p === undefined) {
      res.warnings.push(`free-list walk: node_data[${i}] at ${hex(nodeData + BigInt(i * 8))} unreadable`);
      break;
    }
    if (p !== 0n) pgdats.push(p);
  }
  return pgdats;
}

/** Every list of every populated zone of one node, highest order first. */
function walkNode(w: Walk, pgdat: bigint): void {
  const { mem, l, res } = w;
  const nrZonesRaw = mem.tryReadU64(pgdat + BigInt(l.nrZonesOff));
  if (nrZonesRaw === undefined) {
    res.warnings.push(`free-list walk: pglist_data at ${hex(pgdat)} unreadable`);
    return;
  }
  const nrZones = Number(nrZonesRaw & 0xffffffffn);
  if (nrZones > MAX_ZONES) {
    res.warnings.push(`free-list walk: pglist_data at ${hex(pgdat)} has nr_zones ${nrZones}`);
    return;
  }
  for (let z = 0; z < nrZones; z++) {
    const zone = pgdat + BigInt(l.nodeZones + z * l.zoneSize);
    const spanned = mem.tryReadU64(zone + BigInt(l.zoneSpanned));
    if (spanned === undefined || spanned === 0n) continue;
    for (let order = l.nrOrders - 1; order >= 0; order--) {
      for (let mt = 0; mt < l.nrMt; mt++) {
        const head = zone + BigInt(l.zoneFreeArea + order * l.faSize + l.faList + mt * l.lhSize);
        walkList(w, head, order, `node ${hex(pgdat)} zone ${z} order ${order} migratetype ${mt}`);
      }
    }
  }
}

/** One free list: its blocks' heads, or nothing when a link is broken (the list is dropped whole). */
function walkList(w: Walk, head: bigint, order: number, where: string): void {
  const { mem, memmap, maxMapnr, l, res } = w;
  res.lists++;
  const found: number[] = [];
  let prev = head;
  let cur = mem.tryReadU64(head + BigInt(l.lhNext));
  let steps = 0;
  const fail = (why: string) => {
    res.brokenLists++;
    res.warnings.push(`free list ${where} is broken (${why}); its ${found.length} blocks are kept`);
  };
  while (cur !== head) {
    if (cur === undefined) return fail(`unreadable link after ${hex(prev)}`);
    if (++steps > maxMapnr) return fail('more entries than pages');
    const back = mem.tryReadU64(cur + BigInt(l.lhPrev));
    if (back !== prev) return fail(`entry ${hex(cur)} has prev ${back === undefined ? 'unreadable' : hex(back)}, expected ${hex(prev)}`);
    const pfn = memmap.pfnOfStructPage(cur - l.lruOff);
    if (pfn === undefined) return fail(`entry ${hex(cur)} is not a struct page in mem_map`);
    if (pfn % 2 ** order !== 0 || pfn + 2 ** order > maxMapnr) return fail(`pfn ${hex(pfn)} is not a valid order-${order} block`);
    found.push(pfn);
    prev = cur;
    cur = mem.tryReadU64(cur + BigInt(l.lhNext));
  }
  for (const pfn of found) {
    if (!res.heads.has(pfn)) {
      res.heads.set(pfn, order);
      res.pages += 2 ** order;
    }
  }
}
