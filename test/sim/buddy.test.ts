import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BuddyAllocator, MAX_ORDER, MIGRATE, PAGE_STATE, x86Zones } from '../../src/sim/buddy.js';
import { buildMachine } from '../../src/sim/index.js';
import { checkMachine } from '../../src/sim/machine.js';

/** A small machine: 16 MiB DMA + a bit of DMA32, with reserved holes in the middle. */
function smallAllocator(reserved: Array<[number, number]>): { b: BuddyAllocator; present: number } {
  const n = 8192;
  const b = new BuddyAllocator(n, x86Zones(n));
  b.markPresent(0, n);
  const isReserved = (p: number) => reserved.some(([s, e]) => p >= s && p < e);
  let start = -1;
  for (let p = 0; p <= n; p++) {
    const free = p < n && !isReserved(p);
    if (free && start < 0) start = p;
    if (!free && start >= 0) {
      b.freeBootRange(start, p);
      start = -1;
    }
  }
  return { b, present: n };
}

type Op = { kind: 'alloc'; order: number; mt: number } | { kind: 'free'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), order: fc.nat({ max: MAX_ORDER - 1 }), mt: fc.constantFrom(MIGRATE.UNMOVABLE, MIGRATE.MOVABLE, MIGRATE.RECLAIMABLE) }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
);
const reservedArb = fc.array(
  fc.tuple(fc.nat({ max: 8191 }), fc.nat({ max: 300 })).map(([s, l]) => [s, Math.min(8192, s + l + 1)] as [number, number]),
  { maxLength: 5 },
);

describe('buddy allocator', () => {
  it('keeps its invariants under random alloc/free sequences', () => {
    fc.assert(
      fc.property(reservedArb, fc.array(opArb, { maxLength: 300 }), (reserved, ops) => {
        const { b, present } = smallAllocator(reserved);
        b.checkInvariants();
        const live: Array<[number, number]> = [];
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const pfn = b.alloc(op.order, op.mt);
            if (pfn >= 0) {
              expect(pfn % (1 << op.order)).toBe(0);
              for (const [p, o] of live) {
                // no overlap with a live allocation
                expect(pfn + (1 << op.order) <= p || p + (1 << o) <= pfn).toBe(true);
              }
              live.push([pfn, op.order]);
            }
          } else if (live.length) {
            const [pfn, order] = live.splice(op.pick % live.length, 1)[0]!;
            b.free(pfn, order);
          }
        }
        // free-list membership == per-pfn state; no unmerged buddies; free + allocated = managed
        b.checkInvariants();
        const [absent, reservedN, free, allocated] = b.stateCounts();
        expect(absent).toBe(0);
        expect(free! + allocated! + reservedN!).toBe(present);
        expect(allocated).toBe(live.reduce((a, [, o]) => a + (1 << o), 0));
        // no page both free and allocated: every live allocation is ALLOCATED
        for (const [p, o] of live) for (let q = p; q < p + (1 << o); q++) expect(b.state.get(q)).toBe(PAGE_STATE.ALLOCATED);
      }),
      { numRuns: 150 },
    );
  });

  it('coalesces back to max-order blocks when everything is freed', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 200 }), fc.nat(), (orders, seed) => {
        const { b } = smallAllocator([]);
        const live: Array<[number, number]> = [];
        for (const o of orders) {
          const p = b.alloc(o, MIGRATE.MOVABLE);
          if (p >= 0) live.push([p, o]);
        }
        // free in a seed-dependent order
        let s = seed >>> 0;
        while (live.length) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const [p, o] = live.splice(s % live.length, 1)[0]!;
          b.free(p, o);
        }
        b.checkInvariants();
        for (let z = 0; z < b.zones.length; z++)
          for (let o = 0; o < MAX_ORDER - 1; o++) expect(b.nrFree(z, o)).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('boots and runs the workload of a whole machine consistently', () => {
    for (const seed of [1, 2, 3]) {
      const m = buildMachine({ seed, memBytes: 192 << 20, l5: false, kaslr: seed === 2, hintedStyle: 'combined', cpus: 2 });
      m.buddy.checkInvariants();
      checkMachine(m);
      const [, reserved, free, allocated] = m.buddy.stateCounts();
      const managed = m.buddy.managed.reduce((a, b) => a + b, 0);
      expect(free! + allocated!).toBe(managed);
      const ramPages = m.layout.memBytes / 4096;
      expect(free! + allocated! + reserved!).toBe(ramPages);
    }
  });
});
