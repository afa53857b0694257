import * as zlib from 'node:zlib';
import { VmcoreError } from '../errors.js';
import { CODEC_FLAGS, type PageCodec } from './codec.js';

/** The parts of node:zlib's stream internals a reused deflate stream needs. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}
type ZlibInternals = { _handle?: ZlibHandle; _writeState?: Uint32Array };

type Compress = (page: Uint8Array, out: Uint8Array) => number;

/** One fresh stream per page through the public API (allocates the stream state every page). */
const compressFresh: Compress = (page, out) => {
  const c = zlib.deflateSync(page, { level: 1 });
  if (c.length >= page.length) return 0;
  out.set(c, 0);
  return c.length;
};

/**
 * One deflate stream kept open and reset between pages, compressing straight into the caller's
 * buffer: the same bytes as a fresh stream (deflateReset restores the initial state), without
 * allocating and clearing ~270 KiB of zlib state and a result Buffer per page (measured: 70 vs
 * 106–150 µs per 4 KiB page here). It drives node:zlib's native handle, which is not public
 * API, so it is used only if that handle looks as expected and its output matches
 * {@link compressFresh} on probe pages; otherwise null.
 */
function reusedStream(): Compress | null {
  let z: zlib.Deflate;
  try {
    z = zlib.createDeflate({ level: 1 });
  } catch {
    return null;
  }
  const { _handle: h, _writeState: ws } = z as unknown as ZlibInternals;
  if (!h || typeof h.writeSync !== 'function' || typeof h.reset !== 'function' || !(ws instanceof Uint32Array) || ws.length < 2) {
    return null;
  }
  const compress: Compress = (page, out) => {
    h.writeSync(zlib.constants.Z_FINISH, page, 0, page.length, out, 0, page.length);
    // ws = [avail_out, avail_in]. Output room left means the stream ended: all of it fits in
    // fewer bytes than the page. No room left: not smaller, store the page raw.
    const room = ws[0]!;
    const inLeft = ws[1]!;
    h.reset();
    return room > 0 && inLeft === 0 ? page.length - room : 0;
  };
  try {
    const probes = [new Uint8Array(4096), new Uint8Array(4096), new Uint8Array(4096)];
    for (let i = 0; i < 4096; i++) {
      probes[1]![i] = (i * 2654435761) >>> 24; // incompressible-ish: stored raw
      probes[2]![i] = i % 251 < 100 ? 0x41 + (i % 7) : i & 0xff;
    }
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    for (const p of probes) {
      const n = compress(p, a);
      const m = compressFresh(p, b);
      if (n !== m || Buffer.compare(a.subarray(0, n), b.subarray(0, m)) !== 0) return null;
    }
  } catch {
    return null;
  }
  (compress as Compress & { stream?: unknown }).stream = z; // keep the stream (and its handle) alive
  return compress;
}

/**
 * zlib as makedumpfile `-c` writes it: one zlib stream (RFC 1950: 2-byte header, deflate data,
 * adler32) per page, compression level 1, default window and memLevel. Each thread makes its
 * own codec: the reused stream is per thread.
 */
export function createZlibCodec(): PageCodec {
  const reused = reusedStream();
  return {
    name: 'zlib',
    flag: CODEC_FLAGS.zlib,
    implementation: reused ? 'node:zlib (one stream, reset per page)' : 'node:zlib',
    compress: reused ?? compressFresh,
    decompress: zlibDecompress,
  };
}


/** The public API's inflate: a fresh stream and result Buffer per page. */
function inflateFresh(src: Uint8Array, out: Uint8Array): number {
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
}

type Decompress = (src: Uint8Array, out: Uint8Array) => number;

/**
 * One inflate stream kept open and reset between pages, decoding into a scratch buffer one byte
 * longer than the page (so "more than fits" is seen, as {@link inflateFresh}'s maxOutputLength
 * does). A fresh stream per page made a refilter of a 1 GiB `-c` dump spend more time
 * constructing streams and collecting their garbage than inflating. Bad data makes node:zlib
 * destroy the stream: the error is reported and the next page gets a new stream. Used only if
 * the handle looks as expected and agrees with {@link inflateFresh} on probe pages.
 */
function reusedInflate(): Decompress | null {
  let z: zlib.Inflate | null = null;
  let h: ZlibHandle | undefined;
  let ws: Uint32Array | undefined;
  let scratch = new Uint8Array(0);
  const open = (): boolean => {
    try {
      z = zlib.createInflate();
    } catch {
      return false;
    }
    ({ _handle: h, _writeState: ws } = z as unknown as ZlibInternals);
    z.on('error', () => {}); // reported below, from the handle's state; the event would be late
    return !!h && typeof h.writeSync === 'function' && typeof h.reset === 'function' && ws instanceof Uint32Array && ws.length >= 2;
  };
  if (!open()) return null;
  const decompress: Decompress = (src, out) => {
    // A stream destroyed by bad data is replaced; should that fail, the public API serves.
    if ((!z || z.destroyed) && !open()) return inflateFresh(src, out);
    if (scratch.length < out.length + 1) scratch = new Uint8Array(out.length + 1);
    let failed: string | null = null;
    try {
      h!.writeSync(zlib.constants.Z_FINISH, src, 0, src.length, scratch, 0, out.length + 1);
    } catch (e) {
      failed = (e as Error).message;
    }
    if (z!.destroyed || failed !== null) {
      const why = failed ?? (z!.errored?.message || 'invalid data');
      z = null;
      throw new VmcoreError('E_CORRUPT_PAGE', `zlib data does not decode: ${why}`);
    }
    const got = out.length + 1 - ws![0]!;
    h!.reset();
    if (got > out.length) throw new VmcoreError('E_CORRUPT_PAGE', `zlib data decodes to more than ${out.length} bytes`);
    out.set(scratch.subarray(0, got), 0);
    return got;
  };
  try {
    const page = new Uint8Array(4096);
    for (let i = 0; i < 4096; i++) page[i] = i % 251 < 100 ? 0x41 + (i % 7) : i & 0xff;
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    for (const p of [new Uint8Array(4096), page]) {
      const c = zlib.deflateSync(p, { level: 1 });
      if (decompress(c, a) !== 4096 || inflateFresh(c, b) !== 4096 || Buffer.compare(a, b) !== 0 || Buffer.compare(a, p) !== 0) return null;
    }
  } catch {
    return null;
  }
  return decompress;
}

/**
 * The decoder, made on first use (a compressing run never needs one). One per thread, like the
 * codec: the reused stream is per thread.
 */
let decoder: Decompress | null = null;
function zlibDecompress(src: Uint8Array, out: Uint8Array): number {
  decoder ??= reusedInflate() ?? inflateFresh;
  return decoder(src, out);
}

/** Which inflate this thread uses (for the tests: a Node release may change the handle). */
export function zlibInflateImplementation(): 'one stream, reset per page' | 'a stream per page' {
  decoder ??= reusedInflate() ?? inflateFresh;
  return decoder === inflateFresh ? 'a stream per page' : 'one stream, reset per page';
}
