/**
 * Comparing vmcore-filter with makedumpfile 1.7.2 on a real dump, pfn by pfn: both outputs are
 * read back with libkdumpfile (test/interop/py/dumpcheck.py: the page bitmap, and every kept
 * page compared with the ELF the dump came from), and every pfn where the two bitmaps differ
 * must be explained by one stated rule. A difference without a rule is returned as unexplained.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { classifyDump, type Classification } from '../../src/filter/index.js';
import { openDump } from '../../src/formats/probe.js';
import { CLASS_NAMES, type PageClassName } from '../../src/filter/classes.js';
import { PYTHON } from '../helpers/peers.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { KernelMemory } from '../../src/memory/kernel.js';
import { locateMemMap } from '../../src/mm/memmap.js';
import { decodeStructPage, structPageLayoutFromVmcoreinfo } from '../../src/mm/layout.js';
import { parseReport } from '../helpers/makedumpfile.js';

export const MAKEDUMPFILE = '/usr/bin/makedumpfile';
const DUMPCHECK = path.resolve('test/interop/py/dumpcheck.py');

export interface DumpCheck {
  bitmap: Uint8Array;
  max_pfn: number;
  dumpable: number;
  identical: number;
  mismatches: number[];
  unreadable: unknown[];
}

/** libkdumpfile's reading of `dump`: its page bitmap, and its kept pages compared with `image` (an ELF). */
export function dumpcheck(dump: string, image: string): DumpCheck {
  const bm = dump + '.bitmap';
  const r = spawnSync(PYTHON, [DUMPCHECK, dump, image, bm], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`dumpcheck ${dump}: ${r.stderr}`);
  const res = JSON.parse(r.stdout);
  const bitmap = new Uint8Array(fs.readFileSync(bm));
  fs.rmSync(bm);
  return { bitmap, ...res };
}

export interface MdfRun {
  status: number | null;
  text: string;
  report: Record<string, number>;
  seconds: number;
}

