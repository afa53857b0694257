/**
 * Synthetic writer inputs for format tests: bitmaps from a spec and deterministic page contents
 * (every non-zero page begins with its pfn as a little-endian u64), independent of src/sim.
 */
import { createHash } from 'node:crypto';
import { Bitmap } from '../../src/io/bitmap.js';
import { NT_PRSTATUS, PRSTATUS_SIZE_X86_64, encodeNote, NHDR_SIZE } from '../../src/formats/elf/layout.js';
import type { DumpHeaderInfo, PageWriterInput } from '../../src/formats/dump.js';

export const PAGE = 4096;

/** Kinds of page content, chosen by pfn so every codec path is exercised. */
export type PageKind = 'zero' | 'text' | 'random' | 'sparse' | 'half';

export function pageKind(pfn: number): PageKind {
  switch (pfn % 11) {
    case 0:
    case 5:
      return 'zero';
    case 1:
    case 2:
    case 6:
      return 'text';
    case 3:
    case 8:
      return 'random';
    case 4:
    case 9:
      return 'sparse';
    default:
      return 'half';
  }
}

function xorshift(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const TEXT = Buffer.from(
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit; struct page *page = pfn_to_page(pfn);\n',
  'latin1',
);

/** Fill `out` (one page) with the content of `pfn`. */
export function fillPage(pfn: number, out: Uint8Array): void {
  const kind = pageKind(pfn);
  out.fill(0);
  if (kind === 'zero') return;
  const rnd = xorshift(pfn);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (kind === 'text') {
    for (let i = 0; i < PAGE; i++) out[i] = TEXT[(i + pfn) % TEXT.length]!;
  } else if (kind === 'random') {
    for (let i = 0; i < PAGE; i += 4) v.setUint32(i, rnd(), true);
  } else if (kind === 'sparse') {
    for (let i = 64; i < PAGE; i += 512) v.setUint32(i, rnd(), true);
  } else {
    for (let i = 0; i < PAGE / 2; i += 4) v.setUint32(i, rnd(), true);
    for (let i = PAGE / 2; i < PAGE; i++) out[i] = TEXT[i % TEXT.length]!;
  }
  v.setBigUint64(0, BigInt(pfn), true);
}

export function pageContent(pfn: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  fillPage(pfn, b);
  return b;
}

export function sha1(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

export const VMCOREINFO_TEXT =
  'OSRELEASE=6.0.0-synthetic\nBUILD-ID=0123456789abcdef\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a15f40\n' +
  'SYMBOL(swapper_pg_dir)=ffffffff82a0a000\nSIZE(page)=64\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)=0\nKERNELOFFSET=0\nCRASHTIME=1700000000\n';

/** A note segment: `nrCpus` CORE/NT_PRSTATUS notes then a VMCOREINFO note (if text given). */
export function makeNotes(nrCpus: number, vmcoreinfo: string | null): { notes: Buffer; vmcoreinfo: DumpHeaderInfo['vmcoreinfo'] } {
  const parts: Buffer[] = [];
  for (let c = 0; c < nrCpus; c++) {
    const pr = Buffer.alloc(PRSTATUS_SIZE_X86_64);
    pr.writeInt32LE(1000 + c, 32); // pr_pid
    parts.push(encodeNote('CORE', NT_PRSTATUS, pr));
  }
  let vi: DumpHeaderInfo['vmcoreinfo'] = null;
  if (vmcoreinfo !== null) {
    const before = parts.reduce((n, p) => n + p.length, 0);
    parts.push(encodeNote('VMCOREINFO', 0, Buffer.from(vmcoreinfo, 'latin1')));
    vi = { offsetInNotes: before + NHDR_SIZE + 12, size: vmcoreinfo.length };
  }
  return { notes: Buffer.concat(parts), vmcoreinfo: vi };
}

export interface SynthSpec {
  maxMapnr: number;
  /** Present ranges [start, end). */
  present: [number, number][];
  /** Which present pfns are dumpable (default: all present). */
  dumpable?: (pfn: number) => boolean;
  nrCpus?: number;
  vmcoreinfo?: string | null;
  dumpLevel?: number;
}

export interface SynthInput extends PageWriterInput {
  /** Pfns the writer read, for the "never read excluded pages" check. */
  reads: Set<number>;
}

export function synthInput(spec: SynthSpec): SynthInput {
  const present = new Bitmap(spec.maxMapnr);
  const dumpable = new Bitmap(spec.maxMapnr);
  for (const [s, e] of spec.present) {
    present.setRange(s, e);
    for (let p = s; p < e; p++) if (!spec.dumpable || spec.dumpable(p)) dumpable.set(p);
  }
  const { notes, vmcoreinfo } = makeNotes(spec.nrCpus ?? 2, spec.vmcoreinfo === undefined ? VMCOREINFO_TEXT : spec.vmcoreinfo);
  const reads = new Set<number>();
  return {
    info: {
      utsname: {
        sysname: 'Linux',
        nodename: 'synthetic-host',
        release: '6.0.0-synthetic',
        version: '#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026',
        machine: 'x86_64',
        domainname: '(none)',
      },
      crashTime: 1700000000,
      nrCpus: spec.nrCpus ?? 2,
      physBase: 0x1000000n,
      notes,
      vmcoreinfo,
      pageSize: PAGE,
    },
    maxMapnr: spec.maxMapnr,
    present,
    dumpable,
    dumpLevel: spec.dumpLevel ?? 31,
    reads,
    readPages(pfn, count, buf, bufOff = 0) {
      for (let i = 0; i < count; i++) {
        const p = pfn + i;
        if (!dumpable.get(p)) throw new Error(`writer read excluded pfn ${p}`);
        reads.add(p);
        fillPage(p, buf.subarray(bufOff + i * PAGE, bufOff + (i + 1) * PAGE));
      }
    },
  };
}
