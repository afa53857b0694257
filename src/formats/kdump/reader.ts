/**
 * kdump-compressed reader (FORMATS.md §6): plain files and flattened streams read in place.
 * Every header field is checked before it is used to size, seek or allocate anything.
 */
import { VmcoreError, hex } from '../../errors.js';
import { Bitmap } from '../../io/bitmap.js';
import { FileSource, borrowSource, type ByteSource } from '../../io/file.js';
import { PfnRanges, type PfnSet } from '../../io/pfn-set.js';
import { LIMITS } from '../../io/limits.js';
import { codecNameForFlag, type CodecName } from '../../compress/codec.js';
import { loadCodecForFlag } from '../../compress/index.js';
import { NT_PRSTATUS, decodeNotes } from '../elf/layout.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../../vmcoreinfo/parse.js';
import type { DumpHeaderInfo, DumpReader } from '../dump.js';
import { FlattenedSource } from '../flattened/reader.js';
import { FLAT_HEADER_SIZE, hasFlatSignature } from '../flattened/layout.js';
import {
  DISKDUMP_SIGNATURE,
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DUMP_DH_COMPRESSION_MASK,
  DUMP_DH_EXCLUDED_VMEMMAP,
  DiskDumpHeader,
  KDUMP_SIGNATURE,
  KdumpSubHeader,
  PAGE_DESC_SIZE,
  layoutFrom,
  type DiskDumpHeaderValue,
  type KdumpLayout,
  type KdumpSubHeaderValue,
} from './layout.js';
import { FileBitmap, StoredPfns } from './reader-bitmap.js';

/** Three-way probe result (an unreadable source throws instead). */
export type ProbeResult = 'mine' | 'not-mine';

/**
 * Is `source` a kdump-compressed file, or a flattened stream carrying one? Reads the signature
 * ("KDUMP   " or the old "DISKDUMP", which the reader then refuses with a clear message); for a
 * flattened stream ("makedumpfile\0") the records are indexed and the rebuilt file's signature
 * checked, so a flattened ELF dump is 'not-mine'.
 */
export function probeKdump(source: ByteSource): ProbeResult {
  const head = new Uint8Array(16);
  const n = source.readSome(0, 16, head);
  const sig = Buffer.from(head.subarray(0, 8)).toString('latin1');
  if (n >= 8 && (sig === KDUMP_SIGNATURE || sig === DISKDUMP_SIGNATURE)) return 'mine';
  if (n >= 16 && hasFlatSignature(head) && source.size >= FLAT_HEADER_SIZE) {
    const flat = new FlattenedSource(borrowSource(source));
    const inner = new Uint8Array(8);
    const k = flat.readSome(0, 8, inner);
    const s = Buffer.from(inner.subarray(0, k)).toString('latin1');
    return s === KDUMP_SIGNATURE || s === DISKDUMP_SIGNATURE ? 'mine' : 'not-mine';
  }
  return 'not-mine';
}


/** A decoded page descriptor. */
export interface PageDescriptor {
  offset: number;
  size: number;
  flags: number;
}

/** Facts of a kdump file beyond {@link DumpHeaderInfo}. */
export interface KdumpFileInfo {
  headerVersion: number;
  status: number;
  blockSize: number;
  dumpLevel: number;
  /** Compression named by the header's status (pages carry their own flags). */
  codec: CodecName | null;
  /** The `--split` part this file holds, or null. */
  split: { startPfn: number; endPfn: number } | null;
  /** DUMP_DH_COMPRESSED_INCOMPLETE set, or a flattened stream without its end record. */
  incomplete: boolean;
  excludedVmemmap: boolean;
  /** Pfns with a 2nd-bitmap bit in the whole dump. */
  numDumpable: number;
  layout: KdumpLayout;
  eraseinfo: { offset: number; size: number } | null;
}

function fmt(path: string, msg: string, offset?: number): VmcoreError {
  return new VmcoreError('E_FORMAT', `${path}: ${msg}`, { path, offset });
}

function safe(v: bigint, what: string, path: string, offset: number): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VmcoreError('E_LIMIT', `${path}: ${what} ${hex(v)} is out of range`, { path, offset });
  }
  return Number(v);
}

/** Pages of a kdump input that are not in the file. */
export interface KdumpTruncatedWarning {
  code: 'truncated';
  /** Stored pages whose descriptor or data is not in the file. */
  lostPages: number;
  firstLostPfn: number;
  fileSize: number;
  message: string;
}

