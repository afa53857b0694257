/**
 * The simulator against real makedumpfile 1.7.2: its statistics must equal the ground truth's
 * prediction, its output (read back with libkdumpfile) must hold exactly the pages the truth
 * says it keeps, byte-identical to the image; drgn must open the image.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASS_CODE, simulate, truthClassArray, type GroundTruth, type SimOptions } from '../../src/sim/index.js';
import { EHDR_SIZE, PHDR_SIZE, PT_LOAD, decodeEhdr, decodePhdr } from '../../src/formats/elf/layout.js';
import { requirePeer, runPython } from '../helpers/peers.js';
import { parseReport } from '../helpers/makedumpfile.js';

const MAKEDUMPFILE = '/usr/bin/makedumpfile';
const LEVELS = [0, 1, 16, 31];

const CASES: Array<Partial<SimOptions>> = [
  { seed: 1, memBytes: 256 << 20 },
  { seed: 2, memBytes: 192 << 20, l5: true, kaslr: true, hintedStyle: 'pg-reported' },
  { seed: 3, memBytes: 128 << 20, kaslr: true, freeContent: 'zero', cpus: 4 },
  { seed: 4, memBytes: 64 << 20, l5: true, hintedStyle: 'pg-reported', cpus: 1 },
  { seed: 5, memBytes: 224 << 20, l5: false, kaslr: true, hintedStyle: 'combined', freeContent: 'zero' },
];

const haveMdf = requirePeer('makedumpfile');
const haveKdumpfile = requirePeer('kdumpfile');
const haveDrgn = requirePeer('drgn');
const haveCrash = requirePeer('crash');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-mdf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));


/** PT_LOADs of an image as [paddr, offset, size]. */
function loadTable(image: string): Array<[number, number, number]> {
  const fd = fs.openSync(image, 'r');
  try {
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, 4096, 0);
    const eh = decodeEhdr(head);
    const out: Array<[number, number, number]> = [];
    for (let i = 0; i < eh.phnum; i++) {
      const p = decodePhdr(head, EHDR_SIZE + i * PHDR_SIZE, EHDR_SIZE + i * PHDR_SIZE);
      if (p.type === PT_LOAD) out.push([Number(p.paddr), p.offset, p.filesz]);
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether makedumpfile 1.7.2 keeps a page of this class in its kdump output at level d. */
function mdfKeeps(truth: GroundTruth, cls: number, d: number): boolean {
  switch (cls) {
    case CLASS_CODE.hole:
    case CLASS_CODE.offline:
    case CLASS_CODE.hwpoison:
      return false;
    case CLASS_CODE.free:
      return !(d & 16);
    case CLASS_CODE.hinted:
      return truth.hintedStyle === 'combined' || !(d & 16);
    case CLASS_CODE.cache:
      return !(d & 6);
    case CLASS_CODE.cache_private:
      return !(d & 4);
    case CLASS_CODE.user:
    case CLASS_CODE.hugetlb:
      return !(d & 8);
    default:
      return true; // zero pages keep their bitmap bit in kdump output
  }
}

/** Python: list the kept pfns of a kdump file as runs and compare each kept page with the image. */
const VERIFY_PY = String.raw`
import sys, json, kdumpfile
kd, img, loads = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
k = kdumpfile.kdumpfile(kd)
maxpfn = k.attr['max_pfn']
bits = k.attr['file.pagemap'].get_bits(0, maxpfn - 1)
f = open(img, 'rb')
def image_page(pfn):
    pa = pfn << 12
    for (paddr, off, size) in loads:
        if paddr <= pa < paddr + size:
            f.seek(off + pa - paddr)
            return f.read(4096)
    return None
runs, mismatches, start, kept = [], [], -1, 0
for pfn in range(maxpfn):
    on = (bits[pfn >> 3] >> (pfn & 7)) & 1
    if on:
        kept += 1
        if start < 0: start = pfn
        data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
        if data != image_page(pfn):
            mismatches.append(pfn)
    elif start >= 0:
        runs.append([start, pfn - start]); start = -1
if start >= 0: runs.append([start, maxpfn - start])
print(json.dumps({"maxpfn": maxpfn, "kept": kept, "runs": runs, "mismatches": mismatches[:20], "nmismatch": len(mismatches)}))
`;

function runsOf(pred: (pfn: number) => boolean, n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = -1;
  for (let p = 0; p <= n; p++) {
    const on = p < n && pred(p);
    if (on && s < 0) s = p;
    if (!on && s >= 0) {
      out.push([s, p - s]);
      s = -1;
    }
  }
  return out;
}

describe.skipIf(!haveMdf).each(CASES)('makedumpfile 1.7.2 on simulated image %o', (o) => {
  it('agrees with the ground truth at -d 0, 1, 16, 31; output pages match the image', async () => {
    const image = path.join(dir, `sim-${o.seed}.img`);
    const { truth } = await simulate(image, o);
    const loads = loadTable(image);
    const cls = truthClassArray(truth);
    if (haveDrgn) {
      const r = runPython(
        'import sys, drgn\np = drgn.Program()\np.set_core_dump(sys.argv[1])\nprint(len(p.read(int(sys.argv[2]), 4096, True)))',
        [image, String(truth.layout.loads[0]!.start)],
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('4096');
    }
    for (const d of LEVELS) {
      const out = path.join(dir, `sim-${o.seed}.d${d}`);
      const r = spawnSync(MAKEDUMPFILE, ['--message-level', '31', '-d', String(d), '-f', image, out], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/WARNING|Invalid|Can't/);
      const got = parseReport(r.stdout);
      const want = truth.makedumpfile[d]!;
      expect({ level: d, ...got }).toEqual({ level: d, ...want });

      if (haveKdumpfile) {
        const py = runPython(VERIFY_PY, [out, image, JSON.stringify(loads)]);
        expect(py.status, py.stderr).toBe(0);
        const res = JSON.parse(py.stdout) as { maxpfn: number; kept: number; runs: Array<[number, number]>; nmismatch: number; mismatches: number[] };
        expect(res.maxpfn).toBe(truth.layout.maxMapnr);
        expect(res.nmismatch, `pages differing from the image: ${res.mismatches.join(',')}`).toBe(0);
        const expected = runsOf((p) => mdfKeeps(truth, cls[p]!, d), truth.layout.maxMapnr);
        expect(res.runs).toEqual(expected);
        expect(res.kept).toBe(want.remaining + want.zero - truth.layout.kernelBytes / 4096);
      }
      fs.rmSync(out, { force: true });
    }
  });
});

describe.skipIf(!haveMdf)('makedumpfile 1.7.2 at every dump level', () => {
  it('prints the statistics the truth predicts for levels 0..31', async () => {
    const image = path.join(dir, 'sim-all-levels.img');
    const { truth } = await simulate(image, { seed: 21, memBytes: 160 << 20, kaslr: true, hintedStyle: 'combined', freeContent: 'zero' });
    const out = path.join(dir, 'sim-all-levels.out');
    for (let d = 0; d < 32; d++) {
      const r = spawnSync(MAKEDUMPFILE, ['--message-level', '31', '-d', String(d), '-f', image, out], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      expect({ level: d, ...parseReport(r.stdout) }).toEqual({ level: d, ...truth.makedumpfile[d]! });
    }
    fs.rmSync(out, { force: true });
    if (haveCrash) {
      const c = spawnSync('/usr/bin/crash', ['--osrelease', image], { encoding: 'utf8', timeout: 60_000 });
      expect(c.stdout.trim()).toBe(truth.options.profile === 'linux-6.0' ? '6.0.19-vmcore-filter-sim' : c.stdout.trim());
    }
  });
});

describe.skipIf(!haveMdf)('makedumpfile 1.7.2 free-list walk', () => {
  it('finds every free block on the simulated zone free lists', async () => {
    const image = path.join(dir, 'sim-freelist.img');
    const { truth } = await simulate(image, { seed: 31, memBytes: 256 << 20, l5: true, kaslr: true, hintedStyle: 'combined' });
    // hide NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE) (same length) so makedumpfile must follow the free lists
    const fd = fs.openSync(image, 'r+');
    try {
      const head = Buffer.alloc(65536);
      fs.readSync(fd, head, 0, head.length, 0);
      const at = head.indexOf('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
      expect(at).toBeGreaterThan(0);
      fs.writeSync(fd, Buffer.from('NUMBER(PAGE_BUDDX_MAPCOUNT_VALUE)'), 0, 33, at);
    } finally {
      fs.closeSync(fd);
    }
    const out = path.join(dir, 'sim-freelist.out');
    const r = spawnSync(MAKEDUMPFILE, ['--message-level', '31', '-d', '16', '-f', image, out], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/follow free lists/);
    expect(r.stdout + r.stderr).not.toMatch(/broken/);
    // on the lists, hinted blocks are ordinary free blocks
    expect(parseReport(r.stdout).free).toBe(truth.counts.free + truth.counts.hinted);
    fs.rmSync(out, { force: true });
  });
});
