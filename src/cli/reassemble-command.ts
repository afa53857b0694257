/**
 * `vmcore-filter reassemble`: makedumpfile's -R (flattened → file) and --reassemble (split parts →
 * one file). `--json` prints what was read and written (schema/reassemble.schema.json).
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { reassembleFlattened, reassembleFlattenedStream } from '../formats/flattened/reader.js';
import { KdumpReader } from '../formats/kdump/reader.js';
import { openDump } from '../formats/probe.js';
import { readableBitmap } from '../formats/dump.js';
import { reassembleSplit } from '../writer/split.js';
import { AtomicOutput, checkOutputPath } from '../writer/atomic.js';

/** One input of a reassembly: the flattened stream, or one `--split` part. */
export interface ReassembleInputJson {
  /** Path, or "-" for stdin. */
  path: string;
  /** Size of the input file; for stdin, the bytes read. */
  bytes: number;
  /** Flattened: data records replayed. Null for a split part. */
  records: number | null;
  /** Split part: its pfn range [startPfn, endPfn) and the pages it stores. Null for a flattened stream. */
  startPfn: number | null;
  endPfn: number | null;
  pages: number | null;
}

/** `reassemble --json` (schema vmcore-filter/reassemble@1). */
export interface ReassembleJson {
  schema: 'vmcore-filter/reassemble@1';
  source: 'flattened' | 'split';
  /** In the order given (split parts: as named on the command line). */
  inputs: ReassembleInputJson[];
  output: {
    path: string;
    /** What the rebuilt file is, read back from it. */
    format: 'elf' | 'kdump';
    /** kdump page codec ("none" for raw pages); null for ELF. */
    codec: string | null;
    /** Size of the rebuilt file. */
    bytes: number;
    /** Pfns whose data the rebuilt dump holds (its 2nd bitmap; for ELF, pfns with file data). */
    pages: number;
  };
  /** Bytes handed to the output file (flattened: record payloads replayed). */
  bytesWritten: number;
}

/** Pfn range and stored pages of each split part, from its headers and bitmap (no page data read). */
function describeParts(parts: string[]): ReassembleInputJson[] {
  return parts.map((p) => {
    const r = KdumpReader.open(p);
    try {
      const s = r.kdump.split;
      if (!s) throw new VmcoreError('E_FORMAT', `${p}: not a --split part (sub-header split = 0)`, { path: p });
      const end = Math.min(s.endPfn, r.bitmap2.nbits);
      return { path: p, bytes: fs.statSync(p).size, records: null, startPfn: s.startPfn, endPfn: s.endPfn, pages: s.startPfn < end ? r.bitmap2.count(s.startPfn, end) : 0 };
    } finally {
      r.close();
    }
  });
}

/** Read back what was written: format, codec, pages stored, size. */
function describeOutput(out: string): ReassembleJson['output'] {
  const r = openDump(out);
  try {
    const codec = r instanceof KdumpReader ? (r.kdump.codec ?? 'none') : null;
    return { path: out, format: r.format === 'elf' ? 'elf' : 'kdump', codec, bytes: fs.statSync(out).size, pages: readableBitmap(r).count() };
  } finally {
    r.close();
  }
}

/** Counts the bytes of a stream as they pass. */
function counted(input: AsyncIterable<Buffer>, onBytes: (n: number) => void): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of input) {
        onBytes(chunk.length);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

export function registerReassemble(program: Command, setExit: (c: number) => void): void {
  program
    .command('reassemble')
    .description('rebuild a dump: from a flattened stream (file or "-" for stdin), or from --split parts')
    .argument('<files...>', 'FLAT OUT, - OUT (stdin), or PART1 PART2 ... OUT')
    .option('-f, --force', 'overwrite an existing output')
    .option('--json', 'print what was read and written as one JSON object (schema vmcore-filter/reassemble@1)')
    .action(async (files: string[], o: { force?: boolean; json?: boolean }) => {
      if (files.length < 2) throw new VmcoreError('E_USAGE', 'reassemble needs inputs and an output: reassemble IN... OUT', { option: 'reassemble' });
      const out = files.at(-1)!;
      const ins = files.slice(0, -1);
      checkOutputPath(out, { force: !!o.force });
      let source: ReassembleJson['source'];
      let inputs: ReassembleInputJson[];
      let bytesWritten: number;
      if (ins.length === 1) {
        // Into a temporary beside the output, renamed when complete.
        const ao = AtomicOutput.open(out, { force: !!o.force, inputPath: ins[0] === '-' ? undefined : ins[0] });
        try {
          let stdinBytes = 0;
          const stats =
            ins[0] === '-'
              ? await reassembleFlattenedStream(counted(process.stdin, (n) => (stdinBytes += n)), ao.tempPath)
              : await reassembleFlattened(ins[0]!, ao.tempPath);
          ao.commit();
          const bytes = ins[0] === '-' ? stdinBytes : fs.statSync(ins[0]!).size;
          source = 'flattened';
          inputs = [{ path: ins[0]!, bytes, records: stats.records, startPfn: null, endPfn: null, pages: null }];
          bytesWritten = stats.bytes;
        } catch (e) {
          ao.abort();
          throw e;
        }
      } else {
        // Parts are described before the join so a bad part is named before anything is written.
        inputs = o.json ? describeParts(ins) : [];
        const stats = await reassembleSplit(ins, out, { force: !!o.force });
        source = 'split';
        bytesWritten = stats.bytesWritten;
      }
      if (o.json) {
        const json: ReassembleJson = { schema: 'vmcore-filter/reassemble@1', source, inputs, output: describeOutput(out), bytesWritten };
        process.stdout.write(JSON.stringify(json) + '\n');
      } else process.stdout.write(`The dumpfile is saved to ${out}.\n`);
      setExit(EXIT.OK);
    });
}
