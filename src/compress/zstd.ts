import { VmcoreError } from '../errors.js';
import { CODEC_FLAGS, type PageCodec } from './codec.js';
import { loadCodecPackage } from './native.js';
import { loadZstdWasm } from './zstd-wasm.js';

interface ZstdModule {
  Compressor: new () => { setParameters(p: { compressionLevel?: number }): void; compress(b: Uint8Array): Buffer };
  Decompressor: new () => { decompress(b: Uint8Array): Buffer };
}

/**
 * zstd as makedumpfile `-z` stores it: one standard frame per page (ZSTD_compressCCtx, level 1,
 * content size in the frame header). From npm `zstd-napi` (synchronous N-API binding of libzstd)
 * when it is installed — an optional dependency, built from source at install — else from libzstd
 * compiled to WebAssembly (src/compress/zstd-wasm.ts), about half as fast, same format. The single
 * executable carries its addon: losing it is an error there, not a slower codec.
 */
export function createZstdCodec(): PageCodec {
  let engine: { implementation: string; compress(p: Uint8Array): Uint8Array; decompress(s: Uint8Array, cap: number): Uint8Array };
  try {
    engine = nativeEngine();
  } catch (e) {
    if (e instanceof VmcoreError && e.code === 'E_CODEC_UNAVAILABLE') throw e;
    const why = (e as Error).message.split('\n')[0];
    const w = loadZstdWasm();
    engine = {
      implementation: `npm @bokuweb/zstd-wasm ${w.version} (WebAssembly; zstd-napi not loaded: ${why})`,
      compress: (p) => w.compress(p, 1),
      decompress: (s, cap) => w.decompress(s, cap),
    };
  }
  const probe = engine.compress(new Uint8Array(64));
  if (frameContentSize(probe) !== 64 || engine.decompress(probe, 64).length !== 64) throw new Error('self-test failed');
  return {
    name: 'zstd',
    flag: CODEC_FLAGS.zstd,
    implementation: engine.implementation,
    compress(page: Uint8Array, out: Uint8Array): number {
      const c = engine.compress(page);
      if (c.length >= page.length) return 0;
      out.set(c, 0);
      return c.length;
    },
    decompress(src: Uint8Array, out: Uint8Array): number {
      // Frame_Content_Size is in the header of every frame we and makedumpfile write; a frame
      // without it, or claiming more than fits, is refused before the decoder allocates.
      const declared = frameContentSize(src);
      if (declared === null) throw new VmcoreError('E_CORRUPT_PAGE', 'zstd frame header is invalid or lacks the content size');
      if (declared > out.length) {
        throw new VmcoreError('E_CORRUPT_PAGE', `zstd frame declares ${declared} bytes, more than ${out.length}`);
      }
      let d: Uint8Array;
      try {
        d = engine.decompress(src, out.length);
      } catch (e) {
        throw new VmcoreError('E_CORRUPT_PAGE', `zstd data does not decode: ${(e as Error).message}`);
      }
      if (d.length > out.length) throw new VmcoreError('E_CORRUPT_PAGE', `zstd data decodes to more than ${out.length} bytes`);
      out.set(d, 0);
      return d.length;
    },
  };
}

/** zstd-napi's compressor and decompressor at level 1 (throws if the package does not load). */
function nativeEngine() {
  const pkg = loadCodecPackage('zstd');
  const mod = pkg.mod as ZstdModule;
  const cctx = new mod.Compressor();
  cctx.setParameters({ compressionLevel: 1 });
  const dctx = new mod.Decompressor();
  return {
    implementation: `npm zstd-napi ${pkg.version}`,
    compress: (p: Uint8Array): Uint8Array => cctx.compress(p),
    decompress: (s: Uint8Array, _cap: number): Uint8Array => dctx.decompress(s),
  };
}

/** Frame_Content_Size of a zstd frame (RFC 8878 §3.1.1.1), or null if absent or malformed. */
export function frameContentSize(b: Uint8Array): number | null {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return null;
  const fhd = b[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const dictFlag = fhd & 3;
  if (fcsFlag === 0 && !single) return null;
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = fcsFlag === 0 ? 1 : [1, 2, 4, 8][fcsFlag]!;
  if (p + size > b.length) return null;
  let v = 0;
  for (let i = 0; i < size; i++) v += b[p + i]! * 2 ** (8 * i);
  if (size === 2) v += 256;
  return v;
}
