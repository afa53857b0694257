/**
 * A kdump file in blocks larger than the kernel's pages, as QEMU 7.2 writes for every arm64
 * guest (64 KiB blocks, "Unknown" machine): src/formats/kdump/blocks.ts reads it in the kernel's
 * pages. Built here from a simulated arm64 4K image: its ELF's pages grouped 16 to a block and
 * written by our kdump writer with the block as page size (VMCOREINFO still says PAGESIZE=4096).
 */
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { simulate } from '../../src/sim/index.js';
import { openDump } from '../../src/formats/probe.js';
import { Bitmap } from '../../src/io/bitmap.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { classifyDump } from '../../src/filter/index.js';
import type { DumpReader, PageWriterInput } from '../../src/formats/dump.js';
import { tempDir, writeKdumpFile } from './helpers.js';

const BLOCK = 65536;

/** `r`'s pages as `BLOCK`-sized blocks (a block is present when all of its pages are). */
function asBlocks(r: DumpReader, machine: string): PageWriterInput {
  const ratio = BLOCK / r.info.pageSize;
  const n = Math.ceil(r.maxMapnr / ratio);
  const present = new Bitmap(n);
  for (let b = 0; b < n; b++) if (r.present.count(b * ratio, Math.min((b + 1) * ratio, r.maxMapnr)) === ratio) present.set(b);
  return {
    info: { ...r.info, pageSize: BLOCK, utsname: { ...r.info.utsname, machine } },
    maxMapnr: n,
    present,
    dumpable: present,
    dumpLevel: 0,
    readPages: (pfn, count, buf, off = 0) => r.readPages(pfn * ratio, count * ratio, buf, off),
  };
}

describe('kdump blocks larger than the kernel page', () => {
  const dir = tempDir('kdump-blocks-');

  it('reads a 64 KiB-block kdump of a 4K arm64 kernel in 4K pages: same pages, same classes, machine aarch64', async () => {
    const img = path.join(dir, 'arm64.img');
    await simulate(img, { memBytes: 64 << 20, seed: 41, arch: 'arm64', pageSize: 4096 });
    const elf = openDump(img);
    const kd = path.join(dir, 'blocks.kdump');
    await writeKdumpFile(asBlocks(elf, 'Unknown'), kd, { codec: null });
    const r = openDump(kd);
    try {
      expect(r).toBeInstanceOf(KdumpReader);
      expect((r as KdumpReader).kdump.blockSize).toBe(BLOCK);
      expect(r.info.pageSize).toBe(4096);
      expect(r.info.utsname.machine).toBe('aarch64');
      expect(r.maxMapnr).toBe(Math.ceil(elf.maxMapnr / 16) * 16);
      const a = new Uint8Array(4096 * 3);
      const b = new Uint8Array(4096 * 3);
      let compared = 0;
      // Whole blocks, partial runs across block edges and single pages all read the ELF's bytes.
      for (let pfn = r.present.nextSet(0); pfn >= 0 && pfn + 3 <= elf.maxMapnr; pfn = r.present.nextSet(pfn + 7)) {
        if (r.present.count(pfn, pfn + 3) !== 3) continue;
        elf.readPages(pfn, 3, a);
        r.readPages(pfn, 3, b);
        expect(Buffer.from(b).equals(Buffer.from(a)), `pfn ${pfn}`).toBe(true);
        compared++;
      }
      expect(compared).toBeGreaterThan(1000);
      const big = new Uint8Array(4096 * 40);
      const first = r.present.nextSet(0);
      r.readPages(first + 5, 40, big);
      const want = new Uint8Array(4096 * 40);
      elf.readPages(first + 5, 40, want);
      expect(Buffer.from(big).equals(Buffer.from(want))).toBe(true);
      const ours = classifyDump(r, { dumpLevel: 31, alwaysWalkFreeLists: false });
      const theirs = classifyDump(elf, { dumpLevel: 31, alwaysWalkFreeLists: false });
      // The image's RAM is whole blocks, so every present pfn is in both.
      expect(ours.counts).toEqual(theirs.counts);
    } finally {
      r.close();
      elf.close();
    }
  });

  it('a block that is not a whole number of kernel pages is refused with one line', async () => {
    const img = path.join(dir, 'arm64-16k.img');
    await simulate(img, { memBytes: 64 << 20, seed: 42, arch: 'arm64', pageSize: 16384 });
    const elf = openDump(img);
    const kd = path.join(dir, 'small-blocks.kdump');
    // 16K pages written as 4K "blocks": the kernel's page is larger than the block.
    const ratio = 4;
    const present = new Bitmap(elf.maxMapnr * ratio);
    await writeKdumpFile(
      { info: { ...elf.info, pageSize: 4096 }, maxMapnr: elf.maxMapnr * ratio, present, dumpable: present, dumpLevel: 0, readPages: () => {} },
      kd,
      { codec: null },
    );
    elf.close();
    expect(() => openDump(kd)).toThrow(/block_size 4096 is not a whole number of the kernel's pages \(VMCOREINFO PAGESIZE=16384\)/);
  });
});
