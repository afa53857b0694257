/**
 * Format registry: open a dump file read-only and let each format's probe answer
 * mine / not-mine / error (STYLE.md habit 2). The first "mine" opens the file.
 */
import { VmcoreError } from '../errors.js';
import { FileSource, borrowSource, type ByteSource } from '../io/file.js';
import type { DumpReader } from './dump.js';
import { looksLikeElf, openElfDump } from './elf/reader.js';
import { KdumpReader, probeKdump } from './kdump/reader.js';
import { FlattenedSource } from './flattened/reader.js';
import { hasFlatSignature } from './flattened/layout.js';
import { decodeNotes, encodeNote } from './elf/layout.js';
import { parseVmcoreinfo } from '../vmcoreinfo/parse.js';
import { inKernelPages } from './blocks.js';

/** A probe's answer. `error` carries why a file that looks like this format cannot be read. */
export type ProbeResult = { kind: 'mine' } | { kind: 'not-mine' } | { kind: 'error'; error: VmcoreError };

/** One dump format in the registry. */
export interface DumpFormat {
  name: string;
  /** Look at the first bytes (at least 64, fewer if the file is shorter). */
  probe(head: Uint8Array, source: ByteSource): ProbeResult;
  open(source: ByteSource): DumpReader;
}

export const ELF_FORMAT: DumpFormat = {
  name: 'elf',
  probe: (head) => (looksLikeElf(head) ? { kind: 'mine' } : { kind: 'not-mine' }),
  open: openElfDump,
};

/** kdump-compressed files and flattened streams of them (src/formats/kdump). */
export const KDUMP_FORMAT: DumpFormat = {
  name: 'kdump',
  probe(_head, source) {
    try {
      return { kind: probeKdump(source) };
    } catch (e) {
      if (e instanceof VmcoreError) return { kind: 'error', error: e };
      throw e;
    }
  },
  open(source) {
    const head = new Uint8Array(16);
    const n = source.readSome(0, 16, head);
    return new KdumpReader(n >= 16 && hasFlatSignature(head) ? new FlattenedSource(source) : source);
  },
};

/** A flattened stream carrying an ELF dump (makedumpfile -E -F), read in place. */
export const FLATTENED_ELF_FORMAT: DumpFormat = {
  name: 'flattened-elf',
  probe(head, source) {
    if (head.length < 16 || !hasFlatSignature(head)) return { kind: 'not-mine' };
    try {
      const flat = new FlattenedSource(borrowSource(source));
      const inner = new Uint8Array(4);
      const k = flat.readSome(0, 4, inner);
      return k === 4 && looksLikeElf(inner) ? { kind: 'mine' } : { kind: 'not-mine' };
    } catch (e) {
      if (e instanceof VmcoreError) return { kind: 'error', error: e };
      throw e;
    }
  },
  open: (source) => openElfDump(new FlattenedSource(source)),
};


/** Formats tried in order; others may be added with {@link registerDumpFormat}. */
const FORMATS: DumpFormat[] = [ELF_FORMAT, KDUMP_FORMAT, FLATTENED_ELF_FORMAT];

/** Add a format to the registry (before the ELF probe if `first`). */
export function registerDumpFormat(f: DumpFormat, first = false): void {
  if (FORMATS.some((x) => x.name === f.name)) return;
  if (first) FORMATS.unshift(f);
  else FORMATS.push(f);
}

/** The registered formats, in probe order. */
export function dumpFormats(): readonly DumpFormat[] {
  return FORMATS;
}

export interface OpenDumpOptions {
  /** Probe only these formats (by name). */
  formats?: string[];
  /**
   * VMCOREINFO text that supplies or replaces the dump's own (`--vmcoreinfo FILE`, makedumpfile
   * `-i`). Checked with {@link parseVmcoreinfo} by the caller; see {@link withVmcoreinfo}.
   */
  vmcoreinfo?: string;
}

