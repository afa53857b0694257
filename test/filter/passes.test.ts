/**
 * The struct-page passes (filter/scan.ts) on hand-made struct pages, one kernel generation at a
 * time: decode (aligned words), decide by the page-type scheme (sentinel 4.14, inverted 6.0,
 * top-byte 6.12 with PG_reported), the buddy-block and compound fix-ups (a head decides its
 * range, also across a window boundary), and the reasons pages are kept. Each struct page is
 * built with the shared layout (mm/layout.ts), so a wrong offset or test changes a class.
 */
import { describe, expect, it } from 'vitest';
import { Bitmap } from '../../src/io/bitmap.js';
import { encodeStructPage, type StructPage } from '../../src/mm/layout.js';
import { LINUX_4_14, LINUX_6_0, LINUX_6_12, type KernelProfile } from '../../src/mm/profiles.js';
import { pageTypeDecoder } from '../../src/mm/pagetype.js';
import { compoundDecoderFromVmcoreinfo } from '../../src/mm/compound.js';
import type { MemMap, MemMapSection } from '../../src/mm/memmap.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { CLASS_NAMES, type PageClassName } from '../../src/filter/classes.js';
import { SCAN_REASONS, Scanner } from '../../src/filter/scan.js';

const N = 64;

/** A one-section mem_map over `pages` (pfn → fields; the rest zero: untyped kernel pages). */
function memMapOf(p: KernelProfile, pages: Record<number, Partial<StructPage>>): MemMap {
  const l = p.layout;
  const bytes = new Uint8Array(N * l.size);
  const view = new DataView(bytes.buffer);
  for (const [pfn, f] of Object.entries(pages)) {
    encodeStructPage(view, Number(pfn) * l.size, { flags: 0n, compoundHead: 0n, mapping: 0n, private: 0n, mapcount: -1, refcount: 1, ...f }, l);
  }
  const sec: MemMapSection = { nr: 0, startPfn: 0, endPfn: N, memMap: 0xffffea0000000000n };
  return {
    model: 'sparsemem-extreme',
    pagesPerSection: N,
    structPageSize: l.size,
    sections: [sec],
    unusable: [],
    unusableSections: 0,
    decidedBy: [],
    sectionOf: (pfn) => (pfn >= 0 && pfn < N ? sec : undefined),
    pfnOfStructPage: () => undefined,
    readStructPages(startPfn, count, buf) {
      const src = bytes.subarray(startPfn * l.size, (startPfn + count) * l.size);
      const out = buf ?? new Uint8Array(src.length);
      out.set(src);
      return { view: new DataView(out.buffer, out.byteOffset, src.length), startPfn, count, unreadable: [], reads: 1 };
    },
  };
}

/** The VMCOREINFO keys the compound decoder reads, as this generation exports them. */
function compoundKeys(p: KernelProfile): string {
  const k = [`NUMBER(PG_head_mask)=${p.flags.headMask}`];
  if (p.layout.compoundOrder !== undefined) k.push(`OFFSET(page.compound_order)=${p.layout.compoundOrder}`);
  if (p.layout.compoundDtor !== undefined) k.push(`NUMBER(HUGETLB_PAGE_DTOR)=${p.compoundDtor.hugetlb}`, `OFFSET(page.compound_dtor)=${p.layout.compoundDtor}`);
  return k.join('\n') + '\n';
}

/** Classify pfns [0, N) in windows of `window` pfns; the class names and the reasons counted. */
function scan(p: KernelProfile, pages: Record<number, Partial<StructPage>>, opts: { reportedBit?: number; window?: number } = {}) {
  const pt = pageTypeDecoder(p.pageTypes);
  const compound = compoundDecoderFromVmcoreinfo(parseVmcoreinfo(compoundKeys(p)), p.layout, pt);
  const readable = new Bitmap(N);
  readable.setRange(0, N);
  const s = new Scanner(p.layout, p.flags, pt, compound, memMapOf(p, pages), readable, N, opts.reportedBit, 11, null);
  const classes: PageClassName[] = [];
  const w = opts.window ?? N;
  for (let base = 0; base < N; base += w) {
    const n = Math.min(w, N - base);
    const out = new Uint8Array(n);
    const wp = new Bitmap(n);
    wp.setRange(0, n);
    s.setWindow(base, out, wp);
    s.section(base, base + n);
    for (const c of out) classes.push(CLASS_NAMES[c]!);
  }
  const reasons: Record<string, number> = {};
  SCAN_REASONS.forEach((r, i) => {
    if (s.reasonCounts[i]) reasons[r] = s.reasonCounts[i]!;
  });
  return { classes, reasons, anomalies: s.anomalies, hintedBy: s.hintedBy };
}

const bit = (n: number | undefined) => (n === undefined ? 0n : 1n << BigInt(n));