/**
 * The sub-header's phys_base disagrees with VMCOREINFO's NUMBER(phys_base); the kernel's value
 * is used (and written to outputs). QEMU 7.2 writes such headers: it parses the decimal
 * NUMBER(phys_base) as hex.
 */
export interface KdumpPhysBaseWarning {
  code: 'phys_base';
  header: bigint;
  vmcoreinfo: bigint;
  message: string;
}

/** A problem that leaves a kdump input usable. */
export type KdumpReaderWarning = KdumpTruncatedWarning | KdumpPhysBaseWarning;

export class KdumpReader implements DumpReader {
  readonly format: 'kdump' | 'flattened';
  readonly path: string;
  readonly info: DumpHeaderInfo;
  readonly kdump: KdumpFileInfo;
  readonly vmcoreinfoText: string | null;
  readonly maxMapnr: number;
  /** The 1st bitmap, read from the file on demand (see reader-bitmap.ts). */
  readonly presentSet: FileBitmap;
  /**
   * Pfns whose data this file holds: the 2nd bitmap, limited to the part's pfn range in a
   * `--split` file (the other parts hold the rest), less the pages a truncated file lost.
   */
  readableSet: PfnSet;
  /** The 2nd bitmap as stored (the whole dump's, also in a split part); descriptor indices count it. */
  private readonly bits2: FileBitmap;
  readonly header: DiskDumpHeaderValue;
  readonly subHeader: KdumpSubHeaderValue;
  private readonly rankBase: number;
  /** The whole-dump bitmaps, built on first use (max_mapnr/8 bytes each; the filter never asks). */
  private whole: { present?: Bitmap; bitmap2?: Bitmap; dumpable?: Bitmap } = {};
  private readonly pageBuf: Uint8Array;
  private readonly dataStart: number;

  /** Open `path`: a kdump-compressed file or a flattened stream of one. */
  static open(path: string): KdumpReader {
    const f = new FileSource(path);
    try {
      const head = new Uint8Array(16);
      const n = f.readSome(0, 16, head);
      if (n >= 16 && hasFlatSignature(head)) return new KdumpReader(new FlattenedSource(f), 'flattened');
      return new KdumpReader(f, 'kdump');
    } catch (e) {
      f.close();
      throw e;
    }
  }

