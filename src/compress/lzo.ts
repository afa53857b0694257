/**
 * LZO1X in TypeScript: a greedy single-hash compressor in the spirit of LZO1X-1 and a bounds-checked
 * ("safe") decompressor, both written from the public description of the LZO1X bitstream (the
 * instruction table in the Linux kernel's Documentation/staging/lzo.rst), not from any
 * implementation's code. The output is a raw LZO1X block with no header, as makedumpfile `-l`
 * stores it, and is decodable by liblzo2's `lzo1x_decompress_safe` (checked in
 * test/compress/codecs.test.ts through ctypes and libkdumpfile).
 *
 * Bitstream summary (state = literals copied by the previous instruction: 0, 1..3, or 4 for ≥4):
 * - first byte > 17: copy (byte − 17) literals; state = min(that, 4)
 * - 0000LLLL, state 0: literal run of L+3 bytes (L = 0: 18 + zero-byte extension)
 * - 0000DDSS, state 1..3: 2-byte match, distance 1 + D + (next byte << 2)
 * - 0000DDSS, state 4: 3-byte match, distance 2049 + D + (next byte << 2)
 * - 01LDDDSS / 1LLDDDSS: match of 3..8 bytes, distance 1 + D + (next byte << 3) (≤ 2048)
 * - 001LLLLL + LE16 (D << 2 | SS): match of L+2 bytes (L = 0: 33 + extension), distance 1 + D (≤ 16384)
 * - 0001HLLL + LE16 (D << 2 | SS): match of L+2 bytes (L = 0: 9 + extension), distance
 *   16384 + (H << 14) + D; distance 16384 exactly (H = 0, D = 0) ends the stream (0x11 0x00 0x00)
 * - SS: 0..3 literals that follow the match (the next instruction is then a match)
 * - extension: each 0x00 byte adds 255, then one non-zero byte adds its value
 */
import { VmcoreError } from '../errors.js';
import { CODEC_FLAGS, type PageCodec } from './codec.js';
import { loadCodecPackage } from './native.js';

const M2_MAX_OFFSET = 0x0800;
const M3_MAX_OFFSET = 0x4000;
const M4_MAX_OFFSET = 0xbfff;
const MIN_MATCH = 4;
const HASH_BITS = 13;

/** Worst-case compressed size of `n` bytes (incompressible input plus instruction overhead). */
export function lzoBound(n: number): number {
  return n + (n >>> 4) + 64 + 3;
}

const hashTable = new Int32Array(1 << HASH_BITS);

function read32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/**
 * Compress `src` into `dst` (at least {@link lzoBound}(src.length) bytes) as one LZO1X block.
 * Returns the compressed length.
 */
