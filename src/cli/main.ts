/**
 * The command-line program: a thin shell over the library. Only this folder touches
 * process, colours, progress bars and exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { onTemporariesChange, removeAllTemporaries } from '../writer/atomic.js';
import { registerFilter } from './filter-command.js';
import { registerSim, registerDemo } from './sim-command.js';
import { registerInfo } from './info-command.js';
import { registerStats } from './stats-command.js';
import { registerMakedumpfile, runMakedumpfile } from './makedumpfile-command.js';
import { readVmcoreinfoFile } from '../triage/vmcoreinfo-file.js';
import { registerDmesg } from './dmesg-command.js';
import { registerMap } from './map-command.js';

import { registerReassemble } from './reassemble-command.js';

/** Commands that read a dump: each takes `--vmcoreinfo FILE` (added and loaded by {@link buildProgram}). */
const READS_DUMP = new Set(['filter', 'info', 'stats', 'dmesg', 'map']);

/** Write one error line; never a stack trace unless VMCORE_FILTER_DEBUG is set. */
export function reportError(e: unknown): number {
  if (e instanceof VmcoreError) {
    process.stderr.write(`vmcore-filter: error: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) {
    return e.exitCode === 0 ? 0 : EXIT.USAGE;
  }
  const err = e as Error;
  process.stderr.write(`vmcore-filter: internal error: ${err?.message ?? String(e)}\n`);
  if (process.env.VMCORE_FILTER_DEBUG) process.stderr.write(`${err?.stack}\n`);
  return EXIT.INTERNAL;
}

/**
 * SIGINT / SIGTERM / SIGHUP remove the temporary output and exit 130 / 143 / 129. The handlers
 * are installed only while a temporary exists: before that there is nothing to clean up and
 * the default action ends the process at once, even inside a long synchronous loop
 * (classification), which a JavaScript handler could not interrupt. The writers yield to the
 * event loop between batches, so while writing the handler runs promptly.
 */
let signalsInstalled = false;
const handlers: [NodeJS.Signals, () => void][] = [];
function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  const onSignal = (code: number) => () => {
    removeAllTemporaries();
    process.stderr.write(`vmcore-filter: interrupted; temporary output removed\n`);
    process.exit(code);
  };
  handlers.push(['SIGINT', onSignal(EXIT.SIGINT)], ['SIGTERM', onSignal(EXIT.SIGTERM)], ['SIGHUP', onSignal(129)]);
  // A file-size limit (ulimit -f) must give EFBIG, reported like a full disk, not kill us.
  process.on('SIGXFSZ', () => {});
  onTemporariesChange((count) => {
    for (const [sig, h] of handlers) {
      process.removeListener(sig, h);
      if (count > 0) process.on(sig, h);
    }
  });
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('vmcore-filter')
    .description('Filter Linux crash dumps: drop free, hinted and offline pages; makedumpfile-compatible output.')
    .version('0.1.0', '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `vmcore-filter: ${s}` : s),
    });
  registerFilter(program, setExit);
  registerSim(program, setExit);
  registerDemo(program, setExit);
  registerReassemble(program, setExit);
  registerInfo(program, setExit);
  registerStats(program, setExit);
  registerMakedumpfile(program, setExit);
  registerDmesg(program, setExit);
  registerMap(program, setExit);
  // --vmcoreinfo FILE on every command that reads a dump: read and checked before the action
  // runs (a bad file is one line naming the line), handed to it as the option `vmcoreinfoText`.
  for (const c of program.commands) {
    if (READS_DUMP.has(c.name())) c.option('--vmcoreinfo <file>', "supply or replace the dump's VMCOREINFO (text, as makedumpfile -g writes)");
  }
  program.hook('preAction', (_root, action) => {
    const f = action.getOptionValue('vmcoreinfo');
    if (typeof f === 'string') action.setOptionValue('vmcoreinfoText', readVmcoreinfoFile(f));
  });
  return program;
}

/** Run the program; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  installSignalHandlers();
  // A reader that went away (`vmcore-filter dmesg DUMP | head`) is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  let code = 0;
  // makedumpfile's command line is parsed by its own getopt_long, not by commander.
  if (argv[2] === 'makedumpfile') {
    try {
      return await runMakedumpfile(argv.slice(3));
    } catch (e) {
      return reportError(e);
    }
  }
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    return reportError(e);
  }
}

export { Option };
