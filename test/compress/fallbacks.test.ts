/**
 * The codecs that serve when an optional native package (lzo, zstd-napi) is not installed — a
 * machine without a C compiler: the TypeScript LZO1X compressor and libzstd in WebAssembly. Each
 * must write what the native one writes (zstd: the same frames byte for byte; lzo: blocks
 * liblzo2 decodes, checked in codecs.test.ts) and say which it is in `implementation`.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { createZstdCodec } from '../../src/compress/zstd.js';
import { createLzoCodec } from '../../src/compress/lzo.js';
import { loadFromNodeModules, setCodecPackageLoader, type CodecPackageLoader } from '../../src/compress/native.js';
import { loadZstdWasm } from '../../src/compress/zstd-wasm.js';
import { VmcoreError } from '../../src/errors.js';

const PAGE = 4096;
const realLoader: CodecPackageLoader = loadFromNodeModules;
/** A loader where every native package is missing, as after `npm install` without a compiler. */
const missing: CodecPackageLoader = (codec) => {
  throw new Error(`Cannot find module '${codec}'`);
};

function pages(): Uint8Array[] {
  const text = Buffer.from('page_type: buddy order 3 pfn 0x1234\n'.repeat(120).slice(0, PAGE), 'latin1');
  const half = new Uint8Array(PAGE);
  half.set(randomBytes(PAGE / 2));
  return [new Uint8Array(PAGE), text, half, randomBytes(PAGE), new Uint8Array(PAGE).fill(0x5a)];
}

afterEach(() => setCodecPackageLoader(realLoader));

describe('without the native packages', () => {
  test('zstd falls back to WebAssembly, writes the frames zstd-napi writes, and says so', () => {
    const native = createZstdCodec();
    setCodecPackageLoader(missing);
    const wasm = createZstdCodec();
    expect(native.implementation).toMatch(/^npm zstd-napi /);
    expect(wasm.implementation).toMatch(/^npm @bokuweb\/zstd-wasm 0\.0\.27 \(WebAssembly; zstd-napi not loaded: Cannot find module 'zstd'\)$/);
    for (const p of pages()) {
      const a = new Uint8Array(PAGE);
      const b = new Uint8Array(PAGE);
      const na = native.compress(p, a);
      expect(wasm.compress(p, b)).toBe(na);
      expect(Buffer.from(b.subarray(0, na))).toEqual(Buffer.from(a.subarray(0, na)));
      if (na > 0) {
        const back = new Uint8Array(PAGE);
        expect(wasm.decompress(a.subarray(0, na), back)).toBe(PAGE);
        expect(Buffer.from(back)).toEqual(Buffer.from(p));
      }
    }
  });

  test('zstd in WebAssembly refuses corrupt frames with E_CORRUPT_PAGE', () => {
    setCodecPackageLoader(missing);
    const wasm = createZstdCodec();
    const a = new Uint8Array(PAGE);
    const n = wasm.compress(Buffer.from('x'.repeat(PAGE)), a);
    const bad = a.slice(0, n);
    bad[n - 3] ^= 0xff;
    bad[n - 2] ^= 0xff;
    expect(() => wasm.decompress(bad, new Uint8Array(PAGE))).toThrow(VmcoreError);
    expect(() => wasm.decompress(a.subarray(0, n), new Uint8Array(100))).toThrow(/more than 100/);
  });

  test('the wasm module grows its memory for blocks larger than its first buffers', () => {
    const w = loadZstdWasm();
    const big = Buffer.from('0123456789abcdef'.repeat(2 ** 16)); // 1 MiB
    const c = Buffer.from(w.compress(big, 1));
    expect(Buffer.from(w.decompress(c, big.length))).toEqual(big);
  });

  test('lzo falls back to the TypeScript compressor and says why', () => {
    setCodecPackageLoader(missing);
    const ts = createLzoCodec();
    expect(ts.implementation).toBe("built-in (TypeScript LZO1X); npm lzo not loaded: Cannot find module 'lzo'");
    for (const p of pages()) {
      const out = new Uint8Array(PAGE);
      const n = ts.compress(p, out);
      if (n === 0) continue;
      const back = new Uint8Array(PAGE);
      expect(ts.decompress(out.subarray(0, n), back)).toBe(PAGE);
      expect(Buffer.from(back)).toEqual(Buffer.from(p));
    }
  });

  test('a codec error from the single executable loader is not hidden by a fallback', () => {
    setCodecPackageLoader(() => {
      throw new VmcoreError('E_CODEC_UNAVAILABLE', 'codec zstd (-z): cannot load its native addon /tmp/x/zstd.node: nope');
    });
    expect(() => createZstdCodec()).toThrow(/cannot load its native addon/);
    expect(() => createLzoCodec()).toThrow(/cannot load its native addon/);
  });
});
