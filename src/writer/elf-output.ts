import { VmcoreError } from '../errors.js';
import type { PageWriterInput } from '../formats/dump.js';
import type { ElfDumpReader } from '../formats/elf/reader.js';
import type { DumpSink } from '../formats/kdump/sink.js';

/** ELF output (-E): adapts the input's PT_LOADs and notes to the ELF writer. */
export async function writeElfOutput(
  _reader: ElfDumpReader,
  _input: PageWriterInput,
  _sink: DumpSink,
  _opts: { minHolePages: number; onProgress?: (d: number, t: number) => void },
): Promise<{ bytesWritten: number }> {
  throw new VmcoreError('E_USAGE', 'ELF output (-E) is not available in this build', { option: '-E' });
}
