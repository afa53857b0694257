/**
 * A kdump file whose block_size is a multiple of the kernel's page size (QEMU's
 * dump-guest-memory writes 64 KiB blocks for an arm64 guest whatever its PAGESIZE), seen in
 * kernel pages: block b holds pfns [b·k, b·k + k). The filter, the mem_map walk and the writers
 * then work in the kernel's pfns, as struct pages describe them; output is written with
 * block_size = PAGESIZE.
 */
import { VmcoreError, hex } from '../errors.js';
import { Bitmap } from '../io/bitmap.js';
import { LIMITS } from '../io/limits.js';
import type { DumpReader } from './dump.js';

/** Each set bit of `bm` as `k` set bits. */
function spread(bm: Bitmap, k: number, nbits: number): Bitmap {
  const out = new Bitmap(nbits);
  for (let b = bm.nextSet(0); b >= 0 && b < bm.nbits; ) {
    const e = Math.min(bm.nextClear(b), bm.nbits);
    out.setRange(b * k, Math.min(e * k, nbits));
    b = e >= bm.nbits ? -1 : bm.nextSet(e);
  }
  return out;
}

/**
 * `reader` in pages of `pageSize` bytes when its blocks are larger (a whole multiple); the
 * reader itself when they are the same. The view keeps the reader's prototype (a KdumpReader
 * stays one for `info`); page reads go through the reader in whole blocks.
 */
export function inKernelPages(reader: DumpReader, pageSize: number): DumpReader {
  const block = reader.info.pageSize;
  if (block === pageSize || pageSize <= 0 || block % pageSize !== 0) return reader;
  const k = block / pageSize;
  const maxMapnr = reader.maxMapnr * k;
  if (maxMapnr > LIMITS.maxMapnr) {
    throw new VmcoreError('E_LIMIT', `${reader.path}: ${reader.maxMapnr} blocks of ${block} bytes are ${maxMapnr} pages of ${pageSize}, over ${LIMITS.maxMapnr}`, { path: reader.path });
  }
  const present = spread(reader.present, k, maxMapnr);
  const dumpable = reader.dumpable ? spread(reader.dumpable, k, maxMapnr) : undefined;
  const readBlocks = reader.readPages.bind(reader);
  const readPhys = reader.readPhys.bind(reader);
  let scratch = new Uint8Array(0);
  const view: DumpReader = Object.create(reader, {
    info: { value: { ...reader.info, pageSize } },
    maxMapnr: { value: maxMapnr },
    present: { value: present },
    dumpable: { value: dumpable },
    // The reader's own sets count blocks: hidden, so the bitmaps above (in pages) are used.
    presentSet: { value: undefined },
    readableSet: { value: undefined },
    readPhys: { value: readPhys },
    readPages: {
      value(pfn: number, count: number, buf: Uint8Array, bufOff = 0): void {
        if (count <= 0) return;
        if (pfn < 0 || pfn + count > maxMapnr) throw new VmcoreError('E_FORMAT', `${reader.path}: pfn ${hex(pfn)} is not in the dump`, { path: reader.path, pfn });
        const first = Math.floor(pfn / k);
        const last = Math.floor((pfn + count - 1) / k);
        const need = (last - first + 1) * block;
        if (scratch.length < need) scratch = new Uint8Array(need);
        readBlocks(first, last - first + 1, scratch, 0);
        const from = (pfn - first * k) * pageSize;
        buf.set(scratch.subarray(from, from + count * pageSize), bufOff);
      },
    },
    close: { value: () => reader.close() },
  });
  return view;
}
