import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate } from '../../src/sim/index.js';
import { openDump } from '../../src/formats/probe.js';
import { inKernelPages } from '../../src/formats/blocks.js';
import { Bitmap } from '../../src/io/bitmap.js';
import { classifyDump } from '../../src/filter/index.js';
import type { DumpReader } from '../../src/formats/dump.js';

let dir = '';
let image = '';
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-blocks-'));
  image = path.join(dir, 'a.img');
  await simulate(image, { kernel: 'linux-6.12', seed: 5, memBytes: 64 << 20, arch: 'arm64', pageSize: 4096 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `r` as a dump of 16 KiB blocks (a block is present when its four pages are), like QEMU's 64 KiB kdump blocks. */
function asBlocks(r: DumpReader, k: number): DumpReader {
  const n = Math.ceil(r.maxMapnr / k);
  const present = new Bitmap(n);
  for (let b = 0; b < n; b++) if (r.present.count(b * k, Math.min((b + 1) * k, r.maxMapnr)) === k) present.setRange(b, b + 1);
  return {
    ...r,
    info: { ...r.info, pageSize: r.info.pageSize * k },
    maxMapnr: n,
    present,
    // As a kdump reader has them: sets in its own blocks (the view must not use them as pages).
    presentSet: present,
    readableSet: present,
    readPages: (pfn, count, buf, off = 0) => r.readPages(pfn * k, count * k, buf, off),
    readPhys: r.readPhys,
    close: () => r.close(),
  };
}

describe('a dump whose blocks are larger than the kernel pages', () => {
  it('is seen in kernel pages: same present pfns, same bytes, same classes', () => {
    const r = openDump(image);
    try {
      const view = inKernelPages(asBlocks(r, 4), 4096);
      expect(view.info.pageSize).toBe(4096);
      expect(view.maxMapnr).toBe(r.maxMapnr);
      for (let p = 0; p < r.maxMapnr; p++) expect(view.present.get(p), `pfn ${p}`).toBe(r.present.get(p));
      const a = new Uint8Array(3 * 4096);
      const b = new Uint8Array(3 * 4096);
      for (const p of [r.present.nextSet(0) + 1, r.present.nextSet(0) + 4095, r.maxMapnr - 3]) {
        r.readPages(p, 3, a);
        view.readPages(p, 3, b);
        expect(Buffer.from(b).equals(Buffer.from(a)), `pfns ${p}..${p + 2}`).toBe(true);
      }
      const c1 = classifyDump(r, { dumpLevel: 31 });
      const c2 = classifyDump(view, { dumpLevel: 31 });
      expect(c2.reasons).toEqual({});
      expect(Buffer.from(c2.classOf).equals(Buffer.from(c1.classOf))).toBe(true);
      expect(inKernelPages(r, 4096)).toBe(r);
    } finally {
      r.close();
    }
  });
});