export function lzo1xCompress(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  const table = hashTable;
  table.fill(-1);
  let op = 0;
  let ip = 0;
  let lit = 0; // first pending literal
  let sPos = -1; // byte of the previous match that holds its SS bits

  const putExt = (rem: number): void => {
    while (rem > 255) {
      dst[op++] = 0;
      rem -= 255;
    }
    dst[op++] = rem;
  };

  const emitLiterals = (from: number, t: number): void => {
    if (t === 0) return;
    if (op === 0 && t <= 238) {
      dst[op++] = 17 + t;
    } else if (t <= 3) {
      // Only reachable after a match: the count rides in that match's SS bits.
      dst[sPos]! |= t;
    } else if (t <= 18) {
      dst[op++] = t - 3;
    } else {
      dst[op++] = 0;
      putExt(t - 18);
    }
    dst.set(src.subarray(from, from + t), op);
    op += t;
  };

  const emitMatch = (dist: number, len: number): void => {
    if (len <= 8 && dist <= M2_MAX_OFFSET) {
      const d = dist - 1;
      sPos = op;
      dst[op++] = ((len - 1) << 5) | ((d & 7) << 2);
      dst[op++] = d >>> 3;
    } else if (dist <= M3_MAX_OFFSET) {
      const d = dist - 1;
      if (len <= 33) dst[op++] = 32 | (len - 2);
      else {
        dst[op++] = 32;
        putExt(len - 33);
      }
      sPos = op;
      dst[op++] = (d << 2) & 0xff;
      dst[op++] = d >>> 6;
    } else {
      const d = dist - 0x4000;
      const h = (d >>> 14) & 1;
      if (len <= 9) dst[op++] = 16 | (h << 3) | (len - 2);
      else {
        dst[op++] = 16 | (h << 3);
        putExt(len - 9);
      }
      const dd = d & 0x3fff;
      sPos = op;
      dst[op++] = (dd << 2) & 0xff;
      dst[op++] = dd >>> 6;
    }
  };

  while (ip + MIN_MATCH <= n) {
    const v = read32(src, ip);
    const h = Math.imul(v, 0x9e3779b1) >>> (32 - HASH_BITS);
    const cand = table[h]!;
    table[h] = ip;
    if (cand >= 0 && ip - cand <= M4_MAX_OFFSET && read32(src, cand) === v) {
      let len = MIN_MATCH;
      while (ip + len < n && src[cand + len] === src[ip + len]) len++;
      emitLiterals(lit, ip - lit);
      emitMatch(ip - cand, len);
      ip += len;
      lit = ip;
    } else {
      // Skip faster through data that does not match (incompressible pages stay cheap).
      ip += 1 + ((ip - lit) >>> 5);
    }
  }
  emitLiterals(lit, n - lit);
  dst[op++] = 0x11;
  dst[op++] = 0;
  dst[op++] = 0;
  return op;
}

function corrupt(what: string, at: number): VmcoreError {
  return new VmcoreError('E_CORRUPT_PAGE', `lzo data is corrupt: ${what} at input byte ${at}`);
}

/**
 * Decompress one LZO1X block from `src` into `out`, checking every read, write and back-reference.
 * Returns the number of bytes produced; the block must end exactly at the end of `src`.
 */
export function lzo1xDecompress(src: Uint8Array, out: Uint8Array): number {
  const n = src.length;
  const cap = out.length;
  let ip = 0;
  let op = 0;
  let state = 0;

  const need = (k: number): void => {
    if (ip + k > n) throw corrupt('input overrun', ip);
  };
  const ext = (): number => {
    let v = 0;
    for (;;) {
      need(1);
      const b = src[ip++]!;
      if (b !== 0) return v + b;
      v += 255;
      if (v > cap) throw corrupt('length extension too long', ip);
    }
  };
  const literals = (t: number): void => {
    need(t);
    if (op + t > cap) throw corrupt('output overrun', ip);
    out.set(src.subarray(ip, ip + t), op);
    ip += t;
    op += t;
  };

  need(1);
  if (src[0]! > 17) {
    const t = src[ip++]! - 17;
    literals(t);
    state = t < 4 ? t : 4;
  }
  for (;;) {
    need(1);
    const t = src[ip++]!;
    let dist: number;
    let len: number;
    let s: number;
    if (t < 16) {
      if (state === 0) {
        literals((t === 0 ? 15 + ext() : t) + 3);
        state = 4;
        continue;
      }
      need(1);
      dist = (t >>> 2) + (src[ip++]! << 2) + (state === 4 ? 2049 : 1);
      len = state === 4 ? 3 : 2;
      s = t & 3;
    } else if (t >= 64) {
      need(1);
      dist = 1 + ((t >>> 2) & 7) + (src[ip++]! << 3);
      len = (t >>> 5) + 1;
      s = t & 3;
    } else if (t >= 32) {
      len = (t & 31) === 0 ? 31 + ext() : t & 31;
      len += 2;
      need(2);
      const lo = src[ip]!;
      const w = lo | (src[ip + 1]! << 8);
      ip += 2;
      dist = 1 + (w >>> 2);
      s = lo & 3;
    } else {
      len = (t & 7) === 0 ? 7 + ext() : t & 7;
      len += 2;
      need(2);
      const lo = src[ip]!;
      const w = lo | (src[ip + 1]! << 8);
      ip += 2;
      const d = ((t & 8) << 11) + (w >>> 2);
      if (d === 0) {
        if (ip !== n) throw corrupt(`${n - ip} bytes after the end marker`, ip);
        return op;
      }
      dist = d + 0x4000;
      s = lo & 3;
    }
    if (dist > op) throw corrupt(`match distance ${dist} before the start of output`, ip);
    if (op + len > cap) throw corrupt('output overrun', ip);
    for (let m = op - dist, e = op + len; op < e; ) out[op++] = out[m++]!;
    if (s) literals(s);
    state = s;
  }
}

