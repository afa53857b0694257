import * as zlib from 'node:zlib';
import { VmcoreError } from '../errors.js';
import { CODEC_FLAGS, type PageCodec } from './codec.js';

/**
 * zlib as makedumpfile `-c` writes it: one zlib stream (RFC 1950: 2-byte header, deflate data,
 * adler32) per page, compression level 1, default window and memLevel, a fresh stream per page.
 */
export const zlibCodec: PageCodec = {
  name: 'zlib',
  flag: CODEC_FLAGS.zlib,
  implementation: 'node:zlib',
  compress(page: Uint8Array, out: Uint8Array): number {
    const c = zlib.deflateSync(page, { level: 1 });
    if (c.length >= page.length) return 0;
    out.set(c, 0);
    return c.length;
  },
  decompress(src: Uint8Array, out: Uint8Array): number {
    let d: Buffer;
    try {
      // maxOutputLength bounds a hostile block ("zip bomb") to one byte more than fits.
      d = zlib.inflateSync(src, { maxOutputLength: out.length + 1 });
    } catch (e) {
      throw new VmcoreError('E_CORRUPT_PAGE', `zlib data does not decode: ${(e as Error).message}`);
    }
    if (d.length > out.length) {
      throw new VmcoreError('E_CORRUPT_PAGE', `zlib data decodes to more than ${out.length} bytes`);
    }
    out.set(d, 0);
    return d.length;
  },
};
