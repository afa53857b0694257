/**
 * Hostile-input harness: base images (a 64 MiB simulator vmcore, and our own kdump / zlib kdump /
 * flattened outputs of it), named regions of each (headers, tables, VMCOREINFO, page tables,
 * mem_section, struct page fields, bitmaps, page_desc, page data), and mutations that are plain
 * JSON (a case is `{ base, mutations, level }`), so a failing case is a small regression fixture
 * replayed against a freshly simulated image (fixtures/regressions/*.json).
 *
 * A case runs either in-process (`filterDump`, fast) or through the built binary (exit code,
 * stderr, peak RSS from /usr/bin/time). {@link judge} states the property: a documented exit code
 * and one clear line, or success (partial for truncated input); never an internal error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { VmcoreError } from '../../src/errors.js';
import { simulate } from '../../src/sim/index.js';
import { filterDump } from '../../src/writer/pipeline.js';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { KernelMemory } from '../../src/memory/kernel.js';
import { locateMemMap } from '../../src/mm/memmap.js';
import { kernelTranslatorFromVmcoreinfo } from '../../src/addrxlat/x86_64.js';
import { structPageLayoutFromVmcoreinfo } from '../../src/mm/layout.js';
import { FlattenedSource } from '../../src/formats/flattened/reader.js';
import { FLAT_HEADER_SIZE, FLAT_RECORD_HEADER_SIZE } from '../../src/formats/flattened/layout.js';
import { DiskDumpHeader, KdumpSubHeader, PAGE_DESC_SIZE } from '../../src/formats/kdump/layout.js';

export const BIN = path.resolve('bin/vmcore-filter.js');
export const PY = '/usr/bin/python3';
export const OPENCHECK = path.resolve('test/fuzz/py/opencheck.py');
export const REGRESSIONS = path.resolve('fixtures/regressions');
/** Exit codes README documents for a failed run (0 and 8 are successes). */
export const DOCUMENTED_FAILURE_CODES = new Set([2, 3, 4, 5, 6, 7]);
/** Per-case bounds. */
export const TIME_BOUND_MS = 20_000;
export const RSS_BOUND_KB = 300 * 1024;

export type BaseKind = 'elf' | 'kdump' | 'kdump-zlib' | 'flattened';
export const BASE_KINDS: readonly BaseKind[] = ['elf', 'kdump', 'kdump-zlib', 'flattened'];

/** One change to a base image. `index` picks a byte of the region (modulo its length). */
export type Mutation =
  | { op: 'flip'; region: string; index: number; bit: number }
  /** Little-endian write of `value` (hex string, two's complement) over `width` bytes. */
  | { op: 'set'; region: string; index: number; width: 1 | 2 | 4 | 8; value: string }
  /** Keep the first `fraction` of the file (0 ≤ fraction < 1). */
  | { op: 'truncate'; fraction: number }
  | { op: 'vmcoreinfo-delete'; key: string }
  | { op: 'vmcoreinfo-set'; key: string; value: string }
  /** Reorder the ELF program headers (a permutation drawn from `seed`). */
  | { op: 'shuffle-phdrs'; seed: number };

/** A case: a base image, mutations in order, and the dump level of the run. */
export interface CaseSpec {
  base: BaseKind;
  mutations: Mutation[];
  level: number;
  codec?: 'zlib' | 'lzo' | 'snappy' | 'zstd';
}

/** A regression fixture: the case plus what went wrong when it was found. */
export interface RegressionFixture {
  /** Simulator seed of the base image (64 MiB machine). */
  simSeed: number;
  /** fast-check seed and path that produced it, when found by the fuzzer. */
  found?: { seed: number; path?: string; date: string };
  case: CaseSpec;
  problem: string;
}

/** File byte ranges [start, end). */
export type Ranges = [number, number][];

export interface BaseImage {
  kind: BaseKind;
  file: string;
  bytes: Buffer;
  regions: Record<string, Ranges>;
  /** Where the VMCOREINFO text lies in the file, if anywhere. */
  vmcoreinfo: { offset: number; size: number } | null;
  /** ELF only: program header table. */
  phdrs?: { offset: number; count: number };
}

export interface Bases {
  dir: string;
  simSeed: number;
  elf: BaseImage;
  kdump: BaseImage;
  'kdump-zlib': BaseImage;
  flattened: BaseImage;
}

const basesCache = new Map<number, Promise<Bases>>();

