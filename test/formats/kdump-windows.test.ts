/**
 * The kdump writer in windows: the same file whatever the windows, all-zero bitmap chunks left as
 * holes in a new file (same bytes, less disk), and --split parts written side by side from one
 * pass with cuts found on the way (the ranges splitRanges gives on the whole bitmap).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bitmap } from '../../src/io/bitmap.js';
import type { PageWriterInput, PfnWindow } from '../../src/formats/dump.js';
import { writeKdump } from '../../src/formats/kdump/writer.js';
import { FileSink } from '../../src/formats/kdump/sink.js';
import { DiscardSink } from '../../src/formats/kdump/sink-limits.js';
import { loadCodec } from '../../src/compress/index.js';
import { SplitCuts, splitRanges, writeSplitWindows } from '../../src/writer/split.js';
import { synthInput } from './synth.js';
import { tempDir } from './helpers.js';

const dir = tempDir('vmcf-kdwin-');
// 2^23 pfns: each bitmap is 1 MiB (one chunk) per 2^23 pfns; memory only at the start and the end.
const MAX = 3 * 2 ** 23 + 4096;
const spec = { maxMapnr: MAX, present: [[0, 3000], [MAX - 2000, MAX]] as [number, number][], dumpable: (p: number) => p % 7 !== 3 };

/** `input`'s bitmaps as windows of `size` pfns (empty where nothing is present). */
function windowed(input: PageWriterInput, size: number): PageWriterInput {
  const numDumpable = input.dumpable.count(0, input.maxMapnr);
  function* windows(): Generator<PfnWindow> {
    for (let s = 0; s < input.maxMapnr; s += size) {
      const e = Math.min(input.maxMapnr, s + size);
      const cut = (b: Bitmap) => new Bitmap(e - s, b.bytes.slice(s / 8, Math.ceil(e / 8)));
      const present = cut(input.present);
      yield { start: s, end: e, present, dumpable: cut(input.dumpable), empty: present.nextSet(0) < 0 };
    }
  }
  return { ...input, present: null as never, dumpable: null as never, windows: { numDumpable, windows } };
}

/** A file sink without holes: the file is opened as a caller's descriptor (not known empty). */
function plainSink(file: string): FileSink {
  return new FileSink(fs.openSync(file, 'w'), file, { closeOnFinish: true });
}

describe('bitmap chunks as holes', () => {
  it('the file reads the same as one written in full, and uses less disk', async () => {
    const input = synthInput(spec);
    const sparse = path.join(dir, 'sparse.kdump');
    const full = path.join(dir, 'full.kdump');
    const a = await writeKdump(input, FileSink.open(sparse), { codec: loadCodec('zlib'), zeroPages: true });
    const b = await writeKdump(input, plainSink(full), { codec: loadCodec('zlib'), zeroPages: true });
    expect(fs.readFileSync(sparse).equals(fs.readFileSync(full))).toBe(true);
    // Holes count as written: the report's byte count does not depend on the sink.
    expect(a.bytesWritten).toBe(b.bytesWritten);
    expect(a.fileSize).toBe(fs.statSync(sparse).size);
    // 4 of the 6 bitmap chunks (MiB) are all zero.
    expect(fs.statSync(full).blocks * 512 - fs.statSync(sparse).blocks * 512).toBeGreaterThanOrEqual(3 << 20);
  });
  it('a hole at the end of the file still counts in its size', async () => {
    // Nothing dumpable and no zero page: the file ends with the 2nd bitmap, all zero.
    const input = synthInput({ maxMapnr: 2 ** 24, present: [[0, 100]], dumpable: () => false });
    const f = path.join(dir, 'tail.kdump');
    const g = path.join(dir, 'tail-full.kdump');
    await writeKdump(input, FileSink.open(f), { zeroPages: false });
    await writeKdump(input, plainSink(g), { zeroPages: false });
    expect(fs.statSync(f).size).toBe(fs.statSync(g).size);
    expect(fs.readFileSync(f).equals(fs.readFileSync(g))).toBe(true);
  });
});

describe('windows', () => {
  it('any window size (empty windows included) gives the whole-bitmap file', async () => {
    const input = synthInput(spec);
    const whole = path.join(dir, 'whole.kdump');
    await writeKdump(input, FileSink.open(whole), { codec: loadCodec('zlib'), zeroPages: true });
    for (const size of [2 ** 16, 2 ** 23, 3 * 2 ** 20]) {
      const f = path.join(dir, `w${size}.kdump`);
      await writeKdump(windowed(input, size), FileSink.open(f), { codec: loadCodec('zlib'), zeroPages: true });
      expect(fs.readFileSync(f).equals(fs.readFileSync(whole)), `window ${size}`).toBe(true);
    }
  });
});