  /** Read the dump in `source` (which the reader owns and closes). */
  constructor(
    private readonly source: ByteSource,
    format: 'kdump' | 'flattened' = source instanceof FlattenedSource ? 'flattened' : 'kdump',
  ) {
    this.format = format;
    const path = (this.path = source.path);
    const size = source.size;
    const { h, sub } = readHeaders(source);
    this.header = h;
    this.subHeader = sub;
    const v = h.headerVersion;
    const bs = h.blockSize;
    const subAt = (field: keyof typeof KdumpSubHeader.fields) => bs + KdumpSubHeader.fields[field][0];
    const maxMapnr = (this.maxMapnr = maxMapnrOf(h, sub, path, subAt('maxMapnr64')));
    const layout = bitmapLayout(h, maxMapnr, path, size);
    // Read on demand, never whole: memory is a count per 2^18 pfns, not max_mapnr/8 bytes.
    this.presentSet = new FileBitmap(source, layout.bitmap1Offset, maxMapnr);
    this.bits2 = new FileBitmap(source, layout.bitmap2Offset, maxMapnr);
    const n = readNotes(source, h, sub, subAt);
    this.vmcoreinfoText = n.vmcoreinfoText;
    const split = splitRange(h, sub, maxMapnr, path, subAt('startPfn64'));
    this.readableSet = split ? new StoredPfns(this.bits2, split.startPfn, split.endPfn, null) : this.bits2;
    const eraseinfo = eraseinfoOf(h, sub, path, size, subAt('offsetEraseinfo'));
    if (h.nrCpus < 0) throw fmt(path, `nr_cpus ${h.nrCpus} is negative`, 460);
    const numDumpable = this.bits2.count();
    this.rankBase = split ? this.rankOf(split.startPfn) : 0;
    this.dataStart = layout.pdOffset + PAGE_DESC_SIZE * numDumpable;
    const status = h.status;
    this.kdump = {
      headerVersion: v,
      status,
      blockSize: bs,
      dumpLevel: v >= 1 ? sub.dumpLevel : 0,
      codec: codecNameForFlag(status & DUMP_DH_COMPRESSION_MASK & -(status & DUMP_DH_COMPRESSION_MASK)),
      split,
      incomplete: (status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0 || (source instanceof FlattenedSource && !source.terminated),
      excludedVmemmap: (status & DUMP_DH_EXCLUDED_VMEMMAP) !== 0,
      numDumpable,
      layout,
      eraseinfo,
    };
    this.info = headerInfoOf(h, sub, n, this.warnings);
    this.pageBuf = new Uint8Array(bs);
    this.findLostPages();
  }

  /**
   * Problems that leave the dump usable (so far only `truncated`): the pipeline reports them and
   * exits 8 (partial) when one is `truncated`.
   */
  readonly warnings: KdumpReaderWarning[] = [];

  /**
   * A dump cut short (a copy that stopped, a full disk: header flag INCOMPLETE) stores fewer pages
   * than its 2nd bitmap says: their descriptors are empty or past the end of the file, or their
   * data is. Such pages are taken out of {@link dumpable} (so they read as not saved, like holes,
   * and a refilter keeps every page that is there) and reported once as a `truncated` warning.
   * Every descriptor is looked at (24 bytes per stored page, read 96 KiB at a time): the last
   * ones cannot stand for the rest, since zero pages all point at the first stored page.
   */
  private findLostPages(): void {
    const stored = this.readableSet;
    const first = stored.nextSet(0);
    if (first < 0 || first >= this.maxMapnr) return;
    const size = this.source.size;
    const pdOffset = this.kdump.layout.pdOffset;
    const whole = (raw: DataView, o: number): boolean => {
      const offset = raw.getUint32(o, true) + raw.getInt32(o + 4, true) * 0x1_0000_0000;
      return offset !== 0 && offset + raw.getUint32(o + 8, true) <= size;
    };
    const CHUNK = 4096;
    const raw = new Uint8Array(CHUNK * PAGE_DESC_SIZE);
    const view = new DataView(raw.buffer);
    // The lost pfns as runs (a cut-off file loses its last descriptors: few runs).
    const lostRuns: [number, number][] = [];
    let lost = 0;
    let firstLost = -1;
    let idx = this.rankOf(first) - this.rankBase;
    let chunkBase = -1;
    let got = 0;
    for (let p = first; p >= 0; ) {
      const q = stored.nextClear(p);
      for (let pfn = p; pfn < q; pfn++, idx++) {
        if (chunkBase < 0 || idx >= chunkBase + CHUNK) {
          chunkBase = idx;
          got = this.source.readSome(pdOffset + idx * PAGE_DESC_SIZE, raw.length, raw);
        }
        const o = (idx - chunkBase) * PAGE_DESC_SIZE;
        if (o + PAGE_DESC_SIZE <= got && whole(view, o)) continue;
        const last = lostRuns[lostRuns.length - 1];
        if (last && last[1] === pfn) last[1] = pfn + 1;
        else lostRuns.push([pfn, pfn + 1]);
        lost++;
        if (firstLost < 0) firstLost = pfn;
      }
      if (q >= this.maxMapnr) break;
      p = stored.nextSet(q);
    }
    if (lost === 0) return;
    const split = this.kdump.split;
    this.readableSet = new StoredPfns(this.bits2, split?.startPfn ?? 0, split?.endPfn ?? this.maxMapnr, new PfnRanges(this.maxMapnr, lostRuns));
    const storedPages = this.readableSet.count() + lost;
    this.warnings.push({
      code: 'truncated',
      lostPages: lost,
      firstLostPfn: firstLost,
      fileSize: size,
      message:
        `truncated input: ${lost} of ${storedPages} stored pages are not in ${this.path} (from pfn ${hex(firstLost)}; ` +
        (this.kdump.incomplete ? 'the header says the dump is incomplete' : `the file ends at ${hex(size)}`) +
        '): they are left out, the rest is kept',
    });
  }

  /** Number of 2nd-bitmap bits below `pfn`. */
  private rankOf(pfn: number): number {
    return this.bits2.rankOf(pfn);
  }

  /** The 1st bitmap whole (max_mapnr/8 bytes, built on first use: the filter reads {@link presentSet}). */
  get present(): Bitmap {
    return (this.whole.present ??= wholeBitmap(this.path, () => this.presentSet.toBitmap()));
  }
  /** The 2nd bitmap as stored, whole (built on first use). */
  get bitmap2(): Bitmap {
    return (this.whole.bitmap2 ??= wholeBitmap(this.path, () => this.bits2.toBitmap()));
  }
  /** {@link readableSet} whole (built on first use). */
  get dumpable(): Bitmap {
    const r = this.readableSet;
    return (this.whole.dumpable ??= r === this.bits2 ? this.bitmap2 : wholeBitmap(this.path, () => (r as StoredPfns).toBitmap()));
  }

  /** Does this file store page data for `pfn`? */
  isStored(pfn: number): boolean {
    return pfn >= 0 && pfn < this.maxMapnr && this.readableSet.get(pfn);
  }

  private checkStored(pfn: number): void {
    if (pfn < 0 || pfn >= this.maxMapnr) {
      throw new VmcoreError('E_FORMAT', `${this.path}: pfn ${hex(pfn)} is beyond max_mapnr ${hex(this.maxMapnr)}`, { path: this.path, pfn });
    }
    if (!this.bits2.get(pfn)) {
      throw new VmcoreError('E_FORMAT', `${this.path}: pfn ${hex(pfn)} is excluded`, { path: this.path, pfn });
    }
    const s = this.kdump.split;
    if (s && (pfn < s.startPfn || pfn >= s.endPfn)) {
      throw new VmcoreError('E_FORMAT', `${this.path}: pfn ${hex(pfn)} is stored in another split part (this one holds [${hex(s.startPfn)}, ${hex(s.endPfn)}))`, {
        path: this.path,
        pfn,
      });
    }
  }

  /** The descriptors of `count` consecutive stored pfns from `pfn`. */
  pageDescriptors(pfn: number, count: number): PageDescriptor[] {
    for (let p = pfn; p < pfn + count; p++) this.checkStored(p);
    const idx = this.rankOf(pfn) - this.rankBase;
    const at = this.kdump.layout.pdOffset + idx * PAGE_DESC_SIZE;
    const raw = new Uint8Array(count * PAGE_DESC_SIZE);
    const got = this.source.readSome(at, raw.length, raw);
    const v = new DataView(raw.buffer);
    const out: PageDescriptor[] = [];
    for (let i = 0; i < count; i++) {
      const p = pfn + i;
      const o = i * PAGE_DESC_SIZE;
      if (o + PAGE_DESC_SIZE > got) {
        throw new VmcoreError('E_TRUNCATED', `${this.path}: page descriptor of pfn ${hex(p)} at ${hex(at + o)} is past the end of the file`, {
          path: this.path,
          pfn: p,
          offset: at + o,
        });
      }
      const offset = v.getBigInt64(o, true);
      const size = v.getUint32(o + 8, true);
      const flags = v.getUint32(o + 12, true);
      const bad = (why: string) =>
        new VmcoreError('E_FORMAT', `${this.path}: page descriptor of pfn ${hex(p)} at ${hex(at + o)}: ${why}`, {
          path: this.path,
          pfn: p,
          offset: at + o,
        });
      if (offset === 0n) {
        throw new VmcoreError('E_TRUNCATED', `${this.path}: pfn ${hex(p)} was not saved (its descriptor is empty: an incomplete dump)`, {
          path: this.path,
          pfn: p,
          offset: at + o,
        });
      }
      if (offset < BigInt(this.dataStart) || offset > BigInt(this.source.size)) throw bad(`data offset ${hex(offset)} is outside the data area`);
      if (size === 0 || size > this.kdump.blockSize) throw bad(`size ${size} is not in 1..${this.kdump.blockSize}`);
      if (Number(offset) + size > this.source.size) {
        throw new VmcoreError('E_TRUNCATED', `${this.path}: data of pfn ${hex(p)} [${hex(offset)}, +${size}) is past the end of the file`, {
          path: this.path,
          pfn: p,
          offset: Number(offset),
        });
      }
      if (flags === 0 && size !== this.kdump.blockSize) throw bad(`raw page of ${size} bytes`);
      if (flags !== 0 && codecNameForFlag(flags) === null) throw bad(`unknown flags ${hex(flags)}`);
      out.push({ offset: Number(offset), size, flags });
    }
    return out;
  }

  readPages(pfn: number, count: number, buf: Uint8Array, bufOff = 0): void {
    const ps = this.kdump.blockSize;
    if (bufOff + count * ps > buf.length) throw new VmcoreError('E_INTERNAL', `readPages: buffer too small for ${count} pages`);
    const BATCH = 256;
    for (let done = 0; done < count; ) {
      const k = Math.min(BATCH, count - done);
      const descs = this.pageDescriptors(pfn + done, k);
      // Coalesce reads of stored bytes that lie back to back (the usual case).
      for (let i = 0; i < k; ) {
        let j = i + 1;
        let span = descs[i]!.size;
        while (j < k && descs[j]!.offset === descs[j - 1]!.offset + descs[j - 1]!.size && span + descs[j]!.size <= 1 << 20) {
          span += descs[j]!.size;
          j++;
        }
        const raw = this.source.read(descs[i]!.offset, span);
        let o = 0;
        for (let m = i; m < j; m++) {
          const d = descs[m]!;
          const p = pfn + done + m;
          const out = buf.subarray(bufOff + (done + m) * ps, bufOff + (done + m + 1) * ps);
          const src = raw.subarray(o, o + d.size);
          o += d.size;
          if (d.flags === 0) {
            out.set(src);
            continue;
          }
          let got: number;
          try {
            got = loadCodecForFlag(d.flags).decompress(src, out);
          } catch (e) {
            if (e instanceof VmcoreError && e.code === 'E_CORRUPT_PAGE') {
              e.message = `${this.path}: pfn ${hex(p)} at ${hex(d.offset)}: ${e.message}`;
              e.data.pfn = p;
              e.data.path = this.path;
              e.data.offset = d.offset;
            }
            throw e;
          }
          if (got !== ps) {
            throw new VmcoreError('E_CORRUPT_PAGE', `${this.path}: pfn ${hex(p)} at ${hex(d.offset)} decodes to ${got} bytes, not ${ps}`, {
              path: this.path,
              pfn: p,
              offset: d.offset,
            });
          }
        }
        i = j;
      }
      done += k;
    }
  }

  readPhys(paddr: number, len: number, buf: Uint8Array, bufOff = 0): void {
    const ps = this.kdump.blockSize;
    let done = 0;
    while (done < len) {
      const a = paddr + done;
      const pfn = Math.floor(a / ps);
      const inPage = a - pfn * ps;
      const k = Math.min(len - done, ps - inPage);
      this.readPages(pfn, 1, this.pageBuf, 0);
      buf.set(this.pageBuf.subarray(inPage, inPage + k), bufOff + done);
      done += k;
    }
  }

  /** The eraseinfo text, or null. */
  readEraseinfo(): string | null {
    const e = this.kdump.eraseinfo;
    return e ? this.source.read(e.offset, e.size).toString('latin1') : null;
  }

  close(): void {
    this.source.close();
  }
}

/** The disk_dump_header and kdump_sub_header, each field checked before it sizes anything. */
function readHeaders(source: ByteSource): { h: DiskDumpHeaderValue; sub: KdumpSubHeaderValue } {
  const path = source.path;
  const size = source.size;
  if (size < DiskDumpHeader.size) throw new VmcoreError('E_TRUNCATED', `${path}: ${size} bytes is too short for a kdump header`, { path });
  const hb = source.read(0, DiskDumpHeader.size);
  const h = DiskDumpHeader.decode(hb);
  if (h.signature === DISKDUMP_SIGNATURE) throw fmt(path, 'old "DISKDUMP" format (diskdump) is not supported', 0);
  if (h.signature !== KDUMP_SIGNATURE) throw fmt(path, 'no "KDUMP   " signature', 0);
  if (h.headerVersion < 1) throw fmt(path, `header_version ${h.headerVersion} is not supported`, 8);
  const bs = h.blockSize;
  if (bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) {
    const be = hb.readInt32BE(428);
    const hint = be >= 512 && be <= 65536 && (be & (be - 1)) === 0 ? ' (a big-endian dump? only little-endian is supported)' : '';
    throw fmt(path, `block_size ${h.blockSize} is not a power of 2 in 512..65536${hint}`, 428);
  }
  if (h.subHdrSize < 1 || (1 + h.subHdrSize) * bs > size || h.subHdrSize * bs > LIMITS.maxNoteBytes + bs) {
    throw fmt(path, `sub_hdr_size ${h.subHdrSize} blocks does not fit the file (${hex(size)} bytes)`, 432);
  }
  return { h, sub: KdumpSubHeader.decode(source.read(bs, KdumpSubHeader.size)) };
}

/** max_mapnr: the 64-bit copy from version 6 on, within the limit and agreeing with the 32-bit one. */
function maxMapnrOf(h: DiskDumpHeaderValue, sub: KdumpSubHeaderValue, path: string, at64: number): number {
  const v = h.headerVersion;
  const maxMapnr = v >= 6 ? safe(sub.maxMapnr64, 'max_mapnr_64', path, at64) : h.maxMapnr;
  if (maxMapnr > LIMITS.maxMapnr) {
    throw new VmcoreError('E_LIMIT', `${path}: max_mapnr ${hex(maxMapnr)} exceeds the limit ${hex(LIMITS.maxMapnr)}`, { path });
  }
  if (v >= 6 && h.maxMapnr !== Math.min(maxMapnr, 0xffffffff) && h.maxMapnr !== 0) {
    throw fmt(path, `max_mapnr ${hex(h.maxMapnr)} disagrees with max_mapnr_64 ${hex(maxMapnr)}`, 440);
  }
  return maxMapnr;
}

/** The bitmaps' place, checked against max_mapnr and the file's size (a forged count stops here). */
function bitmapLayout(h: DiskDumpHeaderValue, maxMapnr: number, path: string, size: number): KdumpLayout {
  const layout = layoutFrom(h.blockSize, h.subHdrSize, h.bitmapBlocks);
  if (layout.bitmapBytes * 8 < maxMapnr) {
    throw fmt(path, `bitmap_blocks ${h.bitmapBlocks} cannot hold ${hex(maxMapnr)} pfns`, 436);
  }
  if (layout.pdOffset > size) {
    throw new VmcoreError('E_TRUNCATED', `${path}: bitmaps end at ${hex(layout.pdOffset)}, past the end of the file (${hex(size)})`, {
      path,
      offset: layout.bitmap1Offset,
    });
  }
  return layout;
}

/** The note segment (v4+) and VMCOREINFO (v3+) of a kdump file. */
interface KdumpNotes {
  notes: Buffer;
  noteOff: number;
  vmcoreinfoText: string | null;
  viInNotes: DumpHeaderInfo['vmcoreinfo'];
}

function readNotes(source: ByteSource, h: DiskDumpHeaderValue, sub: KdumpSubHeaderValue, subAt: (f: keyof typeof KdumpSubHeader.fields) => number): KdumpNotes {
  const { path, size } = source;
  const v = h.headerVersion;
  let notes: Buffer = Buffer.alloc(0);
  let noteOff = 0;
  if (v >= 4 && sub.sizeNote > 0n) {
    noteOff = safe(sub.offsetNote, 'offset_note', path, subAt('offsetNote'));
    const noteSize = safe(sub.sizeNote, 'size_note', path, subAt('sizeNote'));
    if (noteSize > LIMITS.maxNoteBytes) throw new VmcoreError('E_LIMIT', `${path}: size_note ${noteSize} exceeds the limit`, { path });
    if (noteOff + noteSize > size) throw fmt(path, `notes [${hex(noteOff)}, +${hex(noteSize)}) lie outside the file`, subAt('offsetNote'));
    notes = source.read(noteOff, noteSize);
  }
  let vmcoreinfoText: string | null = null;
  let viInNotes: DumpHeaderInfo['vmcoreinfo'] = null;
  if (v >= 3 && sub.sizeVmcoreinfo > 0n) {
    const off = safe(sub.offsetVmcoreinfo, 'offset_vmcoreinfo', path, subAt('offsetVmcoreinfo'));
    const len = safe(sub.sizeVmcoreinfo, 'size_vmcoreinfo', path, subAt('sizeVmcoreinfo'));
    if (len > LIMITS.maxVmcoreinfo) throw new VmcoreError('E_LIMIT', `${path}: size_vmcoreinfo ${len} exceeds the limit`, { path });
    if (off + len > size) throw fmt(path, `VMCOREINFO [${hex(off)}, +${hex(len)}) lies outside the file`, subAt('offsetVmcoreinfo'));
    vmcoreinfoText = source.read(off, len).toString('latin1');
    if (notes.length && off >= noteOff && off + len <= noteOff + notes.length) {
      viInNotes = { offsetInNotes: off - noteOff, size: len };
    }
  }
  return { notes, noteOff, vmcoreinfoText, viInNotes };
}

/** The `--split` part's pfn range (v2+; 64-bit fields from v6), or null. */
function splitRange(h: DiskDumpHeaderValue, sub: KdumpSubHeaderValue, maxMapnr: number, path: string, at: number): KdumpFileInfo['split'] {
  const v = h.headerVersion;
  if (!(v >= 2 && sub.split)) return null;
  const startPfn = safe(v >= 6 ? sub.startPfn64 : sub.startPfn, 'start_pfn', path, at);
  const endPfn = safe(v >= 6 ? sub.endPfn64 : sub.endPfn, 'end_pfn', path, at);
  if (startPfn > endPfn || endPfn > maxMapnr) throw fmt(path, `split range [${hex(startPfn)}, ${hex(endPfn)}) is invalid`, at);
  return { startPfn, endPfn };
}

function eraseinfoOf(h: DiskDumpHeaderValue, sub: KdumpSubHeaderValue, path: string, size: number, at: number): KdumpFileInfo['eraseinfo'] {
  if (!(h.headerVersion >= 5 && sub.sizeEraseinfo > 0n)) return null;
  const off = safe(sub.offsetEraseinfo, 'offset_eraseinfo', path, at);
  const len = safe(sub.sizeEraseinfo, 'size_eraseinfo', path, at + 8);
  if (off + len > size || len > LIMITS.maxNoteBytes) throw fmt(path, `eraseinfo [${hex(off)}, +${hex(len)}) lies outside the file`);
  return { offset: off, size: len };
}

/**
 * The header facts outputs carry over: what the kernel said where the header says otherwise or
 * nothing (QEMU fills only utsname.machine, and writes phys_base wrongly: see
 * KdumpPhysBaseWarning, pushed to `warnings`).
 */
function headerInfoOf(h: DiskDumpHeaderValue, sub: KdumpSubHeaderValue, n: KdumpNotes, warnings: KdumpReaderWarning[]): DumpHeaderInfo {
  let nrCpus = h.nrCpus;
  if (nrCpus === 0 && n.notes.length) {
    try {
      nrCpus = decodeNotes(n.notes, n.noteOff).filter((x) => x.name === 'CORE' && x.type === NT_PRSTATUS).length;
    } catch {
      /* notes are informational here */
    }
  }
  let vi: Vmcoreinfo | null = null;
  try {
    vi = n.vmcoreinfoText === null ? null : parseVmcoreinfo(n.vmcoreinfoText);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e; // the classifier reports a malformed VMCOREINFO
  }
  let physBase = sub.physBase;
  let kernelPhysBase: bigint | undefined;
  try {
    const x = vi?.number('phys_base');
    kernelPhysBase = x === undefined ? undefined : BigInt.asUintN(64, x);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
  }
  if (h.headerVersion >= 1 && kernelPhysBase !== undefined && kernelPhysBase !== sub.physBase) {
    warnings.push({
      code: 'phys_base',
      header: sub.physBase,
      vmcoreinfo: kernelPhysBase,
      message:
        `the kdump header's phys_base ${hex(sub.physBase)} disagrees with VMCOREINFO's NUMBER(phys_base)=${vi!.raw('NUMBER(phys_base)') ?? ''} ` +
        `(${hex(kernelPhysBase)}); using VMCOREINFO's`,
    });
    physBase = kernelPhysBase;
  }
  return {
    utsname: {
      sysname: h.sysname || (vi?.osrelease ? 'Linux' : ''),
      nodename: h.nodename,
      release: h.release || vi?.osrelease || '',
      version: h.version,
      machine: h.machine,
      domainname: h.domainname,
    },
    crashTime: Number(h.tvSec),
    nrCpus,
    physBase,
    notes: n.notes,
    vmcoreinfo: n.viInNotes,
    pageSize: h.blockSize,
  };
}

/** A whole-dump bitmap, or one clear line when it does not fit in this process. */
function wholeBitmap(path: string, build: () => Bitmap): Bitmap {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new VmcoreError('E_LIMIT', `${path}: this command needs the whole bitmap in memory, more than this process can allocate`, { path });
  }
}

/** Open a kdump-compressed file or a flattened stream of one. */
export function openKdump(path: string): KdumpReader {
  return KdumpReader.open(path);
}
