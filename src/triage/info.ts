/**
 * `info`: what a dump is, without writing anything — format, codec, header fields, kernel,
 * crash time, memory ranges, the page-type encoding and which page classes it lets us decide,
 * and whether it is complete. The result is plain data (schema `vmcore-filter/info@1`,
 * schema/info.schema.json); rendering and exit codes belong to the CLI.
 */
import { explainNoVmcoreinfo } from '../vmcoreinfo/missing.js';
import * as fs from 'node:fs';
import { VmcoreError, hex } from '../errors.js';
import { presentPfns, readablePfns, type DumpReader } from '../formats/dump.js';
import type { ElfDumpReader } from '../formats/elf/reader.js';
import { KdumpReader } from '../formats/kdump/reader.js';
import { openDump } from '../formats/probe.js';
import { summarizeDump, type ClassSummary } from '../filter/index.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { bitmapRuns, physHex } from './ranges.js';
import { classDecisions, type ClassDecision, type DecidedClass } from './keys.js';
import { describeReportedBit } from '../mm/pageflags.js';
import { arm64LayoutFromVmcoreinfo } from '../addrxlat/arm64-linux.js';
import { arm64Levels } from '../addrxlat/arm64.js';

export const INFO_SCHEMA = 'vmcore-filter/info@1';

/** Options of {@link describeDump}. */
export interface InfoOptions {
  /**
   * page->flags bit of PG_reported, as `--reported-bit` (overrides the bit decided from
   * VMCOREINFO); null: PG_reported is not tested (`--reported-bit none`).
   */
  reportedBit?: number | null;
  /** VMCOREINFO text replacing the dump's own (`--vmcoreinfo FILE`). */
  vmcoreinfoOverride?: string;
}

/** A memory range, in pfns and physical addresses. */
export interface InfoRange {
  startPfn: number;
  endPfn: number;
  pages: number;
  /** Physical address range [start, end), hex. */
  start: string;
  end: string;
}

/** The page-type encoding this kernel uses (FORMATS.md §3). */
export interface InfoPageTypes {
  scheme: string;
  decidedBy: string[];
  /** Exported values (int32) by type. */
  values: Record<string, number>;
  /** Whether a hinted free page (buddy and offline at once) is encodable in this scheme. */
  hintedEncodable: boolean;
  /** BUDDY & OFFLINE, when encodable. */
  hintedValue: number | null;
}

/**
 * How the PG_reported (= PG_uptodate) bit was decided: from the exported NUMBER(PG_*) layout
 * (mm/pageflags.ts), from `--reported-bit`, or not at all (with why).
 */
export interface InfoReported {
  /** page->flags bit tested on buddy heads, or null when none is. */
  bit: number | null;
  by: 'vmcoreinfo' | 'option' | 'unknown' | 'none';
  /** enum pageflags layouts the exported numbers match (by = vmcoreinfo). */
  layouts: string[];
  /** The kernel change of that layout (by = vmcoreinfo), else null. */
  since: string | null;
  /** by = vmcoreinfo: the numbers that decided it (`NUMBER(PG_lru)=5`); unknown: the keys missing or not matching. */
  keys: string[];
  /** One line for people: "PG_reported = PG_uptodate = bit 3, decided by …" or "PG_uptodate position unknown: …". */
  description: string;
}

/** The result of {@link describeDump}: the JSON of `vmcore-filter info --json`. */
/** How arm64 kernel addresses are translated (present for arm64 dumps only). */
export interface InfoArm64 {
  vaBits: number;
  vaBitsActual: number;
  levels: number;
  /** '5.4+' (flipped) or 'pre-5.4' VA layout. */
  layout: string;
  pageOffset: string;
  physOffset: string | null;
  kimageVoffset: string;
  swapperPgDir: string;
  /** 52-bit output addresses: 'lpa2', 'pa52' (64K) or null. */
  pa52: string | null;
  decidedBy: string[];
  /** Why the exports cannot be used (then the other fields are empty). */
  error: string | null;
}

