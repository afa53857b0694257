/**
 * Format registry: open a dump file read-only and let each format's probe answer
 * mine / not-mine / error (STYLE.md habit 2). The first "mine" opens the file.
 */
import { VmcoreError } from '../errors.js';
import { FileSource, type ByteSource } from '../io/file.js';
import type { DumpReader } from './dump.js';
import { looksLikeElf, openElfDump } from './elf/reader.js';

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

/**
 * Formats tried in order. ---- SLOT: kdump-compressed and flattened readers ----
 * src/formats/kdump and src/formats/flattened (another engineer) register here with
 * `registerDumpFormat({ name: 'kdump', probe: …, open: … })`, or are added to this list.
 */
const FORMATS: DumpFormat[] = [ELF_FORMAT];

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
  return openDumpSource(new FileSource(path), opts);
}
