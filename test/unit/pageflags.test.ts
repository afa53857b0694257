/**
 * PG_reported = PG_uptodate, decided from the exported NUMBER(PG_*) layout (src/mm/pageflags.ts):
 * every known layout, the real Debian 6.1 and 6.12 exports, the simulator's profiles, and
 * exports that identify no layout (refused, naming the keys).
 */
import { describe, expect, it } from 'vitest';
import { decideReportedBit, describeReportedBit, PAGE_FLAGS_LAYOUTS } from '../../src/mm/pageflags.js';
import { PROFILES, PROFILE_NAMES } from '../../src/mm/profiles.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';

const vi = (numbers: Record<string, number | bigint>) =>
  parseVmcoreinfo(['OSRELEASE=6.99.0-not-read', ...Object.entries(numbers).map(([k, v]) => `NUMBER(${k})=${v}`), ''].join('\n'));

/** Debian 6.1.0-57-amd64, read from crash_save_vmcoreinfo_init in its vmlinux. */
const DEBIAN_6_1 = { PG_lru: 4, PG_private: 13, PG_swapcache: 10, PG_swapbacked: 19, PG_slab: 9, PG_hwpoison: 23, PG_head_mask: 65536 };
/** Debian 6.12.118+deb12-amd64, the same way. */
const DEBIAN_6_12 = { PG_lru: 5, PG_private: 14, PG_swapcache: 10, PG_swapbacked: 17, PG_hwpoison: 20, PG_head_mask: 64 };

describe('decideReportedBit', () => {
  it('Debian 6.1: bit 2 (the 4.20-6.5 layout), naming the numbers that decided it', () => {
    const d = decideReportedBit(vi(DEBIAN_6_1));
    expect(d).toMatchObject({ by: 'vmcoreinfo', bit: 2, layouts: ['4.20-6.5'] });
    expect(describeReportedBit(d)).toMatch(/^PG_reported = PG_uptodate = bit 2, decided by NUMBER\(PG_lru\)=4, NUMBER\(PG_head_mask\)=65536, /);
  });

  it('Debian 6.12: bit 3 (the 6.12+ layout)', () => {
    const d = decideReportedBit(vi(DEBIAN_6_12));
    expect(d).toMatchObject({ by: 'vmcoreinfo', bit: 3, layouts: ['6.12+'] });
    expect(describeReportedBit(d)).toContain('NUMBER(PG_lru)=5, NUMBER(PG_head_mask)=64');
  });

  it.each(PAGE_FLAGS_LAYOUTS.map((l) => [l.name, l] as const))('layout %s: its own numbers decide its bit, and only it matches', (_n, l) => {
    const numbers: Record<string, number> = {};
    for (const [k, v] of Object.entries(l.exports)) if (v !== null) numbers[k] = typeof v === 'number' ? v : v[1];
    const d = decideReportedBit(vi(numbers));
    expect(d).toMatchObject({ by: 'vmcoreinfo', bit: l.uptodate, layouts: [l.name], since: l.since });
  });

  it.each(PROFILE_NAMES.map((n) => [n]))('simulator profile %s exports a layout whose PG_uptodate is the one it sets', (name) => {
    const p = PROFILES[name]!;
    const numbers: Record<string, number | bigint> = { PG_lru: p.flags.lru, PG_private: p.flags.private, PG_swapcache: p.flags.swapcache, PG_head_mask: p.flags.headMask };
    if (p.flags.swapbacked !== undefined) numbers.PG_swapbacked = p.flags.swapbacked;
    if (p.flags.slab !== undefined) numbers.PG_slab = p.flags.slab;
    if (p.flags.hwpoison !== undefined) numbers.PG_hwpoison = p.flags.hwpoison;
    if (p.compound.hugetlb === 'flag' && p.pgHugetlb !== undefined) numbers.PG_hugetlb = p.pgHugetlb;
    expect(decideReportedBit(vi(numbers))).toMatchObject({ by: 'vmcoreinfo', bit: p.otherFlags.uptodate, layouts: [expect.any(String)] });
  });

  it('PG_lru and PG_head_mask alone decide when every layout they fit agrees', () => {
    expect(decideReportedBit(vi({ PG_lru: 5, PG_head_mask: 64 }))).toMatchObject({ by: 'vmcoreinfo', bit: 3, layouts: ['6.6-6.9', '6.10-6.11', '6.12+'] });
    expect(decideReportedBit(vi({ PG_lru: 4, PG_head_mask: 65536 }))).toMatchObject({ by: 'vmcoreinfo', bit: 2, layouts: ['4.20-6.5'] });
  });

  it('refuses without PG_lru or PG_head_mask, naming them', () => {
    const d = decideReportedBit(vi({ PG_private: 14, PG_swapcache: 10 }));
    expect(d).toEqual({ bit: null, by: 'unknown', why: 'NUMBER(PG_lru), NUMBER(PG_head_mask) not exported', keys: ['NUMBER(PG_lru)', 'NUMBER(PG_head_mask)'] });
    expect(describeReportedBit(d)).toBe('PG_uptodate position unknown: NUMBER(PG_lru), NUMBER(PG_head_mask) not exported');
    expect(decideReportedBit(vi({ PG_lru: 5 }))).toMatchObject({ by: 'unknown', keys: ['NUMBER(PG_head_mask)'] });
  });

  it('refuses numbers of two layouts at once, naming every exported key', () => {
    // 6.1's PG_lru and PG_head_mask with 6.12's PG_private.
    const d = decideReportedBit(vi({ ...DEBIAN_6_1, PG_private: 14 }));
    expect(d.by).toBe('unknown');
    expect(d.bit).toBeNull();
    expect(describeReportedBit(d)).toMatch(/^PG_uptodate position unknown: NUMBER\(PG_lru\)=4, .*NUMBER\(PG_private\)=14.* match no known enum pageflags layout$/);
    expect(d.by === 'unknown' && d.keys).toContain('NUMBER(PG_private)');
  });

  it('refuses a key the layout does not have (PG_slab on 6.12, PG_hugetlb on 6.1)', () => {
    expect(decideReportedBit(vi({ ...DEBIAN_6_12, PG_slab: 9 })).by).toBe('unknown');
    expect(decideReportedBit(vi({ ...DEBIAN_6_1, PG_hugetlb: 8 })).by).toBe('unknown');
  });

  it('refuses a PG_hwpoison outside the layout window, and an unknown future layout', () => {
    expect(decideReportedBit(vi({ ...DEBIAN_6_12, PG_hwpoison: 30 })).by).toBe('unknown');
    expect(decideReportedBit(vi({ PG_lru: 7, PG_head_mask: 1 << 8 })).by).toBe('unknown');
  });

  it('refuses when the layouts it fits disagree (a table where they can)', () => {
    const l = PAGE_FLAGS_LAYOUTS[4]!;
    const other = { ...l, name: 'other', uptodate: 2, exports: { ...l.exports, PG_private: 99 } };
    const d = decideReportedBit(vi({ PG_lru: 5, PG_head_mask: 64 }), [l, other]);
    expect(d).toMatchObject({ by: 'unknown', bit: null, keys: ['NUMBER(PG_lru)', 'NUMBER(PG_head_mask)'] });
    expect(describeReportedBit(d)).toMatch(/fit layouts 6\.12\+ and other, which disagree \(PG_uptodate 3 or 2\)/);
    // The key that tells them apart decides.
    expect(decideReportedBit(vi({ PG_lru: 5, PG_head_mask: 64, PG_private: 14 }), [l, other])).toMatchObject({ bit: 3, layouts: ['6.12+'] });
  });
});
