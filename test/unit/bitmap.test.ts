import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bitmap } from '../../src/io/bitmap.js';

describe('Bitmap', () => {
  it('is LSB-first within bytes (kdump order)', () => {
    const b = new Bitmap(16);
    b.set(0);
    b.set(9);
    expect([...b.bytes]).toEqual([0x01, 0x02]);
  });
  it('range ops and counts agree with a naive model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.tuple(fc.boolean(), fc.nat(300), fc.nat(300)), { maxLength: 20 }), (n, ops) => {
        const b = new Bitmap(n);
        const model = new Array<boolean>(n).fill(false);
        for (const [set, x, y] of ops) {
          const s = Math.min(x, y, n);
          const e = Math.min(Math.max(x, y), n);
          if (set) b.setRange(s, e);
          else b.clearRange(s, e);
          for (let i = s; i < e; i++) model[i] = set;
        }
        for (let i = 0; i < n; i++) expect(b.get(i)).toBe(model[i]);
        expect(b.count()).toBe(model.filter(Boolean).length);
        const firstSet = model.indexOf(true);
        expect(b.nextSet(0)).toBe(firstSet);
        const firstClear = model.indexOf(false);
        expect(b.nextClear(0)).toBe(firstClear === -1 ? n : firstClear);
      }),
    );
  });
});