describe('--split in windows', () => {
  it('SplitCuts fed window by window cuts where a naive count over the whole bitmap does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 40 }), (bytes, parts, w8) => {
        const n = bytes.length * 8;
        const bm = new Bitmap(n, bytes);
        // Naive: the rule of makedumpfile-style even parts, one cut per pfn.
        const total = bm.count();
        const cuts = [0];
        let seen = 0;
        for (let p = 0; p < n && cuts.length < parts; p++) {
          if (!bm.get(p)) continue;
          seen++;
          if (seen >= Math.ceil((cuts.length * total) / parts)) cuts.push(p + 1);
        }
        while (cuts.length < parts) cuts.push(n);
        cuts.push(n);
        const want = cuts.slice(0, parts).map((s, i) => ({ startPfn: s, endPfn: cuts[i + 1]! }));
        expect(splitRanges(bm, n, parts)).toEqual(want);
        const c = new SplitCuts(total, parts);
        const size = w8 * 8;
        for (let s = 0; s < n; s += size) c.feed(new Bitmap(Math.min(size, n - s), bytes.subarray(s / 8, (s + size) / 8)), s, Math.min(n, s + size));
        expect(c.ranges(n)).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });
  it('parts written side by side from windows equal parts written one by one from the whole bitmaps', async () => {
    const input = synthInput(spec);
    const ranges = splitRanges(input.dumpable, MAX, 3);
    expect(ranges[1]!.startPfn).toBeGreaterThan(0);
    const files = ranges.map((_, i) => path.join(dir, `p${i}.kdump`));
    const stats = await writeSplitWindows(windowed(input, 2 ** 20), files.map((f) => FileSink.open(f)), { codec: loadCodec('zlib'), zeroPages: true });
    for (const [i, split] of ranges.entries()) {
      const one = path.join(dir, `one${i}.kdump`);
      const s = await writeKdump(input, FileSink.open(one), { codec: loadCodec('zlib'), zeroPages: true, split });
      expect(fs.readFileSync(files[i]!).equals(fs.readFileSync(one)), `part ${i}`).toBe(true);
      expect(stats[i]!.pages).toBe(s.pages);
    }
    // --dry-run: the same counts, nothing written.
    const dry = await writeSplitWindows(windowed(input, 2 ** 20), ranges.map(() => new DiscardSink('(dry run)')), { codec: loadCodec('zlib'), zeroPages: true });
    expect(dry.map((s) => s.bytesWritten)).toEqual(stats.map((s) => s.bytesWritten));
  });
});

describe('Bitmap past 2^32 bits', () => {
  it('bit i lives in byte floor(i / 8), not (i mod 2^32) / 8', () => {
    // 2^29 + 8 bytes, untouched but for two (the allocation is zero pages until written).
    const bm = new Bitmap(2 ** 32 + 64);
    const i = 2 ** 32 + 13;
    bm.set(i);
    expect(bm.bytes[2 ** 29 + 1]).toBe(1 << 5);
    expect(bm.get(13)).toBe(false);
    expect(bm.get(i)).toBe(true);
    expect(bm.nextSet(2 ** 32)).toBe(i);
    expect(bm.count(2 ** 32, 2 ** 32 + 64)).toBe(1);
    bm.setRange(2 ** 32 + 16, 2 ** 32 + 40);
    expect(bm.count(2 ** 32, 2 ** 32 + 64)).toBe(25);
    expect(bm.nextClear(2 ** 32 + 16)).toBe(2 ** 32 + 40);
    bm.clear(i);
    expect(bm.get(i)).toBe(false);
  });
});

describe('a pfn space no kdump header can describe', () => {
  it('is E_LIMIT (exit 4) before anything is written, not a RangeError', async () => {
    const input = synthInput({ maxMapnr: 64, present: [[0, 64]] });
    const huge = { ...input, maxMapnr: 2 ** 47, present: null as never, dumpable: null as never, windows: { numDumpable: 0, windows: () => [] } };
    const sink = new DiscardSink('(test)');
    const err = await writeKdump(huge, sink, { zeroPages: false }).catch((e) => e);
    expect(err.code).toBe('E_LIMIT');
    expect(err.message).toMatch(/max_mapnr 140737488355328 needs \d+ bitmap blocks, more than a kdump-compressed header can hold/);
    expect(sink.bytesWritten).toBe(0);
  });
});
