/**
 * PG_reported on real kernels, with no option: free page reporting (virtio-balloon
 * free-page-reporting=on) marks the heads of reported buddy blocks with PG_reported, an alias of
 * PG_uptodate, whose bit vmcore-filter decides from the exported NUMBER(PG_*) layout. On both
 * Debian kernels the default run must find them by that flag (none carries BUDDY & OFFLINE),
 * and each one it calls hinted must be what the host discarded: a page reading back as zero,
 * in whole pageblocks (reporting hands over blocks of at least pageblock order, 512 pages).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { classifyDump } from '../../src/filter/index.js';
import { PageClass } from '../../src/filter/classes.js';
import { openDump } from '../../src/formats/probe.js';
import { KERNEL_IDS, inDump, realSuite } from './dumps.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const BIT: Record<string, number> = { '6.1': 2, '6.12': 3 };
const { manifest } = realSuite();

describe.each(KERNEL_IDS)('real %s kernel: reported pages without --reported-bit', (id) => {
  const m = () => manifest(id);

  it('info decides PG_reported from VMCOREINFO and finds every hinted page by it', () => {
    if (!m()) return;
    const r = spawnSync(process.execPath, [BIN, 'info', '--json', inDump(m()!, m()!.dumps.files.elf)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.reported.bit).toBe(BIT[id]);
    expect(j.reported.by).toBe('vmcoreinfo');
    expect(j.reported.keys).toContain(id === '6.1' ? 'NUMBER(PG_lru)=4' : 'NUMBER(PG_lru)=5');
    expect(j.hinted.byCombined).toBe(0);
    expect(j.hinted.byReported).toBe(j.hinted.pages);
    expect(j.hinted.pages).toBeGreaterThan(100_000);
  });

  it('every hinted page reads back as zero, in whole 512-page blocks; with --reported-bit none they are free', () => {
    if (!m()) return;
    const reader = openDump(inDump(m()!, m()!.dumps.files.elf));
    try {
      const c = classifyDump(reader, { dumpLevel: 0 });
      const none = classifyDump(reader, { dumpLevel: 0, reportedBit: null });
      expect(none.counts.hinted).toBe(0);
      expect(none.counts.free).toBe(c.counts.free + c.counts.hinted);
      expect(c.counts.hinted).toBeGreaterThan(c.counts.free);
      const buf = new Uint8Array(512 * 4096);
      let hinted = 0;
      let nonZero = 0;
      for (let pfn = 0; pfn < c.maxMapnr; pfn += 512) {
        let n = 0;
        for (let k = 0; k < 512; k++) if (c.classOf[pfn + k] === PageClass.hinted) n++;
        if (n === 0) continue;
        expect(n, `pageblock at pfn ${pfn}`).toBe(512);
        hinted += n;
        reader.readPages(pfn, 512, buf, 0);
        for (let i = 0; i < buf.length; i += 8) if (buf[i] | buf[i + 1] | buf[i + 2] | buf[i + 3] | buf[i + 4] | buf[i + 5] | buf[i + 6] | buf[i + 7]) { nonZero++; break; }
      }
      expect(hinted).toBe(c.counts.hinted);
      expect(nonZero).toBe(0);
    } finally {
      reader.close();
    }
  });
});
