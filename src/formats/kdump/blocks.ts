/**
 * A kdump file whose block_size is a multiple of the kernel's page size, read in the kernel's
 * pages. QEMU 7.2 writes every arm64 guest's kdump-* dump in 64 KiB blocks (the largest arm64
 * page; target/arm/arch_dump.c), whatever the guest's PAGESIZE: a 4K kernel's pfn is then a
 * sixteenth of a block. mem_map, the classes and the outputs all count the kernel's pfns, so the
 * view splits each block bit into `ratio` page bits and each block read into its pages.
 * QEMU also leaves an arm64 header's utsname.machine "Unknown" (it names only the targets it
 * defines ELF_MACHINE_UNAME for): the view says aarch64 when VMCOREINFO is an arm64 kernel's, so
 * what is written from it names the architecture too.
 */
import { VmcoreError } from '../../errors.js';
import { Bitmap } from '../../io/bitmap.js';
import { parseVmcoreinfo } from '../../vmcoreinfo/parse.js';
import type { DumpReader } from '../dump.js';
import { KdumpReader } from './reader.js';

/** The kernel's PAGESIZE from VMCOREINFO and whether it is arm64's (undefined: none, or malformed: the classifier says so). */
function kernelFacts(text: string | null): { pageSize?: number; arm64: boolean } {
  if (text === null) return { arm64: false };
  try {
    const vi = parseVmcoreinfo(text);
    return { pageSize: vi.pageSize, arm64: vi.has('NUMBER(kimage_voffset)') && vi.has('NUMBER(TCR_EL1_T1SZ)') };
  } catch (e) {
    if (e instanceof VmcoreError) return { arm64: false };
    throw e;
  }
}

/** Each bit of `b` as `ratio` bits. */
function spread(b: Bitmap, ratio: number): Bitmap {
  const out = new Bitmap(b.nbits * ratio);
  for (let i = b.nextSet(0); i >= 0 && i < b.nbits; i = b.nextSet(i + 1)) out.setRange(i * ratio, (i + 1) * ratio);
  return out;
}

/**
 * `reader` in the kernel's pages when its blocks are larger (a QEMU arm64 kdump), else `reader`
 * itself. A block size that is not a whole number of kernel pages is refused.
 */
export function inKernelPages(reader: DumpReader): DumpReader {
  if (!(reader instanceof KdumpReader)) return reader;
  const block = reader.kdump.blockSize;
  const facts = kernelFacts(reader.vmcoreinfoText);
  const page = facts.pageSize ?? block;
  const machine = reader.info.utsname.machine;
  const fixMachine = facts.arm64 && (machine === '' || machine === 'Unknown');
  if (page === block && !fixMachine) return reader;
  if (page > block || block % page !== 0) {
    throw new VmcoreError('E_FORMAT', `${reader.path}: block_size ${block} is not a whole number of the kernel's pages (VMCOREINFO PAGESIZE=${page})`, {
      path: reader.path,
    });
  }
  const ratio = block / page;
  const view = Object.create(reader) as Record<string, unknown>;
  const define = (name: string, value: unknown) => Object.defineProperty(view, name, { value, enumerable: true });
  define('info', { ...reader.info, pageSize: page, utsname: { ...reader.info.utsname, machine: fixMachine ? 'aarch64' : machine } });
  if (ratio === 1) return view as unknown as DumpReader;
  const blockBuf = new Uint8Array(block);
  let cached = -1;
  define('maxMapnr', reader.maxMapnr * ratio);
  define('present', spread(reader.present, ratio));
  define('dumpable', spread(reader.dumpable, ratio));
  define('readPages', (pfn: number, count: number, buf: Uint8Array, bufOff = 0): void => {
    if (bufOff + count * page > buf.length) throw new VmcoreError('E_INTERNAL', `readPages: buffer too small for ${count} pages`);
    for (let i = 0; i < count; ) {
      const p = pfn + i;
      const b = Math.floor(p / ratio);
      // Whole blocks straight into the caller's buffer; a partial one through the cache.
      if (p % ratio === 0 && count - i >= ratio) {
        const n = Math.floor((count - i) / ratio);
        reader.readPages(b, n, buf, bufOff + i * page);
        i += n * ratio;
        continue;
      }
      if (cached !== b) {
        cached = -1;
        reader.readPages(b, 1, blockBuf, 0);
        cached = b;
      }
      const k = Math.min(count - i, ratio - (p % ratio));
      buf.set(blockBuf.subarray((p % ratio) * page, (p % ratio + k) * page), bufOff + i * page);
      i += k;
    }
  });
  // Byte addressed, so the reader's own (its prototype's, called on the view, would take the
  // view's page-sized readPages for blocks).
  define('readPhys', (paddr: number, len: number, buf: Uint8Array, bufOff = 0): void => reader.readPhys(paddr, len, buf, bufOff));
  return view as unknown as DumpReader;
}
