/**
 * ELF output (-E): feed the ELF writer the input's PT_LOADs and notes. An ELF input keeps its
 * program headers (the kernel-text PT_LOAD included, which ELF readers need for kernel
 * virtual addresses). A kdump-compressed input has no PT_LOADs: one is made per run of present
 * pfns, with direct-map virtual addresses (PAGE_OFFSET from the dump if known, else the
 * x86_64 4-level default; on arm64 the linear map VMCOREINFO describes).
 */
import { presentPfns, type DumpReader, type PageWriterInput } from '../formats/dump.js';
import type { PfnSet } from '../io/pfn-set.js';
import type { ElfDumpReader } from '../formats/elf/reader.js';
import { writeElf, type ElfLoad, type ElfWriteStats } from '../formats/elf/writer.js';
import type { DumpSink } from '../formats/kdump/sink.js';
import { EM_AARCH64, EM_X86_64, PT_LOAD } from '../formats/elf/layout.js';
import { parseVmcoreinfo } from '../vmcoreinfo/parse.js';
import { arm64LayoutFromVmcoreinfo, arm64PhysToLinear } from '../addrxlat/arm64-linux.js';

const DEFAULT_PAGE_OFFSET = 0xffff888000000000n;

export async function writeElfOutput(
  reader: DumpReader,
  input: Omit<PageWriterInput, 'dumpable'> & { dumpable: PfnSet },
  sink: DumpSink,
  opts: { minHolePages: number; onProgress?: (d: number, t: number) => void },
): Promise<ElfWriteStats> {
  const elf = reader.format === 'elf' ? (reader as ElfDumpReader) : null;
  let loads: ElfLoad[];
  let notes: Buffer;
  let machine = elf ? elf.ehdr.machine : reader.info.utsname.machine === 'aarch64' ? EM_AARCH64 : EM_X86_64;
  if (elf) {
    loads = elf.loads.filter((p) => p.type === PT_LOAD).map((p) => ({ paddr: p.paddr, vaddr: p.vaddr, memsz: p.memsz, flags: p.flags }));
    notes = elf.noteSegment?.data ?? reader.info.notes;
  } else {
    const ps = reader.info.pageSize;
    const linear = linearMap(reader);
    if (linear) machine = EM_AARCH64;
    loads = presentRuns(reader).map(([s, e]) => {
      const paddr = BigInt(s) * BigInt(ps);
      return { paddr, vaddr: linear ? linear(paddr) : DEFAULT_PAGE_OFFSET + paddr, memsz: (e - s) * ps, flags: 7 };
    });
    notes = reader.info.notes;
  }
  return writeElf({ ...input, loads, noteSegment: notes, machine }, sink, { minHolePages: opts.minHolePages, onProgress: opts.onProgress });
}

/** arm64: the linear-map address of a physical one (from VMCOREINFO), else null. */
function linearMap(reader: DumpReader): ((pa: bigint) => bigint) | null {
  if (!reader.vmcoreinfoText) return null;
  let vi;
  try {
    vi = parseVmcoreinfo(reader.vmcoreinfoText);
  } catch {
    return null;
  }
  if (!vi.has('NUMBER(kimage_voffset)')) return null;
  try {
    const l = arm64LayoutFromVmcoreinfo(vi);
    return (pa) => arm64PhysToLinear(l, pa) ?? 0n;
  } catch {
    // A program header's p_vaddr is informative only: without a usable layout it stays 0.
    return () => 0n;
  }
}

function presentRuns(reader: DumpReader): [number, number][] {
  const runs: [number, number][] = [];
  const present = presentPfns(reader);
  let p = present.nextSet(0);
  while (p >= 0 && p < reader.maxMapnr) {
    const e = Math.min(present.nextClear(p), reader.maxMapnr);
    runs.push([p, e]);
    p = present.nextSet(e);
  }
  return runs;
}
