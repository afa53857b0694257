/** Bounded bitmap scans: same answers as a naive scan, and no scan past `end`. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bitmap } from '../../src/io/bitmap.js';

describe('Bitmap.nextSet / nextClear with an end bound', () => {
  it('match a naive scan', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(700), fc.nat(700), fc.nat(700), (bytes, nb, i, end) => {
        const nbits = Math.min(nb, bytes.length * 8);
        const bm = new Bitmap(nbits, new Uint8Array(bytes));
        const stop = Math.min(end, nbits);
        let set = -1;
        for (let k = i; k < stop; k++) if (bm.get(k)) { set = k; break; }
        let clear = stop;
        for (let k = i; k < stop; k++) if (!bm.get(k)) { clear = k; break; }
        expect(bm.nextSet(i, end)).toBe(set);
        expect(bm.nextClear(i, end)).toBe(i >= stop ? Math.min(end, nbits) : clear);
      }),
      { numRuns: 2000 },
    );
  });
  it('a bounded scan of a huge empty bitmap is cheap (the corrupt-max_mapnr case)', () => {
    const bm = new Bitmap(2 ** 28);
    bm.set(2 ** 28 - 1);
    const t0 = performance.now();
    for (let s = 0; s < 2 ** 27; s += 32768) expect(bm.nextSet(s, s + 32768)).toBe(-1);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
