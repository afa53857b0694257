/**
 * The command-line program: a thin shell over the library. Only this folder touches
 * process, colours, progress bars and exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { removeAllTemporaries } from '../writer/atomic.js';
import { registerFilter } from './filter-command.js';
import { registerSim, registerDemo } from './sim-command.js';

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

let signalsInstalled = false;
function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  const onSignal = (code: number) => () => {
    removeAllTemporaries();
    process.stderr.write(`vmcore-filter: interrupted; temporary output removed\n`);
    process.exit(code);
  };
  process.on('SIGINT', onSignal(EXIT.SIGINT));
  process.on('SIGTERM', onSignal(EXIT.SIGTERM));
  process.on('SIGHUP', onSignal(129));
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
  return program;
}

/** Run the program; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  installSignalHandlers();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    return reportError(e);
  }
}

export { Option };