export interface DumpInfo {
  schema: typeof INFO_SCHEMA;
  path: string;
  bytes: number;
  format: 'elf' | 'kdump' | 'flattened';
  /** kdump: codec named by the header status ('none' if none); ELF: null. */
  codec: string | null;
  kernel: { release: string | null; version: string | null; machine: string | null; nodename: string | null; buildId: string | null };
  /** CRASHTIME (kdump: the header timestamp) as ISO 8601, or null when unknown. */
  crashTime: string | null;
  cpus: number;
  pageSize: number;
  physBase: string;
  vmcoreinfo: { source: 'dump' | 'file' | 'none'; keys: number; error: string | null };
  kdump: {
    headerVersion: number;
    blockSize: number;
    subHdrSize: number;
    bitmapBlocks: number;
    maxMapnr: number;
    status: number;
    statusFlags: string[];
    dumpLevel: number;
    split: { startPfn: number; endPfn: number } | null;
    physBase: string;
    /** Pfns with a page descriptor (2nd bitmap) in the whole dump. */
    dumpablePages: number;
    eraseinfoBytes: number;
  } | null;
  elf: {
    machine: number;
    loads: { index: number; paddr: string; vaddr: string; offset: number; filesz: number; memsz: number }[];
    notesBytes: number;
  } | null;
  memory: {
    maxMapnr: number;
    /** Pfns inside the dump's memory ranges. */
    presentPages: number;
    /** Present pfns whose data the file holds (fewer after an earlier filter). */
    storedPages: number;
    holePages: number;
    ranges: InfoRange[];
    rangesTruncated: boolean;
  };
  pageTypes: InfoPageTypes;
  /** How PG_reported is recognised in this dump (added within info@1). */
  reported: InfoReported;
  /**
   * Hinted pages found (all present pages, dump level 31), and by which rule: BUDDY&OFFLINE in
   * the page type (`combined`) or PG_reported on a buddy head (`reported`); a block matching
   * both counts in both (added within info@1).
   */
  hinted: { pages: number; byCombined: number; byReported: number };
  /** How mem_map was found, or null. */
  memMap: { model: string; sections: number; unusableSections: number; decidedBy: string[] } | null;
  freePagesBy: string;
  classes: Record<DecidedClass, ClassDecision>;
  complete: boolean;
  /** Why the dump is not complete (empty when it is). */
  incomplete: string[];
  warnings: string[];
  /** arm64 dumps only. */
  arm64?: InfoArm64;
}

const STATUS_FLAGS: [number, string][] = [
  [0x1, 'compressed_zlib'],
  [0x2, 'compressed_lzo'],
  [0x4, 'compressed_snappy'],
  [0x8, 'incomplete'],
  [0x10, 'excluded_vmemmap'],
  [0x20, 'compressed_zstd'],
];

