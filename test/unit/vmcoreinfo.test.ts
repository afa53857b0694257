import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { VmcoreError } from '../../src/errors.js';

const fedora = readFileSync(new URL('../../fixtures/vmcoreinfo/fedora-6.2.15.txt', import.meta.url), 'utf8');

describe('VMCOREINFO parser', () => {
  it('decodes every key kind with its base (real 6.2.15 sample)', () => {
    const vi = parseVmcoreinfo(fedora);
    expect(vi.osrelease).toBe('6.2.15-100.fc36.x86_64');
    expect(vi.pageSize).toBe(4096);
    expect(vi.symbol('init_top_pgt')).toBe(0xffffffffb7010000n);
    expect(vi.symbol('mem_section')).toBe(0xffff8dab5f7cd000n);
    expect(vi.size('page')).toBe(64);
    expect(vi.offset('page._mapcount')).toBe(48);
    expect(vi.length('zone.free_area')).toBe(11);
    expect(vi.number('PAGE_BUDDY_MAPCOUNT_VALUE')).toBe(-129n);
    expect(vi.number('phys_base')).toBe(0x758000000n); // decimal in VMCOREINFO
    expect(vi.kernelOffset).toBe(0x34000000n); // hex without 0x
    expect(vi.raw('BUILD-ID')).toBe('d3d01c80278f8927486b7f01d0ab6be77784dceb');
    expect(vi.has('CRASHTIME')).toBe(false);
    expect(vi.keys.length).toBe(vi.lines.length);
  });
  it('accepts the ad-hoc 0x NUMBER lines and signed decimals', () => {
    const vi = parseVmcoreinfo('NUMBER(VMALLOC_START)=0xffffc90000000000\nNUMBER(x)=-268435456\nCRASHTIME=1700000000\n');
    expect(vi.number('VMALLOC_START')).toBe(0xffffc90000000000n);
    expect(vi.numberAsInt('x')).toBe(-268435456);
    expect(vi.crashTime).toBe(1700000000);
  });
  it('keeps the first of duplicate keys, like makedumpfile', () => {
    const vi = parseVmcoreinfo('SIZE(page)=64\nSIZE(page)=80\n');
    expect(vi.size('page')).toBe(64);
  });
  it('names the malformed line', () => {
    expect(() => parseVmcoreinfo('PAGESIZE=4096\ngarbage line\n')).toThrow(/line 2 is malformed/);
    expect(() => parseVmcoreinfo('FOO(bar)=1\n')).toThrow(/line 1 has an unknown key kind/);
    try {
      parseVmcoreinfo('OK=1\n\nbad\n');
    } catch (e) {
      expect(e).toBeInstanceOf(VmcoreError);
      expect((e as VmcoreError).code).toBe('E_VMCOREINFO');
      expect((e as VmcoreError).data.line).toBe(3);
    }
  });
  it('reports non-numeric values at use, naming key and line', () => {
    const vi = parseVmcoreinfo('PAGESIZE=4096\nSIZE(page)=sixty-four\nSYMBOL(x)=zz\n');
    expect(() => vi.size('page')).toThrow(/line 2: SIZE\(page\) has a non-numeric value/);
    expect(() => vi.symbol('x')).toThrow(/line 3: SYMBOL\(x\) has a non-hex value/);
  });
  it('stops at a NUL (padded note descriptors)', () => {
    const vi = parseVmcoreinfo('PAGESIZE=4096\n\0\0\0');
    expect(vi.pageSize).toBe(4096);
  });
});
