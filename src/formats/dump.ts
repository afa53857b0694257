/**
 * What every dump format hands to the filter and the writers: the header facts a
 * kdump-compressed or ELF output needs, and physical page access. Readers (ELF, kdump,
 * flattened) implement {@link DumpReader}; writers consume {@link PageWriterInput}.
 */
import type { Bitmap } from '../io/bitmap.js';
import type { PfnSet } from '../io/pfn-set.js';

export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

/** Facts from the input that outputs carry over. */
export interface DumpHeaderInfo {
  /** From init_uts_ns when readable, else from OSRELEASE. */
  utsname: Utsname;
  /** CRASHTIME (seconds since the epoch), 0 if absent. */
  crashTime: number;
  /** Number of CORE/NT_PRSTATUS notes. */
  nrCpus: number;
  /** NUMBER(phys_base), 0 if absent. */
  physBase: bigint;
  /** The note segment as found in the input (CPU notes + VMCOREINFO note), copied verbatim. */
  notes: Buffer;
  /** Where the VMCOREINFO text lies inside `notes`, if present. */
  vmcoreinfo: { offsetInNotes: number; size: number } | null;
  pageSize: number;
}

/** A contiguous run of physical memory present in the input. */
export interface PhysRange {
  /** First pfn. */
  start: number;
  /** One past the last pfn. */
  end: number;
}

/** Something odd about an input that did not stop reading it; each reader adds its own fields. */
export interface ReaderWarning {
  readonly code: string;
  readonly message: string;
}

/** A dump opened for reading: format-independent access to its physical pages. */
export interface DumpReader {
  readonly format: 'elf' | 'kdump' | 'flattened';
  readonly path: string;
  readonly info: DumpHeaderInfo;
  /** The VMCOREINFO text, or null. */
  readonly vmcoreinfoText: string | null;
  /** One past the highest pfn the dump describes. */
  readonly maxMapnr: number;
  /**
   * Pfns whose data the input holds (1st bitmap). An ELF reader builds it on first use (it
   * costs max_mapnr/8 bytes): the filter reads {@link presentSet} instead.
   */
  readonly present: Bitmap;
  /** The same pfns as a bounded set (an ELF input's runs); absent: use `present`. */
  readonly presentSet?: PfnSet;
  /**
   * Pfns whose page data can actually be read, when that is fewer than `present` (a kdump
   * input's 2nd bitmap: pages excluded by an earlier filter are in the 1st bitmap but have no
   * data). Absent means every present pfn is readable. Use {@link readableBitmap}.
   */
  readonly dumpable?: Bitmap;
  /** The same pfns as `dumpable` as a bounded set (a kdump input's bitmap read on demand). */
  readonly readableSet?: PfnSet;
  /**
   * What is odd about the input but did not stop reading it. `truncated`: pages the input
   * should hold are missing (a cut-off copy, a dump left incomplete): they are left out of
   * `present` / `dumpable`, and a filter of this input is partial.
   */
  readonly warnings?: readonly ReaderWarning[];
  /** Read `len` bytes of physical memory at `paddr`; throws E_TRUNCATED/E_FORMAT if not present. */
  readPhys(paddr: number, len: number, buf: Uint8Array, bufOff?: number): void;
  /** Read `count` whole pages starting at `pfn` into `buf` (all must be present). */
  readPages(pfn: number, count: number, buf: Uint8Array, bufOff?: number): void;
  close(): void;
}

/** Everything a writer needs: header facts, the bitmaps, and page data. */
export interface PageWriterInput {
  info: DumpHeaderInfo;
  maxMapnr: number;
  /** 1st bitmap: pfns present in the input. */
  present: Bitmap;
  /** 2nd bitmap: pfns to dump. */
  dumpable: Bitmap;
  /** Effective dump level (recorded in the sub-header). */
  dumpLevel: number;
  /** Read `count` consecutive dumpable pages starting at `pfn`. */
  readPages(pfn: number, count: number, buf: Uint8Array, bufOff?: number): void;
  /**
   * The bitmaps one pfn window at a time (the windowed filter), instead of `present` and
   * `dumpable` whole: writers that support it use only this (the kdump writer, not --split).
   */
  windows?: PfnWindows;
}

/** One window of the bitmaps: bit i of each is pfn `start + i` (start a multiple of 8). */
export interface PfnWindow {
  start: number;
  end: number;
  present: Bitmap;
  dumpable: Bitmap;
  /**
   * No pfn of the window is present: both bitmaps are all zero, and a writer need not look at
   * them (a huge, sparse pfn space is mostly such windows).
   */
  empty?: boolean;
}

/** Ascending, adjacent windows covering [0, max_mapnr), and how many pfns they make dumpable. */
export interface PfnWindows {
  numDumpable: number;
  /** Each window's bitmaps are valid until the next one is taken. */
  windows(): Iterable<PfnWindow>;
}

/** Pfns of `r` whose page data can be read: its `dumpable` bitmap if it has one, else `present`. */
export function readableBitmap(r: Pick<DumpReader, 'present' | 'dumpable'>): Bitmap {
  return r.dumpable ?? r.present;
}

/** Pfns the input holds, without building a whole-dump bitmap when the reader has runs. */
export function presentPfns(r: Pick<DumpReader, 'present' | 'presentSet'>): PfnSet {
  return r.presentSet ?? r.present;
}

/** Pfns whose page data can be read (see {@link readableBitmap}), as a {@link PfnSet}. */
export function readablePfns(r: Pick<DumpReader, 'present' | 'presentSet' | 'dumpable' | 'readableSet'>): PfnSet {
  return r.readableSet ?? r.dumpable ?? presentPfns(r);
}