/** Build (once per process and seed) the 64 MiB simulator image and our outputs of it. */
export function getBases(simSeed = 1): Promise<Bases> {
  let p = basesCache.get(simSeed);
  if (!p) {
    p = buildBases(simSeed);
    basesCache.set(simSeed, p);
  }
  return p;
}

async function buildBases(simSeed: number): Promise<Bases> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-fuzz-'));
  const img = path.join(dir, 'base.elf');
  await simulate(img, { seed: simSeed, memBytes: 64 << 20 });
  const kd = path.join(dir, 'base.kdump');
  const kz = path.join(dir, 'base.kdump-zlib');
  const fl = path.join(dir, 'base.flat');
  await filterDump(img, kd, { dumpLevels: [31], format: 'kdump', force: true });
  await filterDump(img, kz, { dumpLevels: [31], format: 'kdump', codec: 'zlib', force: true });
  const ws = fs.createWriteStream(fl);
  await filterDump(img, '-', { dumpLevels: [31], format: 'kdump', codec: 'zlib', force: true, flattened: true, stdout: ws });
  await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return {
    dir,
    simSeed,
    elf: elfBase(img),
    kdump: kdumpBase('kdump', kd),
    'kdump-zlib': kdumpBase('kdump-zlib', kz),
    flattened: flatBase(fl),
  };
}

/** Remove the bases' directory. */
export function removeBases(b: Bases): void {
  fs.rmSync(b.dir, { recursive: true, force: true });
  basesCache.delete(b.simSeed);
}

function elfBase(file: string): BaseImage {
  const bytes = fs.readFileSync(file);
  const r = openElfDump(new BufferSource(bytes, file));
  const regions: Record<string, Ranges> = { any: [[0, bytes.length]], ehdr: [[0, 64]] };
  const phoff = r.ehdr.phoff;
  const phnum = r.ehdr.phnum;
  regions.phdrs = [[phoff, phoff + phnum * 56]];
  const seg = r.noteSegment!;
  regions.notes = [[seg.phdr.offset, seg.phdr.offset + seg.phdr.filesz]];
  // Note headers (namesz, descsz, type), walked as the kernel lays them out.
  regions.note_headers = [];
  for (let off = 0; off + 12 <= seg.data.length; ) {
    const namesz = seg.data.readUInt32LE(off);
    const descsz = seg.data.readUInt32LE(off + 4);
    if (namesz === 0) break;
    regions.note_headers.push([seg.phdr.offset + off, seg.phdr.offset + off + 12]);
    off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
  }
  const vloc = r.info.vmcoreinfo!;
  const vmcoreinfo = { offset: seg.phdr.offset + vloc.offsetInNotes, size: vloc.size };
  regions.vmcoreinfo = [[vmcoreinfo.offset, vmcoreinfo.offset + vmcoreinfo.size]];

  const fileOff = (pa: bigint, len: number): Ranges => {
    const out: Ranges = [];
    let cur = Number(pa);
    const end = cur + len;
    for (const p of r.pieces) {
      if (p.end <= cur || p.start >= end) continue;
      const s = Math.max(cur, p.start);
      const e = Math.min(end, p.end);
      out.push([p.fileOffset + (s - p.start), p.fileOffset + (e - p.start)]);
      cur = e;
    }
    return out;
  };
  const vi = parseVmcoreinfo(r.vmcoreinfoText!);
  // Page-table entries actually used to reach the structures the filter reads.
  const ptes: Ranges = [];
  const recordPte = (pa: bigint) => ptes.push(...fileOff(pa, 8));
  const mem = new KernelMemory(r, vi);
  const memRanges: Ranges = [];
  // Record what locateMemMap reads (mem_section pointer, root array, section arrays).
  const origRead = mem.readVirt.bind(mem);
  const origU64 = mem.tryReadU64.bind(mem);
  const recordVirt = (va: bigint, len: number) => {
    for (const p of mem.translator.translateRangeSparse(va, len)) if (p.pa !== null) memRanges.push(...fileOff(p.pa, p.len));
  };
  mem.readVirt = (va, len, buf, off) => (recordVirt(va, len), origRead(va, len, buf, off));
  mem.tryReadU64 = (va) => (recordVirt(va, 8), origU64(va));
  const mm = locateMemMap(mem, vi, r.maxMapnr);
  regions.mem_section = memRanges;
  // Walk again with a recording reader for the page-table entries.
  const recMem = new KernelMemory(r, vi);
  const walkVas: bigint[] = [vi.symbol('mem_section')!, ...mm.sections.map((s) => s.memMap)];
  // A translator fed by a recording u64 reader (the translator is pure: readPhysU64 is its only input).
  const { translator } = kernelTranslatorFromVmcoreinfo(
    vi,
    (pa) => {
      recordPte(pa);
      return recMem.readPhysU64(pa);
    },
    { kernelText: r.kernelText },
  );
  for (const va of walkVas) {
    translator.tryTranslate(va);
    // And a few struct pages further into each section (other PMDs / PTEs).
    for (const k of [1, 7, 31]) translator.tryTranslate(va + BigInt(k * 64 * 4096));
  }
  regions.page_tables = dedupe(ptes);

  // Struct page fields of sampled pfns: flags, _mapcount, private, compound_head, and page[1]'s order byte.
  const layout = structPageLayoutFromVmcoreinfo(vi);
  const fields: Record<string, [number, number]> = {
    'struct_page.flags': [layout.flags, 8],
    'struct_page.mapcount': [layout.mapcount, 4],
    'struct_page.private': [layout.private, 8],
    'struct_page.compound_head': [layout.compoundHead, 8],
    'struct_page.mapping': [layout.mapping, 8],
  };
  for (const k of Object.keys(fields)) regions[k] = [];
  regions['struct_page.any'] = [];
  const pfns: number[] = [];
  for (const s of mm.sections) for (let p = s.startPfn; p < s.endPfn; p += 37) pfns.push(p);
  for (const pfn of pfns) {
    const sec = mm.sectionOf(pfn)!;
    const va = sec.memMap + BigInt((pfn - sec.startPfn) * layout.size);
    const pa = mem.translator.tryTranslate(va);
    if (pa === undefined) continue;
    for (const [k, [o, n]] of Object.entries(fields)) regions[k]!.push(...fileOff(pa + BigInt(o), n));
    regions['struct_page.any']!.push(...fileOff(pa, layout.size * 2));
  }
  // Page data: anything inside the RAM PT_LOADs.
  regions.page_data = r.pieces.map((p) => [p.fileOffset, p.fileOffset + (p.end - p.start)] as [number, number]);
  r.close();
  return { kind: 'elf', file, bytes, regions, vmcoreinfo, phdrs: { offset: phoff, count: phnum } };
}

