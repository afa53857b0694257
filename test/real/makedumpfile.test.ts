/**
 * vmcore-filter against Debian's makedumpfile 1.7.2 on real Debian kernels (6.1 and 6.12) dumped
 * by QEMU (scripts/real/build.mjs), at -d 0, 1, 16 and 31: both tools' per-class counts, both
 * bitmaps read back with libkdumpfile and compared pfn by pfn, every kept page byte-identical to
 * the ELF, and every pfn where the two differ explained by a stated rule (test/real/compare.ts).
 * makedumpfile reads the copy whose program headers sit at offset 64 (QEMU 7.2 puts them after
 * a section header, which 1.7.2 cannot read; tested below); vmcore-filter reads QEMU's file.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { filterDump } from '../../src/writer/pipeline.js';
import type { FilterReport } from '../../src/writer/report.js';
import { KERNEL_IDS, inDump, realSuite } from './dumps.js';
import { bit, classify, compareBitmaps, structPageMapping, dumpcheck, makedumpfile, mdfSeesCompound, type Comparison, type MdfRun } from './compare.js';

const LEVELS = [0, 1, 16, 31];
const { dir, manifest } = realSuite({ peers: ['makedumpfile', 'kdumpfile'], tmp: 'real-mdf-' });

/** One row of the README table: both tools' counts at one level. */
export interface LevelResult {
  kernel: string;
  level: number;
  ours: FilterReport;
  mdf: MdfRun;
  comparison: Comparison;
  oursSeconds: number;
}
const results: LevelResult[] = [];
afterAll(() => {
  if (results.length) fs.writeFileSync(path.join(os.tmpdir(), 'vmcore-filter-real-mdf.json'), JSON.stringify(results.map((r) => ({ ...r, ours: { classes: r.ours.classes, excluded: r.ours.excluded, pages: r.ours.pages } })), null, 1));
});

describe.each(KERNEL_IDS)('real %s kernel: vmcore-filter vs makedumpfile 1.7.2', (id) => {
  const m = () => manifest(id);

  it('makedumpfile 1.7.2 cannot read QEMU 7.2\'s ELF as written (program headers after a section header); vmcore-filter can', () => {
    if (!m()) return;
    const head = Buffer.alloc(64);
    const fd = fs.openSync(inDump(m()!, m()!.dumps.files.elf), 'r');
    fs.readSync(fd, head, 0, 64, 0);
    fs.closeSync(fd);
    expect(Number(head.readBigUInt64LE(32))).toBeGreaterThan(64); // e_phoff
    const r = makedumpfile(inDump(m()!, m()!.dumps.files.elf), 31, path.join(dir, `${id}-raw.mdf`));
    expect(r.status).not.toBe(0);
    expect(r.text).toContain("Can't get the number of PT_LOAD");
  });

  it.each(LEVELS)('-d %i: counts, bitmaps and page contents; every difference has a rule', async (level) => {
    if (!m()) return;
    const man = m()!;
    const elf = inDump(man, man.dumps.files.elf);
    const oursOut = path.join(dir, `${id}-d${level}.ours`);
    const mdfOut = path.join(dir, `${id}-d${level}.mdf`);
    const t0 = performance.now();
    const ours = await filterDump(elf, oursOut, { dumpLevels: [level], format: 'kdump', force: true, numThreads: 1 });
    const oursSeconds = (performance.now() - t0) / 1000;
    const mdf = makedumpfile(inDump(man, man.dumps.files.elfPhdr64), level, mdfOut);
    expect(mdf.status, mdf.text).toBe(0);

    const cls = classify(elf, level);
    const o = dumpcheck(oursOut, elf);
    const d = dumpcheck(mdfOut, elf);
    // Every kept page, in both outputs, is the ELF's page byte for byte.
    expect(o.mismatches).toEqual([]);
    expect(o.unreadable).toEqual([]);
    expect(o.identical).toBe(o.dumpable);
    expect(d.mismatches).toEqual([]);
    expect(d.identical).toBe(d.dumpable);

    const seesCompound = mdfSeesCompound(elf);
    const cmp = compareBitmaps(cls, level, o, d, seesCompound, structPageMapping(elf));
    results.push({ kernel: id, level, ours, mdf, comparison: cmp, oursSeconds });
    console.log(`${id} -d ${level}: ours ${o.dumpable} kept, makedumpfile ${d.dumpable}; differences by rule ${JSON.stringify(cmp.byRule)}`);
    expect(cmp.unexplained).toEqual({});

    // Memory with no struct page (QEMU's VGA framebuffer at 0xfd000000, 4096 pages, and the
    // BIOS ROM at 0xfffc0000, 64 pages) lies above the last present mem_section: outside
    // 1.7.2's max_mapnr, and excluded by us at every level, so the bitmaps agree there.
    expect(ours.classes.no_struct_page).toBe(4160);
    expect(ours.excluded.no_struct_page).toBe(4160);
    expect(d.max_pfn).toBe(0x40000);
    for (let pfn = d.max_pfn; pfn < o.max_pfn; pfn++) if (bit(o.bitmap, pfn)) throw new Error(`pfn ${pfn} above makedumpfile's max_mapnr kept`);

    // The counters: offline pages are the same pages to both; free pages differ exactly by
    // the reported ones, which 1.7.2 counts as free.
    expect(mdf.report.offline).toBe(ours.classes.offline);
    if (level & 16) expect(mdf.report.free).toBe(ours.excluded.free + ours.classes.hinted);
    else expect(mdf.report.free ?? 0).toBe(0);
    fs.rmSync(oursOut, { force: true });
    fs.rmSync(mdfOut, { force: true });
  }, 900_000);
});