const scratch = new Uint8Array(lzoBound(65536));

/** LZO1X-1 as makedumpfile `-l` stores it: a raw block, no header, no length prefix. */
export const lzoCodec: PageCodec = {
  name: 'lzo',
  flag: CODEC_FLAGS.lzo,
  implementation: 'built-in (TypeScript LZO1X)',
  compress(page: Uint8Array, out: Uint8Array): number {
    const tmp = page.length <= 65536 ? scratch : new Uint8Array(lzoBound(page.length));
    const c = lzo1xCompress(page, tmp);
    if (c >= page.length) return 0;
    out.set(tmp.subarray(0, c), 0);
    return c;
  },
  decompress(src: Uint8Array, out: Uint8Array): number {
    return lzo1xDecompress(src, out);
  },
};

interface NativeLzoBinding {
  compress(input: Uint8Array, output: Uint8Array): { err: number; len: number };
}

/**
 * LZO1X-1 compression through liblzo's own code (npm `lzo`, which builds minilzo), about five
 * times faster than the TypeScript compressor; decoding stays in TypeScript, whose decoder
 * checks every bound (the binding's decoder is not guaranteed safe on hostile input). When the
 * native module cannot load from node_modules, the TypeScript codec serves alone (the single
 * executable, whose addon is embedded, reports its failure instead). Either output decodes with
 * liblzo2's `lzo1x_decompress_safe`.
 */
export function createLzoCodec(): PageCodec {
  let native: NativeLzoBinding;
  let version: string;
  try {
    const pkg = loadCodecPackage('lzo');
    version = pkg.version;
    native = pkg.mod as NativeLzoBinding;
    // Self-test at load so a broken build falls back here, not on the first page.
    const probe = new Uint8Array(4096).fill(7);
    const out = Buffer.alloc(lzoBound(4096));
    const r = native.compress(Buffer.from(probe), out);
    const back = new Uint8Array(4096);
    if (r.err !== 0 || lzo1xDecompress(out.subarray(0, r.len), back) !== 4096 || back[4095] !== 7) throw new Error('self-test failed');
  } catch (e) {
    // The single executable carries its addon: losing it is an error there, not a slower codec.
    if (e instanceof VmcoreError && e.code === 'E_CODEC_UNAVAILABLE') throw e;
    // `lzo` is an optional dependency (it compiles at install): say once, in `info` and
    // `--version`, that the slower compressor serves.
    const why = (e as Error).message.split('\n')[0];
    return { ...lzoCodec, implementation: `${lzoCodec.implementation}; npm lzo not loaded: ${why}` };
  }
  // The binding writes without a bound: always into a scratch buffer of lzoBound size.
  const nativeScratch = Buffer.alloc(lzoBound(65536));
  return {
    name: 'lzo',
    flag: CODEC_FLAGS.lzo,
    implementation: `npm lzo ${version} (minilzo LZO1X-1)`,
    compress(page: Uint8Array, out: Uint8Array): number {
      if (page.length > 65536) return lzoCodec.compress(page, out);
      const r = native.compress(page, nativeScratch);
      if (r.err !== 0 || r.len >= page.length) return 0;
      out.set(nativeScratch.subarray(0, r.len), 0);
      return r.len;
    },
    decompress: lzoCodec.decompress,
  };
}