describe('inverted page types (4.18-6.11; 6.0)', () => {
  const p = LINUX_6_0;
  const buddy = p.pageTypes.buddy!;
  const offline = p.pageTypes.offline!;
  it('a buddy head decides its 2^private block; BUDDY & OFFLINE is hinted; slab vetoes buddy', () => {
    const r = scan(p, {
      4: { mapcount: buddy, private: 2n },
      16: { mapcount: buddy & offline, private: 3n },
      24: { mapcount: offline },
      32: { mapcount: buddy, private: 1n, flags: bit(p.flags.slab) },
    });
    expect(r.classes.slice(0, 12)).toEqual([...Array(4).fill('kernel'), ...Array(4).fill('free'), ...Array(4).fill('kernel')]);
    expect(r.classes.slice(16, 24)).toEqual(Array(8).fill('hinted'));
    expect(r.hintedBy).toEqual({ combined: 8, reported: 0 });
    expect(r.classes[24]).toBe('offline');
    expect(r.classes.slice(32, 34)).toEqual(['slab', 'kernel']);
  });
  it('flags alone: lru cache (private too), anon user, hwpoison before everything', () => {
    const r = scan(p, {
      1: { flags: bit(p.flags.lru) },
      2: { flags: bit(p.flags.lru) | bit(p.flags.private) },
      3: { flags: bit(p.flags.lru), mapping: 0xffff888000001001n },
      5: { flags: bit(p.flags.swapcache) | bit(p.flags.swapbacked) },
      6: { flags: bit(p.flags.hwpoison) | bit(p.flags.lru) },
      7: { flags: bit(p.flags.slab) },
    });
    expect(r.classes.slice(0, 8)).toEqual(['kernel', 'cache', 'cache_private', 'user', 'kernel', 'cache', 'hwpoison', 'slab']);
  });
  it('a compound head decides its range from page[1]; a tail outside any range is kept (orphan_tail)', () => {
    const head = bit(Number(p.flags.headMask.toString(2).length - 1));
    // A tail's compound_head is its head's address with bit 0 set.
    const tail = (h: number): Partial<StructPage> => ({ compoundHead: 0xffffea0000000000n + BigInt(h * p.layout.size) + 1n });
    const pages: Record<number, Partial<StructPage>> = {
      8: { flags: head, mapping: 0xffff888000002001n },
      9: tail(8),
      10: tail(8),
      11: tail(8),
      40: tail(38),
    };
    const r0 = scan(p, pages);
    // page[1]'s compound_order byte is zero here: order 0, so only the head is user.
    expect(r0.classes.slice(8, 12)).toEqual(['user', 'unknown', 'unknown', 'unknown']);
    // With order 2 in page[1] the head decides pfns 8..11.
    const withOrder = memMapOf(p, pages);
    const b = withOrder.readStructPages(0, N).view;
    b.setUint8(9 * p.layout.size + p.layout.compoundOrder!, 2);
    const r = scanWith(p, b);
    expect(r.slice(8, 12)).toEqual(['user', 'user', 'user', 'user']);
    expect(r[40]).toBe('unknown');
    expect(r0.reasons.orphan_tail).toBe(4);
  });
  it('an invalid buddy order keeps the page (invalid_order) and decides no range', () => {
    const r = scan(p, { 4: { mapcount: buddy, private: 64n }, 6: { mapcount: buddy, private: 2n } });
    expect(r.classes.slice(4, 8)).toEqual(['unknown', 'kernel', 'unknown', 'kernel']);
    expect(r.reasons).toEqual({ invalid_order: 2 });
  });
  it('a block whose range runs past the window is decided in the next window (pending)', () => {
    const pages = { 12: { mapcount: buddy, private: 2n }, 16: { mapcount: buddy, private: 4n }, 32: { mapcount: buddy & offline, private: 5n } };
    const whole = scan(p, pages).classes;
    expect(whole.slice(12, 32)).toEqual(Array(20).fill('free'));
    expect(whole.slice(32, 64)).toEqual(Array(32).fill('hinted'));
    for (const window of [8, 16, 24]) expect(scan(p, pages, { window }).classes).toEqual(whole);
  });
});

/** Classify struct pages given as raw bytes (one section of N). */
function scanWith(p: KernelProfile, view: DataView): PageClassName[] {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
  const mm = memMapOf(p, {});
  mm.readStructPages = (startPfn, count) => ({
    view: new DataView(bytes.buffer, startPfn * p.layout.size, count * p.layout.size),
    startPfn,
    count,
    unreadable: [],
    reads: 1,
  });
  const pt = pageTypeDecoder(p.pageTypes);
  const compound = compoundDecoderFromVmcoreinfo(parseVmcoreinfo(compoundKeys(p)), p.layout, pt);
  const readable = new Bitmap(N);
  readable.setRange(0, N);
  const s = new Scanner(p.layout, p.flags, pt, compound, mm, readable, N, undefined, 11, null);
  const out = new Uint8Array(N);
  s.setWindow(0, out, readable);
  s.section(0, N);
  return [...out].map((c) => CLASS_NAMES[c]!);
}

describe('sentinel page types (<= 4.17; 4.14)', () => {
  const p = LINUX_4_14;
  it('only the exact exported value is buddy; other negative words are not', () => {
    const r = scan(p, { 0: { mapcount: -128, private: 1n }, 4: { mapcount: -129, private: 1n }, 8: { mapcount: -256 } });
    expect(r.classes.slice(0, 10)).toEqual(['free', 'free', 'kernel', 'kernel', 'kernel', 'kernel', 'kernel', 'kernel', 'kernel', 'kernel']);
  });
});

describe('top-byte page types (6.12+)', () => {
  const p = LINUX_6_12;
  const buddy = p.pageTypes.buddy!;
  it('the type is the top byte (data below it); hinted only by PG_reported', () => {
    const reported = p.otherFlags.uptodate;
    const r = scan(p, {
      0: { mapcount: buddy | 0x123, private: 1n },
      2: { mapcount: buddy, private: 1n, flags: bit(reported) },
      4: { mapcount: p.pageTypes.slab! | 0x55 },
      5: { mapcount: p.pageTypes.offline! },
    }, { reportedBit: reported });
    expect(r.classes.slice(0, 6)).toEqual(['free', 'free', 'hinted', 'hinted', 'slab', 'offline']);
    expect(r.hintedBy).toEqual({ combined: 0, reported: 2 });
    // Without the reported bit decided, the same block is only free.
    expect(scan(p, { 2: { mapcount: buddy, private: 1n, flags: bit(reported) } }).classes.slice(2, 4)).toEqual(['free', 'free']);
  });
});
