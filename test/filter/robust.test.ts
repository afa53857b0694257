/** Hostile inputs: random struct pages and corrupted headers never crash, never drop data silently. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { classifyDump, CLASS_NAMES, PageClass } from '../../src/filter/index.js';
import { VmcoreError } from '../../src/errors.js';
import { Synth } from './synth.js';

describe('robustness', () => {
  const base = new Synth({ sectionSizeBits: 20, memBytes: 16 << 20 });
  const first = 2048;

  it('classifies random struct pages without throwing; every present pfn gets a class', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pfn: fc.integer({ min: first, max: 4095 }),
            flags: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
            mapcount: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-129, -257, -385, -1, 0)),
            private: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 12n })),
            compoundHead: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constant(0n)),
            order: fc.integer({ min: 0, max: 255 }),
          }),
          { maxLength: 40 },
        ),
        (pages) => {
          const s = new Synth({ sectionSizeBits: 20, memBytes: 16 << 20 });
          for (const p of pages) s.setPage(p.pfn, { ...p, mapping: p.flags & 0xffn });
          const r = openElfDump(new BufferSource(s.elf()));
          const c = classifyDump(r, { dumpLevel: 31 });
          let total = 0;
          for (const n of CLASS_NAMES) total += c.counts[n];
          expect(total).toBe(c.maxMapnr);
          expect(c.counts.hole).toBe(c.maxMapnr - r.present.count());
          let bad = 0;
          for (let p = 0; p < c.maxMapnr; p++) if (r.present.get(p) !== (c.classOf[p] !== PageClass.hole)) bad++;
          expect(bad).toBe(0);
          const reasons = Object.values(c.reasons).reduce((a, b) => a + b, 0);
          expect(reasons).toBe(c.counts.unknown);
          // Kernel memory below the scribbled range is never excluded.
          let notKernel = 0;
          for (let p = 0; p < first; p++) if (c.classOf[p] !== PageClass.kernel) notKernel++;
          expect(notKernel).toBe(0);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('corrupted ELF headers and notes fail only with typed errors', () => {
    const image = base.elf();
    const head = image.subarray(0, 3 * 4096);
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.integer({ min: 0, max: head.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Buffer.from(image);
        for (const e of edits) b[e.at] = e.byte;
        try {
          const r = openElfDump(new BufferSource(b));
          classifyDump(r, { dumpLevel: 31 });
        } catch (e) {
          expect(e).toBeInstanceOf(VmcoreError);
        }
      }),
      { numRuns: 100 },
    );
  });
});
