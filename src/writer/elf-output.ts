/**
 * ELF output (-E): feed the ELF writer the input's PT_LOADs and notes. An ELF input keeps its
 * program headers (the kernel-text PT_LOAD included, which ELF readers need for kernel
 * virtual addresses). A kdump-compressed input has no PT_LOADs: one is made per run of present
 * pfns, with direct-map virtual addresses (PAGE_OFFSET from the dump if known, else the
 * x86_64 4-level default).
 */
import { presentPfns, type DumpReader, type PageWriterInput } from '../formats/dump.js';
import type { PfnSet } from '../io/pfn-set.js';
import type { ElfDumpReader } from '../formats/elf/reader.js';
import { writeElf, type ElfLoad, type ElfWriteStats } from '../formats/elf/writer.js';
import type { DumpSink } from '../formats/kdump/sink.js';
import { PT_LOAD } from '../formats/elf/layout.js';

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
  if (elf) {
    loads = elf.loads.filter((p) => p.type === PT_LOAD).map((p) => ({ paddr: p.paddr, vaddr: p.vaddr, memsz: p.memsz, flags: p.flags }));
    notes = elf.noteSegment?.data ?? reader.info.notes;
  } else {
    loads = presentRuns(reader).map(([s, e]) => {
      const paddr = BigInt(s) * 4096n;
      return { paddr, vaddr: DEFAULT_PAGE_OFFSET + paddr, memsz: (e - s) * 4096, flags: 7 };
    });
    notes = reader.info.notes;
  }
  return writeElf({ ...input, loads, noteSegment: notes }, sink, { minHolePages: opts.minHolePages, onProgress: opts.onProgress });
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
