import type { Command } from 'commander';
import { VmcoreError } from '../errors.js';
import { reassembleFlattened, reassembleFlattenedStream } from '../formats/flattened/reader.js';
import { reassembleSplit } from '../writer/split.js';
import { AtomicOutput, checkOutputPath } from '../writer/atomic.js';

/** `vmcore-filter reassemble`: makedumpfile's -R (flattened → file) and --reassemble (split parts → one file). */
export function registerReassemble(program: Command, setExit: (c: number) => void): void {
  program
    .command('reassemble')
    .description('rebuild a dump: from a flattened stream (file or "-" for stdin), or from --split parts')
    .argument('<files...>', 'FLAT OUT, - OUT (stdin), or PART1 PART2 ... OUT')
    .option('-f, --force', 'overwrite an existing output')
    .action(async (files: string[], o: { force?: boolean }) => {
      if (files.length < 2) throw new VmcoreError('E_USAGE', 'reassemble needs inputs and an output: reassemble IN... OUT', { option: 'reassemble' });
      const out = files.at(-1)!;
      const ins = files.slice(0, -1);
      checkOutputPath(out, { force: !!o.force });
      if (ins.length === 1) {
        // Into a temporary beside the output, renamed when complete.
        const ao = AtomicOutput.open(out, { force: !!o.force, inputPath: ins[0] === '-' ? undefined : ins[0] });
        try {
          if (ins[0] === '-') await reassembleFlattenedStream(process.stdin, ao.tempPath);
          else await reassembleFlattened(ins[0]!, ao.tempPath);
          ao.commit();
        } catch (e) {
          ao.abort();
          throw e;
        }
      } else {
        await reassembleSplit(ins, out, { force: !!o.force });
      }
      process.stdout.write(`The dumpfile is saved to ${out}.\n`);
      setExit(0);
    });
}