/** makedumpfile 1.7.2 at level `d` (kdump, uncompressed unless `extra` says otherwise). */
export function makedumpfile(input: string, d: number, out: string, extra: string[] = []): MdfRun {
  fs.rmSync(out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(MAKEDUMPFILE, ['--message-level', '31', '-d', String(d), ...extra, input, out], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  return { status: r.status, text: r.stdout + r.stderr, report: parseReport(r.stdout), seconds: (performance.now() - t0) / 1000 };
}

export const bit = (b: Uint8Array, p: number): number => (p >>> 3 < b.length ? (b[p >>> 3]! >> (p & 7)) & 1 : 0);

/** Our classification of an input at level `d` (the per-pfn classes the rules are stated in). */
export function classify(input: string, d: number): Classification {
  const r = openDump(input);
  try {
    return classifyDump(r, { dumpLevel: d, alwaysWalkFreeLists: false });
  } finally {
    r.close?.();
  }
}

/**
 * Whether makedumpfile 1.7.2 can read compound pages in this dump: it knows the order and the
 * hugetlb dtor only through OFFSET(page.compound_order) / OFFSET(page.compound_dtor), which
 * kernels from 6.3 (folios) no longer export.
 */
export function mdfSeesCompound(input: string): boolean {
  const r = openDump(input);
  try {
    return /^OFFSET\(page\.compound_order\)=/m.test(r.vmcoreinfoText ?? '');
  } finally {
    r.close?.();
  }
}

/**
 * The `mapping` word of pfn's struct page in `input` (read through its own mem_map), for the
 * rules that depend on it. The reader stays open for the life of the test process.
 */
export function structPageMapping(input: string): (pfn: number) => bigint {
  const r = openDump(input);
  const vi = parseVmcoreinfo(r.vmcoreinfoText!);
  const memmap = locateMemMap(new KernelMemory(r, vi), vi, r.maxMapnr);
  const layout = structPageLayoutFromVmcoreinfo(vi);
  return (pfn) => {
    const b = memmap.readStructPages(pfn, 1);
    return decodeStructPage(b.view, 0, layout).mapping;
  };
}

/** What the rules may look at for a differing pfn. */
export interface Ctx {
  pfn: number;
  level: number;
  cls: PageClassName;
  /** Class of the pfn's 2 MiB-aligned first page (a THP or hugetlb head, if it is one). */
  headCls: PageClassName;
  /** makedumpfile's bitmap and max_pfn, ours. */
  mdf: Uint8Array;
  mdfMaxPfn: number;
  ours: Uint8Array;
  /** The kernel exports the compound order where 1.7.2 looks for it (OFFSET(page.compound_order)). */
  mdfSeesCompound: boolean;
  /** page->mapping of the pfn's struct page. */
  mapping: (pfn: number) => bigint;
}

export interface Rule {
  name: string;
  /** 'mdf' when makedumpfile keeps a page we drop; 'ours' when we keep one it drops. */
  keptBy: 'mdf' | 'ours';
  text: string;
  applies: (c: Ctx) => boolean;
}

/** The rules every real-dump difference must fall under (README "Real kernels" lists them). */
export const RULES: Rule[] = [
  {
    name: 'hinted',
    keptBy: 'mdf',
    text: 'a reported (hinted) free page: free to 1.7.2, so kept without -d 16; excluded by us at every level',
    applies: (c) => c.cls === 'hinted' && (c.level & 16) === 0,
  },
  {
    name: 'compound-tail',
    keptBy: 'mdf',
    text: 'a THP or hugetlb page other than the first of its 2 MiB block, with -d 8, where 1.7.2 cannot read the compound order (no OFFSET(page.compound_order)): it takes the head for an order-0 page',
    applies: (c) =>
      (c.level & 8) !== 0 &&
      !c.mdfSeesCompound &&
      (c.cls === 'user' || c.cls === 'hugetlb') &&
      (c.pfn & 511) !== 0 &&
      (c.headCls === 'user' || c.headCls === 'hugetlb' ||
        // Two filtered dumps (the capture's): a head both excluded has no data left to classify.
        (c.headCls === 'hole' && !bit(c.mdf, c.pfn & ~511) && !bit(c.ours, c.pfn & ~511))),
  },
  {
    name: 'hugetlb-head',
    keptBy: 'mdf',
    text: 'the head of a hugetlb page with -d 8 where 1.7.2 cannot read the compound dtor / hugetlb type: not user data to it',
    applies: (c) => (c.level & 8) !== 0 && !c.mdfSeesCompound && c.cls === 'hugetlb' && (c.pfn & 511) === 0,
  },
  {
    name: 'slab-mapping-bit0',
    keptBy: 'ours',
    text: "a slab page whose mapping word has bit 0 set, with -d 8: 1.7.2's anonymous test is mapping & 1 alone, so it drops kernel data as user data",
    applies: (c) => (c.level & 8) !== 0 && c.cls === 'slab' && (c.mapping(c.pfn) & 1n) === 1n,
  },
];

export interface Comparison {
  /** Pfns per rule name. */
  byRule: Record<string, number>;
  /** Differences no rule explains, by direction and our class (with a few sample pfns). */
  unexplained: Record<string, { count: number; samples: number[] }>;
}

/** Every pfn where the two bitmaps differ, explained by {@link RULES}. */
export function compareBitmaps(cls: Classification, level: number, ours: DumpCheck, mdf: DumpCheck, mdfSeesCompound: boolean, mapping: (pfn: number) => bigint): Comparison {
  const byRule: Record<string, number> = {};
  const unexplained: Comparison['unexplained'] = {};
  const n = Math.max(ours.max_pfn, mdf.max_pfn);
  for (let byte = 0; byte < (n + 7) >>> 3; byte++) {
    const a = byte < ours.bitmap.length ? ours.bitmap[byte]! : 0;
    const b = byte < mdf.bitmap.length ? mdf.bitmap[byte]! : 0;
    if (a === b) continue;
    for (let k = 0; k < 8; k++) {
      const pfn = byte * 8 + k;
      const o = (a >> k) & 1;
      const m = (b >> k) & 1;
      if (o === m) continue;
      const ctx: Ctx = {
        pfn,
        level,
        cls: CLASS_NAMES[cls.classOf[pfn] ?? 0]!,
        headCls: CLASS_NAMES[cls.classOf[pfn & ~511] ?? 0]!,
        mdf: mdf.bitmap,
        mdfMaxPfn: mdf.max_pfn,
        ours: ours.bitmap,
        mdfSeesCompound,
        mapping,
      };
      const keptBy = m ? 'mdf' : 'ours';
      const rule = RULES.find((r) => r.keptBy === keptBy && r.applies(ctx));
      if (rule) byRule[rule.name] = (byRule[rule.name] ?? 0) + 1;
      else {
        const key = `${keptBy} keeps ${ctx.cls}`;
        const u = (unexplained[key] ??= { count: 0, samples: [] });
        u.count++;
        if (u.samples.length < 8) u.samples.push(pfn);
      }
    }
  }
  return { byRule, unexplained };
}
