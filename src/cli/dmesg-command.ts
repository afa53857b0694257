/**
 * `vmcore-filter dmesg DUMP [--json]`: the kernel log of a dump (src/dmesg). Text goes to
 * stdout as makedumpfile --dump-dmesg prints it; one summary line (records, overwritten,
 * skipped) goes to stderr so the log itself pipes cleanly.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { openDump } from '../formats/probe.js';
import { formatKernelLog, kernelLogJson, readKernelLog, summariseKernelLog } from '../dmesg/index.js';

interface DmesgCliOpts {
  json?: boolean;
  /** Set by main's --vmcoreinfo hook. */
  vmcoreinfoText?: string;
}

export function registerDmesg(program: Command, setExit: (c: number) => void): void {
  program
    .command('dmesg')
    .description('print the kernel log (printk ring buffer or log_buf) of a dump')
    .argument('<dump>', 'vmcore (ELF, kdump-compressed or flattened)')
    .option('--json', 'print the log as one JSON object (schema vmcore-filter/dmesg@1)')
    .action((dump: string, o: DmesgCliOpts) => {
      const reader = openDump(dump, { vmcoreinfo: o.vmcoreinfoText });
      try {
        const log = readKernelLog(reader);
        if (o.json) {
          const json = kernelLogJson(log, { path: dump, format: reader.format, osrelease: reader.info.utsname.release || null });
          process.stdout.write(JSON.stringify(json) + '\n');
        } else {
          process.stdout.write(formatKernelLog(log));
          process.stderr.write(`vmcore-filter: dmesg: ${path.basename(dump)}: ${summariseKernelLog(log)}\n`);
          for (const w of log.warnings) process.stderr.write(`vmcore-filter: warning: ${w}\n`);
        }
      } finally {
        reader.close();
      }
      setExit(EXIT.OK);
    });
}