/** Open `path` (with an optional VMCOREINFO override), describe it, close it. */
export function describeDumpFile(path: string, opts: InfoOptions = {}): DumpInfo {
  const reader = openDump(path, { vmcoreinfo: opts.vmcoreinfoOverride });
  try {
    return describeDump(reader, opts, fileSize(path));
  } finally {
    reader.close();
  }
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Describe an opened dump. Classifies it (reading mem_map, window by window: memory is bounded
 * by the window, not by max_mapnr) to learn what it can decide.
 */
export function describeDump(reader: DumpReader, opts: InfoOptions = {}, bytes = 0): DumpInfo {
  const warnings: string[] = [];
  let vi: Vmcoreinfo | null = null;
  let viError: string | null = null;
  if (reader.vmcoreinfoText !== null) {
    try {
      vi = parseVmcoreinfo(reader.vmcoreinfoText);
    } catch (e) {
      if (!(e instanceof VmcoreError)) throw e;
      viError = e.message;
    }
  }
  const overridden = (reader as { vmcoreinfoOverridden?: boolean }).vmcoreinfoOverridden === true;
  const cls = summarizeDump(reader, { dumpLevel: 31, reportedBit: opts.reportedBit, alwaysWalkFreeLists: true });
  warnings.push(...explainNoVmcoreinfo(cls.warnings));
  const readerWarnings = reader.warnings ?? [];
  for (const w of readerWarnings) if (w.code !== 'truncated') warnings.push(w.message);

  const info = reader.info;
  const u = info.utsname;
  const kd = reader instanceof KdumpReader ? reader : null;
  const elf = reader.format === 'elf' ? (reader as ElfDumpReader) : null;
  const pageSize = info.pageSize;
  // The readers' pfn sets, never whole bitmaps (max_mapnr/8 bytes: 2 GiB at 2^34 pfns).
  const present = presentPfns(reader);
  const stored = readablePfns(reader);
  const presentPages = present.count();
  const runs = bitmapRuns(present);

  const incomplete: string[] = [];
  if (kd) {
    if (kd.kdump.incomplete) {
      incomplete.push(
        reader.format === 'flattened' && (kd.kdump.status & 0x8) === 0
          ? 'flattened stream without its end marker'
          : 'header status has DUMP_DH_COMPRESSED_INCOMPLETE (the disk filled up while it was written)',
      );
    }
  }
  // Pages the file should hold but does not (the readers check every PT_LOAD / page descriptor).
  for (const w of readerWarnings) if (w.code === 'truncated') incomplete.push(`truncated: ${w.message}`);

  return {
    schema: INFO_SCHEMA,
    path: reader.path,
    bytes,
    format: reader.format,
    codec: kd ? (kd.kdump.codec ?? 'none') : null,
    kernel: {
      release: u.release || vi?.osrelease || null,
      version: u.version || null,
      machine: u.machine || null,
      nodename: u.nodename || null,
      buildId: vi?.raw('BUILD-ID') ?? null,
    },
    crashTime: info.crashTime > 0 ? new Date(info.crashTime * 1000).toISOString() : null,
    cpus: info.nrCpus,
    pageSize,
    physBase: hex(info.physBase),
    vmcoreinfo: {
      source: overridden ? 'file' : reader.vmcoreinfoText !== null ? 'dump' : 'none',
      keys: vi?.keys.length ?? 0,
      error: viError,
    },
    kdump: kd
      ? {
          headerVersion: kd.kdump.headerVersion,
          blockSize: kd.kdump.blockSize,
          subHdrSize: kd.header.subHdrSize,
          bitmapBlocks: kd.header.bitmapBlocks,
          maxMapnr: kd.maxMapnr,
          status: kd.kdump.status,
          statusFlags: STATUS_FLAGS.filter(([b]) => (kd.kdump.status & b) !== 0).map(([, n]) => n),
          dumpLevel: kd.kdump.dumpLevel,
          split: kd.kdump.split,
          physBase: hex(kd.subHeader.physBase),
          dumpablePages: kd.kdump.numDumpable,
          eraseinfoBytes: kd.kdump.eraseinfo?.size ?? 0,
        }
      : null,
    elf: elf
      ? {
          machine: elf.ehdr.machine,
          loads: elf.loads.map((p, index) => ({
            index,
            paddr: hex(p.paddr),
            vaddr: hex(p.vaddr),
            offset: p.offset,
            filesz: p.filesz,
            memsz: p.memsz,
          })),
          notesBytes: elf.noteSegment?.data.length ?? 0,
        }
      : null,
    memory: {
      maxMapnr: reader.maxMapnr,
      presentPages,
      storedPages: stored === present ? presentPages : stored.count(),
      holePages: reader.maxMapnr - presentPages,
      ranges: runs.ranges.map((r) => ({
        startPfn: r.start,
        endPfn: r.end,
        pages: r.end - r.start,
        start: physHex(r.start, pageSize),
        end: physHex(r.end, pageSize),
      })),
      rangesTruncated: runs.truncated,
    },
    pageTypes: pageTypesOf(cls),
    reported: reportedOf(cls),
    hinted: { pages: cls.counts.hinted, byCombined: cls.hintedBy.combined, byReported: cls.hintedBy.reported },
    memMap: cls.memMap ? { ...cls.memMap, decidedBy: [...cls.memMap.decidedBy] } : null,
    freePagesBy: cls.freePagesBy,
    classes: classDecisions(cls, vi),
    complete: incomplete.length === 0,
    incomplete,
    warnings,
    ...(vi && (vi.has('NUMBER(kimage_voffset)') || u.machine === 'aarch64') ? { arm64: arm64Info(vi) } : {}),
  };
}

function arm64Info(vi: Vmcoreinfo): InfoArm64 {
  try {
    const l = arm64LayoutFromVmcoreinfo(vi);
    return {
      vaBits: l.vaBits,
      vaBitsActual: l.vaBitsActual,
      levels: arm64Levels(l.vaBitsActual, l.pageShift),
      layout: l.flipped ? '5.4+' : 'pre-5.4',
      pageOffset: hex(l.pageOffset),
      physOffset: l.physOffset === undefined ? null : hex(l.physOffset),
      kimageVoffset: hex(l.kimageVoffset),
      swapperPgDir: hex(l.pgdPhys),
      pa52: l.lpa2 ? 'lpa2' : l.pa52 ? 'pa52' : null,
      decidedBy: l.decidedBy,
      error: null,
    };
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    return { vaBits: 0, vaBitsActual: 0, levels: 0, layout: '', pageOffset: '', physOffset: null, kimageVoffset: '', swapperPgDir: '', pa52: null, decidedBy: [], error: e.message };
  }
}

function reportedOf(cls: ClassSummary): InfoReported {
  const r = cls.reported;
  if (r === null) return { bit: null, by: 'none', layouts: [], since: null, keys: [], description: 'no usable VMCOREINFO: PG_reported not tested' };
  return {
    bit: r.bit,
    by: r.by,
    layouts: r.by === 'vmcoreinfo' ? [...r.layouts] : [],
    since: r.by === 'vmcoreinfo' ? r.since : null,
    keys: r.by === 'vmcoreinfo' || r.by === 'unknown' ? [...r.keys] : [],
    description: describeReportedBit(r),
  };
}

function pageTypesOf(cls: ClassSummary): InfoPageTypes {
  const pt = cls.pageTypes;
  if (!pt) return { scheme: 'none', decidedBy: [], values: {}, hintedEncodable: false, hintedValue: null };
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(pt.values)) if (v !== undefined) values[k] = v;
  return {
    scheme: pt.scheme,
    decidedBy: [...pt.decidedBy],
    values,
    hintedEncodable: pt.canEncodeHinted,
    hintedValue: pt.canEncodeHinted ? (pt.values.buddy! & pt.values.offline!) | 0 : null,
  };
}
