import type { Command } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { REPORTED_BIT_HELP, parseDumpLevels, parseIntOption, parseReportedBit } from './args.js';
import { colours, renderFilterReport, truncationLine } from './render.js';
import { filterDump, type FilterOptions } from '../writer/pipeline.js';
import { progressBar } from './progress.js';
import { isNoVmcoreinfoWarning, noVmcoreinfoMessage } from '../vmcoreinfo/missing.js';

interface FilterCliOpts {
  d: string;
  c?: boolean;
  l?: boolean;
  p?: boolean;
  z?: boolean;
  E?: boolean;
  F?: boolean;
  force?: boolean;
  json?: boolean;
  reportedBit?: string;
  messageLevel?: string;
  keepIncomplete?: boolean;
  split?: boolean;
  numThreads?: string;
  cyclicBuffer?: string;
}

export function registerFilter(program: Command, setExit: (c: number) => void): void {
  program
    .command('filter', { isDefault: true })
    .description('filter a vmcore: vmcore-filter [options] <input> <output>')
    .argument('<input>', 'vmcore (ELF, or kdump-compressed to refilter)')
    .argument('<output...>', 'dump file to write ("-" with -F writes to stdout); with --split, two or more')
    .option('-d <level>', 'dump level 0..31 (1 zero, 2 cache, 4 cache+private, 8 user, 16 free); N,M retries at M on a full disk', '16')
    .option('-c', 'compress pages with zlib')
    .option('-l', 'compress pages with lzo')
    .option('-p', 'compress pages with snappy')
    .option('-z', 'compress pages with zstd')
    .option('-E', 'write ELF instead of kdump-compressed')
    .option('-F', 'write makedumpfile flattened format to stdout')
    .option('-f, --force', 'overwrite an existing output')
    .option('--split', 'write the dump as several kdump-compressed files, one per output, by pfn range')
    .option('--num-threads <n>', 'threads compressing pages, this one and n-1 workers (default: the number of cores; 1 = no workers)')
    .option('--cyclic-buffer <KiB>', 'classify and write in pfn windows of KiB x 8192 pfns (makedumpfile\'s option; bounds memory; default 4096)')
    .option('--keep-incomplete', 'on a full disk, keep what was written as a dump marked incomplete (still exit 7)')
    .option('--json', 'print the report as one JSON object (schema vmcore-filter/report@1)')
    .option('--reported-bit <n>', REPORTED_BIT_HELP)
    .option('--message-level <n>', 'accepted for makedumpfile compatibility; ignored')
    .action(async (input: string, outputs: string[], o: FilterCliOpts) => {
      if (!o.split && outputs.length !== 1) {
        throw new VmcoreError('E_USAGE', `give one output (or --split with several), got ${outputs.length}`, { option: '--split' });
      }
      if (o.split && outputs.length < 2) throw new VmcoreError('E_USAGE', `--split needs two or more outputs`, { option: '--split' });
      const output = outputs[0]!;
      const codecs = [o.c && 'zlib', o.l && 'lzo', o.p && 'snappy', o.z && 'zstd'].filter(Boolean) as FilterOptions['codec'][];
      if (codecs.length > 1) throw new VmcoreError('E_USAGE', `choose one of -c, -l, -p, -z`, { option: '-c' });
      if (o.E && codecs.length) throw new VmcoreError('E_USAGE', `-E (ELF output) cannot be compressed`, { option: '-E' });
      if (o.F && output !== '-') throw new VmcoreError('E_USAGE', `-F writes to stdout: give "-" as the output`, { option: '-F' });
      const opts: FilterOptions = {
        dumpLevels: parseDumpLevels(o.d),
        format: o.E ? 'elf' : 'kdump',
        codec: codecs[0],
        force: !!o.force,
        keepIncomplete: !!o.keepIncomplete,
        flattened: !!o.F,
        splitOutputs: o.split ? outputs : undefined,
        numThreads: o.numThreads === undefined ? undefined : parseIntOption(o.numThreads, '--num-threads', 1, 256),
        cyclicBufferKiB: o.cyclicBuffer === undefined ? undefined : parseIntOption(o.cyclicBuffer, '--cyclic-buffer', 1, 2 ** 31),
        reportedBit: parseReportedBit(o.reportedBit),
        vmcoreinfoOverride: (o as { vmcoreinfoText?: string }).vmcoreinfoText, // from main's --vmcoreinfo hook
      };
      const bar = await progressBar(process.stderr, !o.json && !o.F);
      let report;
      try {
        report = await filterDump(input, output, { ...opts, onProgress: bar.onProgress });
      } finally {
        bar.stop();
      }
      const out = o.F ? process.stderr : process.stdout;
      if (o.json) out.write(JSON.stringify(report) + '\n');
      else out.write(renderFilterReport(report, colours(!!out.isTTY && !process.env.NO_COLOR)));
      if (report.warnings.some(isNoVmcoreinfoWarning)) {
        // The dump is written (every page kept, zero pages aside) and the run still fails: the
        // output was not filtered, and the caller should know before it relies on it.
        const zero = report.excluded.zero ? `, except ${report.excluded.zero} zero-filled pages (found by content)` : '';
        process.stderr.write(`vmcore-filter: error: ${input}: ${noVmcoreinfoMessage(`${o.F ? 'the stream' : output} was written with every page kept${zero}`)}\n`);
        setExit(EXIT.VMCOREINFO);
        return;
      }
      if (report.undecided.no_translation) {
        // Exports that do not allow translating kernel addresses (missing, or inconsistent as
        // VA_BITS against TCR_EL1_T1SZ): written unfiltered, and the run fails like the above.
        const why = report.warnings.find((w) => w.endsWith(': every page is kept')) ?? 'kernel addresses cannot be translated';
        process.stderr.write(`vmcore-filter: error: ${input}: ${why.replace(/: every page is kept$/, '')}; ${o.F ? 'the stream' : output} was written with every page kept\n`);
        setExit(EXIT.VMCOREINFO);
        return;
      }
      const partial = truncationLine(input, o.F ? 'the stream' : output, report.warnings);
      if (partial) process.stderr.write(partial);
      setExit(partial ? EXIT.PARTIAL : EXIT.OK);
    });
}