function dedupe(r: Ranges): Ranges {
  const seen = new Set<string>();
  return r.filter(([a, b]) => {
    const k = `${a}:${b}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function kdumpBase(kind: BaseKind, file: string): BaseImage {
  const bytes = fs.readFileSync(file);
  const r = new KdumpReader(new BufferSource(bytes, file));
  const bs = r.kdump.blockSize;
  const L = r.kdump.layout;
  const dataStart = L.pdOffset + PAGE_DESC_SIZE * r.kdump.numDumpable;
  const regions: Record<string, Ranges> = {
    any: [[0, bytes.length]],
    kdump_header: [[0, DiskDumpHeader.size]],
    // The fields that size and place things (status .. nr_cpus).
    kdump_header_fields: [[424, DiskDumpHeader.size]],
    sub_header: [[bs, bs + KdumpSubHeader.size]],
    notes: [[L.offsetNote, L.offsetNote + r.info.notes.length]],
    bitmap1: [[L.bitmap1Offset, L.bitmap1Offset + L.bitmapBytes]],
    bitmap2: [[L.bitmap2Offset, L.bitmap2Offset + L.bitmapBytes]],
    page_desc: [[L.pdOffset, dataStart]],
    // The offset and size fields of each descriptor.
    page_desc_fields: [],
    page_data: [[dataStart, bytes.length]],
  };
  for (let o = L.pdOffset; o + PAGE_DESC_SIZE <= dataStart; o += PAGE_DESC_SIZE * 7) regions.page_desc_fields!.push([o, o + 16]);
  const sub = r.subHeader;
  const vmcoreinfo = sub.sizeVmcoreinfo > 0n ? { offset: Number(sub.offsetVmcoreinfo), size: Number(sub.sizeVmcoreinfo) } : null;
  if (vmcoreinfo) regions.vmcoreinfo = [[vmcoreinfo.offset, vmcoreinfo.offset + vmcoreinfo.size]];
  r.close();
  return { kind, file, bytes, regions, vmcoreinfo };
}

function flatBase(file: string): BaseImage {
  const bytes = fs.readFileSync(file);
  const regions: Record<string, Ranges> = { any: [[0, bytes.length]], flat_header: [[0, 32]], record_headers: [], record_data: [] };
  let pos = FLAT_HEADER_SIZE;
  let vmcoreinfo: BaseImage['vmcoreinfo'] = null;
  // The inner file's VMCOREINFO (for line edits) lies in the record covering its offset.
  const inner = new KdumpReader(new FlattenedSource(new BufferSource(bytes, file)));
  const sub = inner.subHeader;
  const vOff = Number(sub.offsetVmcoreinfo);
  const vLen = Number(sub.sizeVmcoreinfo);
  inner.close();
  while (pos + FLAT_RECORD_HEADER_SIZE <= bytes.length) {
    const off = bytes.readBigInt64BE(pos);
    const len = bytes.readBigInt64BE(pos + 8);
    regions.record_headers!.push([pos, pos + 16]);
    if (off < 0n) break;
    const o = Number(off);
    const n = Number(len);
    regions.record_data!.push([pos + 16, pos + 16 + Math.min(n, 4096)]);
    if (vLen > 0 && vOff >= o && vOff + vLen <= o + n) vmcoreinfo = { offset: pos + 16 + (vOff - o), size: vLen };
    pos += 16 + n;
  }
  if (vmcoreinfo) regions.vmcoreinfo = [[vmcoreinfo.offset, vmcoreinfo.offset + vmcoreinfo.size]];
  return { kind: 'flattened', file, bytes, regions, vmcoreinfo };
}

/** A byte patch and an optional truncation: what a list of mutations does to a file. */
export interface Patch {
  writes: { offset: number; data: Buffer }[];
  truncateTo?: number;
}

/** The region names mutations may target for a base. */
export function regionNames(b: BaseImage): string[] {
  return Object.keys(b.regions).filter((k) => b.regions[k]!.some(([s, e]) => e > s));
}

function pick(ranges: Ranges, index: number): number {
  let total = 0;
  for (const [s, e] of ranges) total += e - s;
  if (total === 0) return -1;
  let i = ((index % total) + total) % total;
  for (const [s, e] of ranges) {
    if (i < e - s) return s + i;
    i -= e - s;
  }
  return -1;
}

/** Turn mutations into byte writes over `b` (applied in order: later ones see earlier ones). */
export function patchFor(b: BaseImage, muts: readonly Mutation[]): Patch {
  const overlay = new Map<number, number>(); // offset → byte
  const get = (o: number) => overlay.get(o) ?? b.bytes[o]!;
  const put = (o: number, v: number) => {
    if (o >= 0 && o < b.bytes.length) overlay.set(o, v & 0xff);
  };
  let truncateTo: number | undefined;
  for (const m of muts) {
    switch (m.op) {
      case 'flip': {
        const o = pick(b.regions[m.region] ?? [], m.index);
        if (o >= 0) put(o, get(o) ^ (1 << (m.bit & 7)));
        break;
      }
      case 'set': {
        const o = pick(b.regions[m.region] ?? [], m.index);
        if (o < 0) break;
        let v = BigInt.asUintN(64, BigInt(m.value));
        for (let i = 0; i < m.width; i++) {
          put(o + i, Number(v & 0xffn));
          v >>= 8n;
        }
        break;
      }
      case 'truncate': {
        const n = Math.floor(Math.min(Math.max(m.fraction, 0), 0.999999) * b.bytes.length);
        truncateTo = truncateTo === undefined ? n : Math.min(truncateTo, n);
        break;
      }
      case 'vmcoreinfo-delete':
      case 'vmcoreinfo-set': {
        const v = b.vmcoreinfo;
        if (!v) break;
        const text = Buffer.from(Array.from({ length: v.size }, (_, i) => get(v.offset + i))).toString('latin1');
        const lines = text.replace(/\0+$/, '').split('\n');
        const i = lines.findIndex((l) => l.startsWith(m.key + '='));
        if (m.op === 'vmcoreinfo-delete') {
          if (i >= 0) lines.splice(i, 1);
        } else if (i >= 0) lines[i] = `${m.key}=${m.value}`;
        else lines.splice(Math.max(0, lines.length - 1), 0, `${m.key}=${m.value}`);
        // Same size in place: NUL padding (the parser stops at the first NUL), cut if longer.
        const out = Buffer.alloc(v.size);
        Buffer.from(lines.join('\n'), 'latin1').copy(out, 0, 0, v.size);
        for (let k = 0; k < v.size; k++) put(v.offset + k, out[k]!);
        break;
      }
      case 'shuffle-phdrs': {
        const ph = b.phdrs;
        if (!ph) break;
        const rows = Array.from({ length: ph.count }, (_, i) =>
          Array.from({ length: 56 }, (_, k) => get(ph.offset + i * 56 + k)),
        );
        let s = m.seed >>> 0 || 1;
        for (let i = rows.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [rows[i], rows[j]] = [rows[j]!, rows[i]!];
        }
        rows.forEach((row, i) => row.forEach((byte, k) => put(ph.offset + i * 56 + k, byte)));
        break;
      }
    }
  }
  const writes: Patch['writes'] = [];
  const offs = [...overlay.keys()].sort((a, c) => a - c);
  for (let i = 0; i < offs.length; ) {
    let j = i + 1;
    while (j < offs.length && offs[j] === offs[j - 1]! + 1) j++;
    writes.push({ offset: offs[i]!, data: Buffer.from(offs.slice(i, j).map((o) => overlay.get(o)!)) });
    i = j;
  }
  return { writes, truncateTo };
}

/**
 * A working copy of a base image that cases patch in place and restore afterwards (a 64 MiB
 * copy per case would cost more than the case).
 */
export class WorkingCopy {
  readonly file: string;
  constructor(readonly base: BaseImage, dir: string) {
    this.file = path.join(dir, `work-${base.kind}-${process.pid}.img`);
    fs.writeFileSync(this.file, base.bytes);
  }
  /** Apply `patch`, run `fn`, restore the base bytes. */
  async with<T>(patch: Patch, fn: (file: string) => Promise<T>): Promise<T> {
    const fd = fs.openSync(this.file, 'r+');
    try {
      for (const w of patch.writes) fs.writeSync(fd, w.data, 0, w.data.length, w.offset);
      if (patch.truncateTo !== undefined) fs.ftruncateSync(fd, patch.truncateTo);
    } finally {
      fs.closeSync(fd);
    }
    try {
      return await fn(this.file);
    } finally {
      const fd2 = fs.openSync(this.file, 'r+');
      try {
        if (patch.truncateTo !== undefined) {
          const t = patch.truncateTo;
          fs.writeSync(fd2, this.base.bytes, t, this.base.bytes.length - t, t);
        }
        for (const w of patch.writes) fs.writeSync(fd2, this.base.bytes, w.offset, w.data.length, w.offset);
      } finally {
        fs.closeSync(fd2);
      }
    }
  }
}

/** What one run did. */
export interface Outcome {
  /** Exit code (in-process: the code the CLI would use). */
  code: number;
  /** The error line, or '' on success. */
  line: string;
  /** Non-VmcoreError thrown in-process, or stderr lines beyond the one error line. */
  internal?: string;
  warnings: string[];
  ms: number;
  /** Peak RSS of the child (binary runs). */
  rssKb?: number;
  outputExists: boolean;
  output: string;
}

/** Run a case in-process through the library, as `filterDump` would for the CLI. */
export async function runInProcess(input: string, output: string, spec: CaseSpec): Promise<Outcome> {
  fs.rmSync(output, { force: true });
  const t0 = performance.now();
  try {
    const report = await filterDump(input, output, { dumpLevels: [spec.level], format: 'kdump', codec: spec.codec, force: true });
    const partial = report.warnings.some((w) => w.startsWith('truncated')); // as the CLI decides exit 8
    return { code: partial ? 8 : 0, line: '', warnings: report.warnings, ms: performance.now() - t0, outputExists: fs.existsSync(output), output };
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof VmcoreError) {
      return { code: e.exitCode, line: `vmcore-filter: error: ${e.message}`, warnings: [], ms, outputExists: fs.existsSync(output), output };
    }
    const err = e as Error;
    return { code: 1, line: '', internal: `${err?.name}: ${err?.message}\n${err?.stack}`, warnings: [], ms, outputExists: fs.existsSync(output), output };
  }
}

/** Run a case through the built binary under /usr/bin/time (peak RSS). */
export function runBinary(input: string, output: string, spec: CaseSpec, extra: string[] = []): Outcome {
  fs.rmSync(output, { force: true });
  const timeFile = output + '.time';
  const args = ['-d', String(spec.level), ...(spec.codec ? [{ zlib: '-c', lzo: '-l', snappy: '-p', zstd: '-z' }[spec.codec]] : []), '--json', '-f', ...extra, input, output];
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, process.execPath, BIN, ...args], {
    encoding: 'utf8',
    timeout: TIME_BOUND_MS * 2,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 64 << 20,
  });
  const ms = performance.now() - t0;
  let rssKb: number | undefined;
  try {
    const t = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
    rssKb = Number(t[t.length - 1]);
    fs.rmSync(timeFile, { force: true });
  } catch {
    /* killed */
  }
  const code = r.status ?? (r.signal ? 128 + 9 : -1);
  const lines = (r.stderr ?? '').split('\n').filter((l) => l && !l.startsWith('Command exited with non-zero status'));
  let warnings: string[] = [];
  if (code === 0 || code === 8) {
    try {
      warnings = JSON.parse(r.stdout).warnings;
    } catch {
      /* judged below */
    }
  }
  const out: Outcome = { code, line: lines[0] ?? '', warnings, ms, rssKb, outputExists: fs.existsSync(output), output };
  if (lines.length > 1 || /\n\s+at /.test(r.stderr ?? '') || code === 1) out.internal = r.stderr;
  if (r.signal) out.internal = `killed by ${r.signal} after ${Math.round(ms)} ms`;
  return out;
}

/** The property. Returns a description of what is wrong, or null. */
export function judge(o: Outcome, opts: { checkRss?: boolean } = {}): string | null {
  if (o.internal !== undefined) return `internal error / stack trace (exit ${o.code}): ${o.internal.slice(0, 2000)}`;
  if (o.ms > TIME_BOUND_MS) return `took ${Math.round(o.ms)} ms (bound ${TIME_BOUND_MS})`;
  if (opts.checkRss && o.rssKb !== undefined && o.rssKb > RSS_BOUND_KB) return `peak RSS ${o.rssKb} KiB (bound ${RSS_BOUND_KB})`;
  if (o.code === 0 || o.code === 8) {
    if (!o.outputExists) return `exit ${o.code} but no output`;
    if (o.code === 8 && !o.warnings.some((w) => /truncat|file ends/.test(w))) return 'exit 8 without a truncation warning';
    return null;
  }
  if (!DOCUMENTED_FAILURE_CODES.has(o.code)) return `undocumented exit code ${o.code}: ${o.line}`;
  if (!/^vmcore-filter: error: \S/.test(o.line)) return `error line is not "vmcore-filter: error: …": ${JSON.stringify(o.line)}`;
  if (o.line.includes('\n')) return `error is more than one line: ${JSON.stringify(o.line)}`;
  // "Where": a path, an offset, an address, a pfn, a line or a key.
  if (!/(\/|0x[0-9a-f]+|offset|pfn|line \d|[A-Z]+\(|PT_LOAD|section|VMCOREINFO)/.test(o.line)) return `error does not say where: ${o.line}`;
  // A dump without VMCOREINFO is still written (every page kept), then the run exits 5.
  if (o.outputExists && !(o.code === 5 && /: the dump has no VMCOREINFO: .* was written with every page kept/.test(o.line))) {
    return `exit ${o.code} left a file under the final name ${o.output}`;
  }
  return null;
}

/** Open each dump with libkdumpfile and read a sample of its stored pages. Returns problems by path. */
export function libkdumpfileCheck(files: string[], opts: { incomplete?: boolean } = {}): Record<string, string | null> {
  if (!files.length) return {};
  const r = spawnSync(PY, [OPENCHECK, ...(opts.incomplete ? ['--incomplete'] : []), ...files], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`opencheck.py failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ''}`);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

/** Write a regression fixture for a failing case; returns its path. */
export function writeRegression(fx: RegressionFixture): string {
  fs.mkdirSync(REGRESSIONS, { recursive: true });
  const name = `${fx.case.base}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}.json`;
  const p = path.join(REGRESSIONS, name);
  fs.writeFileSync(p, JSON.stringify(fx, null, 2) + '\n');
  return p;
}

/** The fixtures under fixtures/regressions. */
export function loadRegressions(): { name: string; fx: RegressionFixture }[] {
  if (!fs.existsSync(REGRESSIONS)) return [];
  return fs
    .readdirSync(REGRESSIONS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f, fx: JSON.parse(fs.readFileSync(path.join(REGRESSIONS, f), 'utf8')) as RegressionFixture }));
}
