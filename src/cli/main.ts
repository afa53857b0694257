/**
 * The command-line program: a thin shell over the library. Only this folder touches
 * process, colours, progress bars and exit codes.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { closest, commanderMessage, reportError } from './report-error.js';
import { VERSION, versionText } from './version.js';
import { addHelpEpilogues } from './help.js';
import { onTemporariesChange, removeAllTemporaries } from '../writer/atomic.js';
import { readVmcoreinfoFile } from '../triage/vmcoreinfo-file.js';

type Register = (program: Command, setExit: (code: number) => void) => void;

/**
 * Each command's module, loaded only when that command runs: start-up time is part of every
 * dump's downtime, and a filter run need not parse the simulator, the map renderer or the
 * makedumpfile drop-in. Order here is the order of `--help`.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  filter: async () => (await import('./filter-command.js')).registerFilter,
  sim: async () => (await import('./sim-command.js')).registerSim,
  demo: async () => (await import('./sim-command.js')).registerDemo,
  reassemble: async () => (await import('./reassemble-command.js')).registerReassemble,
  info: async () => (await import('./info-command.js')).registerInfo,
  stats: async () => (await import('./stats-command.js')).registerStats,
  makedumpfile: async () => (await import('./makedumpfile-command.js')).registerMakedumpfile,
  dmesg: async () => (await import('./dmesg-command.js')).registerDmesg,
  map: async () => (await import('./map-command.js')).registerMap,
};

/**
 * The commands `argv` can need: the one it names; `filter` (the default command) when it
 * names none; all of them for top-level help; none for the version.
 */
export function commandsFor(argv: string[]): string[] {
  const first = argv[2];
  if (first !== undefined && Object.hasOwn(COMMANDS, first)) return [first];
  if (first === '-v' || first === '--version') return [];
  if (first === undefined || ['help', '-h', '--help'].includes(first)) return Object.keys(COMMANDS);
  // A path or an option (`vmcore-filter -d 31 in out`): the default command's.
  return ['filter'];
}

/** Commands that read a dump: each takes `--vmcoreinfo FILE` (added and loaded by {@link buildProgram}). */
const READS_DUMP = new Set(['filter', 'info', 'stats', 'dmesg', 'map']);

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

export async function buildProgram(setExit: (code: number) => void, commands: string[] = Object.keys(COMMANDS)): Promise<Command> {
  const program = new Command();
  program
    .name('vmcore-filter')
    .description('Filter Linux crash dumps: drop free, hinted and offline pages; makedumpfile-compatible output.')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(commanderMessage(s)) });
  const registers = await Promise.all(commands.map((c) => COMMANDS[c]!()));
  for (const register of registers) register(program, setExit);
  // --vmcoreinfo FILE on every command that reads a dump: read and checked before the action
  // runs (a bad file is one line naming the line), handed to it as the option `vmcoreinfoText`.
  for (const c of program.commands) {
    if (READS_DUMP.has(c.name())) c.option('--vmcoreinfo <file>', "supply or replace the dump's VMCOREINFO (text, as makedumpfile -g writes)");
  }
  addHelpEpilogues(program);
  program.hook('preAction', (_root, action) => {
    const f = action.getOptionValue('vmcoreinfo');
    if (typeof f === 'string') action.setOptionValue('vmcoreinfoText', readVmcoreinfoFile(f));
  });
  return program;
}

/**
 * The name the program was invoked by: argv[1]'s basename. The node launcher gets its script path
 * there as given (resolved to absolute, a symlink not followed); the single executable, the
 * invoked name (its argv[0]).
 */
export function invokedName(argv: readonly string[]): string {
  return path.basename(argv[1] ?? '');
}

/**
 * Run the program; resolves to the exit code. Invoked as `makedumpfile` (a link of that name),
 * it is `vmcore-filter makedumpfile …`: kdump scripts that run makedumpfile get the drop-in.
 */
export async function main(argv: string[], name: string = invokedName(argv)): Promise<number> {
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
  if (name === 'makedumpfile' || argv[2] === 'makedumpfile') {
    try {
      const { runMakedumpfile } = await import('./makedumpfile-command.js');
      return await runMakedumpfile(argv.slice(name === 'makedumpfile' ? 2 : 3));
    } catch (e) {
      return reportError(e);
    }
  }
  try {
    if (argv[2] === '-v' || argv[2] === '--version') {
      process.stdout.write(versionText());
      return 0;
    }
    if (argv.length <= 2) throw new VmcoreError('E_USAGE', 'no input given: vmcore-filter [options] <input> <output> (vmcore-filter --help lists the commands)');
    checkCommandWord(argv[2]);
    if (argv[2] === 'help' && argv[3] !== undefined && !Object.hasOwn(COMMANDS, argv[3])) checkCommandWord(argv[3], true);
    const program = await buildProgram((c) => (code = c), commandsFor(argv));
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * A first word that is neither a command, an option nor an existing file is a mistyped command
 * (`vmcore-filter infoo s.img`), not the filter's input: say so, with the closest command, before
 * the filter takes `s.img` for its output. Only bare words are taken for commands: a path
 * (`./x`, `/var/crash/vmcore`, `vmcore.1`) is still the filter's input, and a missing one is
 * reported as such. After `help`, any word that is not a command is refused (`mustBeCommand`).
 */
export function checkCommandWord(word: string | undefined, mustBeCommand = false): void {
  if (word === undefined || Object.hasOwn(COMMANDS, word) || word === 'help') return;
  if (!mustBeCommand && (!/^[a-z][a-z0-9_-]*$/.test(word) || fs.existsSync(word))) return;
  const near = closest(word, [...Object.keys(COMMANDS), 'help']);
  throw new VmcoreError('E_USAGE', `unknown command '${word}' ${near ? `(did you mean ${near}?)` : `(nor a file of that name; commands: ${Object.keys(COMMANDS).join(', ')})`}`, {
    option: word,
  });
}

export { Option, reportError };