/** Probe and open a byte source; the source is closed on failure. */
export function openDumpSource(source: ByteSource, opts: OpenDumpOptions = {}): DumpReader {
  try {
    const head = new Uint8Array(Math.min(source.size, 4096));
    source.readSome(0, head.length, head);
    const errors: VmcoreError[] = [];
    for (const f of FORMATS) {
      if (opts.formats && !opts.formats.includes(f.name)) continue;
      const r = f.probe(head, source);
      if (r.kind === 'mine') return f.open(source);
      if (r.kind === 'error') errors.push(r.error);
    }
    if (errors.length) throw errors[0]!;
    const magic = Buffer.from(head.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
    throw new VmcoreError('E_FORMAT', `${source.path}: not an ELF vmcore or kdump-compressed dump (magic ${magic || 'none: empty file'})`, {
      path: source.path,
      offset: 0,
    });
  } catch (e) {
    source.close();
    throw e;
  }
}

/** Open the dump at `path` read-only, whatever its format. */
export function openDump(path: string, opts: OpenDumpOptions = {}): DumpReader {
  const r = openDumpSource(new FileSource(path), opts);
  const v = opts.vmcoreinfo === undefined ? r : withVmcoreinfo(r, opts.vmcoreinfo);
  return v.format === 'elf' ? v : inKernelPages(v, kernelPageSize(v.vmcoreinfoText) ?? v.info.pageSize);
}

/** PAGESIZE of a VMCOREINFO text, if it has a well-formed one. */
function kernelPageSize(text: string | null): number | undefined {
  if (text === null) return undefined;
  const m = /^PAGESIZE=(\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * A view of `reader` whose VMCOREINFO is `text`: the classifier reads it, and the notes that
 * outputs copy carry it as their VMCOREINFO note (the dump's own note, if any, is replaced), so
 * a dump from a hypervisor that lacked one comes out analysable. Header facts the dump did not
 * know (release, crash time) are taken from `text`; those it knew are kept. phys_base is `text`'s
 * NUMBER(phys_base) when it has one (address translation uses that value).
 * Page access is the reader's own (the view delegates to it through its prototype).
 */
export function withVmcoreinfo(reader: DumpReader, text: string): DumpReader {
  const vi = parseVmcoreinfo(text);
  const old = reader.info;
  // Rebuild the note segment: every note but VMCOREINFO, then the new VMCOREINFO note.
  const keep: Buffer[] = [];
  let kept = 0;
  let ok = true;
  try {
    for (const n of decodeNotes(old.notes, 0)) {
      if (n.name === 'VMCOREINFO') continue;
      const enc = encodeNote(n.name, n.type, n.desc);
      keep.push(enc);
      kept += enc.length;
    }
  } catch {
    ok = false; // notes we cannot walk are dropped rather than copied half-understood
  }
  const body = Buffer.from(text, 'latin1');
  const note = encodeNote('VMCOREINFO', 0, body);
  const notes = Buffer.concat([...(ok ? keep : []), note]);
  const descOff = (ok ? kept : 0) + 12 + ((('VMCOREINFO'.length + 1 + 3) >> 2) << 2);
  const crash = tolerant(() => vi.crashTime);
  const pb = tolerant(() => vi.number('phys_base'));
  const info = {
    ...old,
    utsname: { ...old.utsname, release: old.utsname.release || vi.osrelease || '' },
    crashTime: old.crashTime || crash || 0,
    // The translator takes NUMBER(phys_base) first, so the header written must say the same.
    physBase: pb !== undefined ? BigInt.asUintN(64, pb) : old.physBase,
    notes,
    vmcoreinfo: { offsetInNotes: descOff, size: body.length },
  };
  const view = Object.create(reader) as Record<string, unknown>;
  Object.defineProperty(view, 'vmcoreinfoText', { value: text, enumerable: true });
  Object.defineProperty(view, 'info', { value: info, enumerable: true });
  // The ELF reader also exposes its parsed VMCOREINFO and the note segment -E copies.
  if ('vmcoreinfo' in reader) Object.defineProperty(view, 'vmcoreinfo', { value: vi, enumerable: true });
  const seg = (reader as { noteSegment?: { phdr: unknown; data: Buffer } | null }).noteSegment;
  if (seg !== undefined) {
    Object.defineProperty(view, 'noteSegment', { value: seg ? { ...seg, data: notes } : null, enumerable: true });
  }
  Object.defineProperty(view, 'vmcoreinfoOverridden', { value: true, enumerable: true });
  return view as unknown as DumpReader;
}

function tolerant<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof VmcoreError) return undefined;
    throw e;
  }
}
