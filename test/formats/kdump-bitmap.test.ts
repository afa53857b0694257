/**
 * The kdump reader's on-demand bitmaps (formats/kdump/reader-bitmap.ts) answer every PfnSet
 * query as the whole in-memory Bitmap does, across block boundaries (2^18 pfns), an nbits that
 * is not a multiple of 8 (bits past it in the file read as clear), a split part's range and a
 * truncated file's lost runs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bitmap } from '../../src/io/bitmap.js';
import { BufferSource } from '../../src/io/file.js';
import { PfnRanges, windowBits } from '../../src/io/pfn-set.js';
import { BLOCK_PFNS, FileBitmap, StoredPfns } from '../../src/formats/kdump/reader-bitmap.js';

/** A bitmap of `nbits` with the given runs set, stored at byte `at` of a file (junk around it). */
function stored(nbits: number, runs: [number, number][], at: number): { bm: Bitmap; file: FileBitmap } {
  const bm = new Bitmap(nbits);
  for (const [s, e] of runs) bm.setRange(Math.min(s, nbits), Math.min(e, nbits));
  const data = new Uint8Array(at + bm.bytes.length + 16).fill(0xff); // junk before and after
  data.set(bm.bytes, at);
  // Bits past nbits in the last byte are junk in the file: they must read as clear.
  if (nbits % 8) data[at + bm.bytes.length - 1]! |= 0xff << (nbits % 8);
  return { bm, file: new FileBitmap(new BufferSource(data), at, nbits) };
}

const runsArb = (max: number) => fc.array(fc.tuple(fc.nat(max), fc.nat(5000)).map(([s, n]) => [s, s + n] as [number, number]), { maxLength: 12 });

describe('FileBitmap', () => {
  it('answers get / nextSet / nextClear / count / windows like the whole Bitmap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * BLOCK_PFNS + 77 }), runsArb(3 * BLOCK_PFNS), fc.nat(3 * BLOCK_PFNS + 100), fc.nat(3 * BLOCK_PFNS + 100), fc.nat(33), (nbits, runs, i, end, at) => {
        const { bm, file } = stored(nbits, runs, at);
        expect(file.get(i)).toBe(i < nbits && bm.get(i));
        expect(file.nextSet(i, end)).toBe(bm.nextSet(i, end));
        expect(file.nextClear(i, end)).toBe(bm.nextClear(i, end));
        const [s, e] = i <= end ? [i, Math.min(end, nbits)] : [Math.min(end, nbits), i];
        expect(file.count(s, e)).toBe(s < e ? bm.count(s, Math.min(e, nbits)) : 0);
        expect(file.rankOf(Math.min(i, nbits))).toBe(bm.count(0, Math.min(i, nbits)));
        // Ranks asked in any order (the reader keeps the last one to count on from it).
        for (const q of [end, Math.floor(i / 2), i + 3, i + 70000, 0, i].map((x) => Math.min(x, nbits))) expect(file.rankOf(q)).toBe(bm.count(0, q));
        const base = Math.floor(Math.min(i, nbits) / 8) * 8;
        const wEnd = Math.min(nbits, base + 1 + (end % 70000));
        expect(windowBits(file, base, wEnd).bytes).toEqual(windowBits(bm, base, wEnd).bytes);
      }),
      { numRuns: 300 },
    );
  });
  it('keeps a count per block and a few cached blocks, not the bitmap (2^34 pfns: 4 MiB of counts at most)', () => {
    // A 2 GiB all-zero bitmap "file" costs nothing to hold when it is never read whole.
    const nbits = 2 ** 34;
    const src = { path: '<zeros>', size: 2 ** 31 + 4096, readSome: (_p: number, len: number, buf: Uint8Array, off = 0) => (buf.fill(0, off, off + len), len), readInto() {}, read: () => Buffer.alloc(0), close() {} };
    const f = new FileBitmap(src as never, 4096, nbits);
    expect(f.nextSet(0)).toBe(-1);
    expect(f.count()).toBe(0);
    expect(f.nextClear(5)).toBe(5);
  }, 60_000);
});

describe('StoredPfns (split range, lost pages)', () => {
  it('is the 2nd bitmap within [lo, hi) less the lost runs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: BLOCK_PFNS + 999 }), runsArb(BLOCK_PFNS + 999), fc.nat(BLOCK_PFNS + 999), fc.nat(BLOCK_PFNS + 999), runsArb(BLOCK_PFNS + 999), fc.nat(BLOCK_PFNS + 1000), fc.nat(BLOCK_PFNS + 1000), (nbits, runs, a, b, lostRuns, i, end) => {
        const { bm, file } = stored(nbits, runs, 8);
        const lo = Math.min(a, b, nbits);
        const hi = Math.min(Math.max(a, b), nbits);
        const lost = new PfnRanges(nbits, lostRuns.filter(([s]) => s < nbits));
        const want = bm.clone();
        want.clearRange(0, lo);
        want.clearRange(hi, nbits);
        for (const [s, e] of lost.runs()) want.clearRange(s, e);
        // Lost pages are stored pages by definition (findLostPages takes them from the set).
        const lostStored = new PfnRanges(nbits, lost.runs().flatMap(([s, e]) => {
          const out: [number, number][] = [];
          for (let p = bm.nextSet(s, e); p >= 0; ) {
            const q = bm.nextClear(p, e);
            out.push([p, q]);
            if (q >= e) break;
            p = bm.nextSet(q, e);
          }
          return out;
        }));
        const set = new StoredPfns(file, lo, hi, lostStored);
        expect(set.get(Math.min(i, nbits - 1))).toBe(want.get(Math.min(i, nbits - 1)));
        expect(set.nextSet(i, end)).toBe(want.nextSet(i, end));
        expect(set.nextClear(i, end)).toBe(want.nextClear(i, end));
        expect(set.count()).toBe(want.count());
        expect(set.toBitmap().bytes).toEqual(want.bytes);
      }),
      { numRuns: 100 },
    );
  });
});
