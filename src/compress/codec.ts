/**
 * The page codec interface: one page in, one stored block out (FORMATS.md §6.5). Codecs are
 * synchronous so that a batch of pages can be compressed in one call, here or in a worker.
 */

/** Codec names, as makedumpfile's options know them (-c zlib, -l lzo, -p snappy, -z zstd). */
export type CodecName = 'zlib' | 'lzo' | 'snappy' | 'zstd';

/** page_desc.flags / disk_dump_header.status bit of each codec (diskdump_mod.h). */
export const CODEC_FLAGS: Readonly<Record<CodecName, number>> = {
  zlib: 0x1,
  lzo: 0x2,
  snappy: 0x4,
  zstd: 0x20,
};

/** makedumpfile's option letter for each codec, used in messages. */
export const CODEC_OPTIONS: Readonly<Record<CodecName, string>> = {
  zlib: '-c',
  lzo: '-l',
  snappy: '-p',
  zstd: '-z',
};

export const CODEC_NAMES: readonly CodecName[] = ['zlib', 'lzo', 'snappy', 'zstd'];

/** The codec whose flag is `flag`, or null (0 = raw, or an unknown bit). */
export function codecNameForFlag(flag: number): CodecName | null {
  for (const n of CODEC_NAMES) if (CODEC_FLAGS[n] === flag) return n;
  return null;
}

/**
 * One page compressor/decompressor.
 *
 * Contract:
 * - `compress(page, out)` writes the stored form of `page` into `out` (which must hold at least
 *   `page.length` bytes) and returns its length, or returns 0 when the result would not be
 *   smaller than the page (the caller then stores the page raw with flags 0, as makedumpfile).
 * - `decompress(src, out)` decodes one stored block into `out` and returns the number of bytes
 *   produced. Invalid data, or output that would not fit in `out`, throws
 *   `VmcoreError('E_CORRUPT_PAGE')` (without a pfn: the caller adds it).
 * - Both are synchronous and keep no state between calls that changes results.
 */
export interface PageCodec {
  readonly name: CodecName;
  /** page_desc flag: zlib 1, lzo 2, snappy 4, zstd 0x20. */
  readonly flag: number;
  /** Where the implementation comes from (for `codecCapabilities` and reports). */
  readonly implementation: string;
  compress(page: Uint8Array, out: Uint8Array): number;
  decompress(src: Uint8Array, out: Uint8Array): number;
}
