import { describe, expect, it } from 'vitest';
import { pageTypeDecoder } from '../../src/mm/pagetype.js';

describe('page-type schemes, detected from exported values', () => {
  it('6.0 inverted bits on 0xf0000000: hinted = BUDDY & OFFLINE = -385', () => {
    const d = pageTypeDecoder({ buddy: -129, offline: -257 });
    expect(d.scheme).toBe('inverted');
    expect(d.base).toBe(0xf0000000);
    expect(d.hintedValue).toBe(-385);
    const buddy = -129 >>> 0;
    const offline = -257 >>> 0;
    const hinted = -385 >>> 0;
    expect(d.is(buddy, 'buddy')).toBe(true);
    expect(d.is(buddy, 'offline')).toBe(false);
    expect(d.isHinted(buddy)).toBe(false);
    expect(d.is(offline, 'offline')).toBe(true);
    expect(d.isHinted(hinted)).toBe(true);
    // -1 (untyped) and small mapcounts are no type.
    for (const w of [0xffffffff, 0, 1, 5]) {
      expect(d.is(w, 'buddy') || d.is(w, 'offline') || d.isHinted(w)).toBe(false);
    }
  });
  it('6.11 inverted bits on 0x80000000', () => {
    const d = pageTypeDecoder({ buddy: ~0x40000000, offline: ~0x20000000 });
    expect(d.scheme).toBe('inverted');
    expect(d.base).toBe(0x80000000);
    // the low 16 bits may carry owner data in 6.11
    expect(d.is((~0x40000000 & ~0xffff) >>> 0 | 0x1234, 'buddy')).toBe(true);
    expect(d.isHinted((~0x40000000 & ~0x20000000) >>> 0)).toBe(true);
  });
  it('6.12+ top byte: one type, data in the low 24 bits, no hinted encoding', () => {
    const d = pageTypeDecoder({ buddy: 0xf0 << 24, offline: 0xf1 << 24 });
    expect(d.scheme).toBe('top-byte');
    expect(d.canEncodeHinted).toBe(false);
    expect(d.is(0xf0000123, 'buddy')).toBe(true);
    expect(d.is(0xf1000000, 'buddy')).toBe(false);
    expect(d.is(0xf1000000, 'offline')).toBe(true);
    expect(d.isHinted(0xf0000000)).toBe(false);
  });
  it('sentinel era (≤4.17): exact value', () => {
    const d = pageTypeDecoder({ buddy: -128 });
    expect(d.scheme).toBe('sentinel');
    expect(d.is(-128 >>> 0, 'buddy')).toBe(true);
    expect(d.is(-129 >>> 0, 'buddy')).toBe(false);
  });
  it('nothing exported: no scheme, nothing typed', () => {
    const d = pageTypeDecoder({});
    expect(d.scheme).toBe('none');
    expect(d.is(-129 >>> 0, 'buddy')).toBe(false);
  });
});
