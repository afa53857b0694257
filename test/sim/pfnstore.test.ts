import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pfnBytes, pfnInt8, valueRuns } from '../../src/sim/pfnstore.js';
import { BuddyAllocator, MAX_ORDER, MIGRATE, PAGE_STATE, buddyOf, x86Zones } from '../../src/sim/buddy.js';

const PER = 64;

describe('SectionArray (per-pfn state per present section)', () => {
  it('reads and writes like a dense array over its sections, dflt elsewhere; valueRuns gives the dense runs', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 * PER }), fc.integer({ min: 0, max: 3 })), { maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        (sections, writes, dflt) => {
          const a = pfnBytes(sections, PER, dflt);
          const n = 16 * PER;
          const dense = new Uint8Array(n).fill(dflt);
          const present = (i: number) => sections.includes(Math.floor(i / PER));
          for (const [at, len, v] of writes) {
            const s = sections[at % sections.length]!;
            const start = s * PER + (at % PER);
            // a fill stays inside the run of present sections it starts in
            let end = start;
            while (end < start + len && end < n && present(end)) end++;
            a.fill(v, start, end);
            dense.fill(v, start, end);
          }
          for (let i = 0; i < n; i++) expect(a.get(i)).toBe(dense[i]);
          const want: [number, number, number][] = [];
          for (let i = 0; i < n; ) {
            let j = i + 1;
            while (j < n && dense[j] === dense[i]) j++;
            want.push([i, j - i, dense[i]!]);
            i = j;
          }
          expect([...valueRuns(a, n)]).toEqual(want);
          expect(a.length).toBe((Math.max(...sections) + 1) * PER);
        },
      ),
    );
  });

  it('keeps no state for absent sections: a write there is an internal error; pfns past 2^32 work', () => {
    const high = 2 ** 34 / PER; // section number of pfn 2^34
    const a = pfnInt8([0, high], PER, -1);
    expect(a.get(2 ** 33)).toBe(-1);
    expect(() => a.set(PER, 1)).toThrow(/pfn 64 is in no present section/);
    a.set(2 ** 34 + 5, 7);
    expect(a.get(2 ** 34 + 5)).toBe(7);
    expect(a.get(2 ** 34 + 4)).toBe(-1);
    expect([...a.ranges()]).toEqual([
      [0, PER],
      [2 ** 34, 2 ** 34 + PER],
    ]);
  });
});

describe('BuddyAllocator over sparse sections at pfns past 2^32', () => {
  it('buddyOf is pfn ^ (1 << order), for pfns past 2^32 too', () => {
    for (const pfn of [0, 1, 512, 1023, 2 ** 31, 2 ** 34 + 2048, 2 ** 40 - 1024]) {
      for (let o = 0; o < MAX_ORDER; o++) {
        const want = pfn < 2 ** 31 ? pfn ^ (1 << o) : Math.floor(pfn / 2 ** (o + 1)) * 2 ** (o + 1) + ((pfn % 2 ** (o + 1)) ^ (1 << o));
        expect(buddyOf(pfn, o)).toBe(want);
      }
    }
  });

  it('frees a boot range at 60 TiB into max-order blocks, allocates and coalesces back', () => {
    const per = 1 << 15;
    const base = (60 * 2 ** 40) / 4096; // section-aligned
    const end = base + 16384;
    const b = new BuddyAllocator(end, x86Zones(end), [0, base / per], per);
    b.markPresent(base, end);
    b.freeBootRange(base, end);
    const z = b.zoneOf(base);
    expect(b.zones[z]!.name).toBe('Normal');
    expect(b.nrFree(z, MAX_ORDER - 1)).toBe(16);
    const got: number[] = [];
    for (let i = 0; i < 64; i++) got.push(b.alloc(3, MIGRATE.MOVABLE));
    expect(got.every((p) => p >= base && p < end && p % 8 === 0)).toBe(true);
    for (const p of got) expect(b.state.get(p)).toBe(PAGE_STATE.ALLOCATED);
    b.checkInvariants();
    for (const p of got) b.free(p, 3);
    b.checkInvariants();
    expect(b.nrFree(z, MAX_ORDER - 1)).toBe(16);
  });
});
