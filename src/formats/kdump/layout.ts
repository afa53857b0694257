/**
 * kdump-compressed (diskdump) layouts, x86_64 little-endian, header_version 6 (FORMATS.md §6.1–6.6,
 * makedumpfile diskdump_mod.h). Defined once; the writer encodes and the reader decodes with these.
 */
import { defineStruct, type StructValue } from './struct.js';

export const KDUMP_SIGNATURE = 'KDUMP   ';
/** The old diskdump signature (recognised only to give a clear error). */
export const DISKDUMP_SIGNATURE = 'DISKDUMP';
export const KDUMP_HEADER_VERSION = 6;
export const UTS_LEN = 65;

/** disk_dump_header.status bits (the compression bits equal the page_desc flags). */
export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;
export const DUMP_DH_COMPRESSION_MASK =
  DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD;

/** struct disk_dump_header (464 bytes at offset 0; the rest of block 0 is zero). */
export const DiskDumpHeader = defineStruct(464, {
  signature: [0, 'str', 8],
  headerVersion: [8, 'i32'],
  sysname: [12, 'str', UTS_LEN],
  nodename: [12 + UTS_LEN, 'str', UTS_LEN],
  release: [12 + 2 * UTS_LEN, 'str', UTS_LEN],
  version: [12 + 3 * UTS_LEN, 'str', UTS_LEN],
  machine: [12 + 4 * UTS_LEN, 'str', UTS_LEN],
  domainname: [12 + 5 * UTS_LEN, 'str', UTS_LEN],
  // 402..407: alignment padding of struct timeval
  tvSec: [408, 'i64'],
  tvUsec: [416, 'i64'],
  status: [424, 'u32'],
  blockSize: [428, 'i32'],
  subHdrSize: [432, 'i32'],
  bitmapBlocks: [436, 'u32'],
  maxMapnr: [440, 'u32'],
  totalRamBlocks: [444, 'u32'],
  deviceBlocks: [448, 'u32'],
  writtenBlocks: [452, 'u32'],
  currentCpu: [456, 'u32'],
  nrCpus: [460, 'i32'],
} as const);
export type DiskDumpHeaderValue = StructValue<typeof DiskDumpHeader.fields>;

/** struct kdump_sub_header (104 bytes at offset block_size). */
export const KdumpSubHeader = defineStruct(104, {
  physBase: [0, 'u64'],
  dumpLevel: [8, 'i32'],
  split: [12, 'i32'],
  startPfn: [16, 'u64'],
  endPfn: [24, 'u64'],
  offsetVmcoreinfo: [32, 'i64'],
  sizeVmcoreinfo: [40, 'u64'],
  offsetNote: [48, 'i64'],
  sizeNote: [56, 'u64'],
  offsetEraseinfo: [64, 'i64'],
  sizeEraseinfo: [72, 'u64'],
  startPfn64: [80, 'u64'],
  endPfn64: [88, 'u64'],
  maxMapnr64: [96, 'u64'],
} as const);
export type KdumpSubHeaderValue = StructValue<typeof KdumpSubHeader.fields>;

/** struct page_desc (24 bytes), one per 2nd-bitmap bit in ascending pfn order. */
export const PageDesc = defineStruct(24, {
  offset: [0, 'i64'],
  size: [8, 'u32'],
  flags: [12, 'u32'],
  pageFlags: [16, 'u64'],
} as const);
export const PAGE_DESC_SIZE = 24;

/** The block layout of a kdump-compressed file, derived from its header fields (§6.1). */
export interface KdumpLayout {
  blockSize: number;
  /** Blocks of the sub header + notes area. */
  subHdrSize: number;
  /** Blocks of both bitmaps together (even). */
  bitmapBlocks: number;
  /** File offset of the notes copy (block_size + 104). */
  offsetNote: number;
  bitmap1Offset: number;
  bitmap2Offset: number;
  /** Bytes of one bitmap (bitmap_blocks/2 blocks). */
  bitmapBytes: number;
  /** First page_desc. */
  pdOffset: number;
}

/** Layout for a dump with `maxMapnr` pfns and `noteSize` bytes of notes. */
export function computeLayout(blockSize: number, maxMapnr: number, noteSize: number): KdumpLayout {
  const subHdrSize = Math.ceil((KdumpSubHeader.size + noteSize) / blockSize);
  const half = Math.ceil(Math.ceil(maxMapnr / 8) / blockSize);
  return layoutFrom(blockSize, subHdrSize, 2 * half);
}

/** Layout from the header's own sub_hdr_size and bitmap_blocks (reader). */
export function layoutFrom(blockSize: number, subHdrSize: number, bitmapBlocks: number): KdumpLayout {
  // Bytes, not blocks: an odd bitmap_blocks splits a block, as makedumpfile's reader computes it.
  const bitmapBytes = (bitmapBlocks * blockSize) / 2;
  const bitmap1Offset = (1 + subHdrSize) * blockSize;
  return {
    blockSize,
    subHdrSize,
    bitmapBlocks,
    offsetNote: blockSize + KdumpSubHeader.size,
    bitmap1Offset,
    bitmap2Offset: bitmap1Offset + bitmapBytes,
    bitmapBytes,
    pdOffset: (1 + subHdrSize + bitmapBlocks) * blockSize,
  };
}
