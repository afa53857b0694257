/**
 * `vmcore-filter makedumpfile [makedumpfile's arguments]`: a drop-in for the makedumpfile command
 * line that kdump-tools and kdump.conf use (`makedumpfile -l --message-level 7 -d 31 /proc/vmcore
 * /var/crash/dump`). The line is parsed as makedumpfile parses it — glibc getopt_long with
 * makedumpfile 1.7's option string `b:cDd:eEFfg:hi:lL:pRvXx:z` and long options — then mapped
 * onto the same {@link filterDump} job `vmcore-filter` runs, so the dump is byte-identical to the
 * equivalent `vmcore-filter` invocation. makedumpfile's closing lines and its statistics report
 * (FORMATS.md §7.3, §7.4) are printed at the message levels that ask for them, so scripts that
 * grep makedumpfile's output keep working. Options that would change the result in ways we do not
 * implement are refused with one line and exit 2, never silently ignored.
 */
import type { Command } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';
import { reportError } from './report-error.js';
import { makedumpfileProgress } from './progress.js';
import { truncationLine } from './render.js';
import { parseDumpLevels } from './args.js';
import { filterDump, type FilterOptions } from '../writer/pipeline.js';
import type { FilterReport } from '../writer/report.js';
import type { CodecName } from '../compress/codec.js';
import { readVmcoreinfoFile } from '../triage/vmcoreinfo-file.js';
import { reassembleFlattenedStream } from '../formats/flattened/reader.js';
import { reassembleSplit } from '../writer/split.js';
import { AtomicOutput, checkOutputPath } from '../writer/atomic.js';
import { openDump } from '../formats/probe.js';
import { formatKernelLog, readKernelLog } from '../dmesg/index.js';

// ---------------------------------------------------------------------------------------------
// getopt_long, as glibc implements it (the parts makedumpfile's command line can reach).

/** A long option: its name and whether it takes an argument. */
export interface LongOption {
  name: string;
  hasArg: boolean;
}

/** One option as found on the command line. */
export interface ParsedOption {
  /** The short letter ("d") or the full long name ("message-level"). */
  name: string;
  /** How it was written ("-d", "--message-level"), for messages. */
  spelled: string;
  value?: string;
}

/** getopt_long's result: options in order, then the operands (non-options) in order. */
export interface GetoptResult {
  options: ParsedOption[];
  operands: string[];
}

/** A command line getopt_long rejects; the message is glibc's wording. */
export class GetoptError extends Error {}

/** makedumpfile 1.7's short options (`makedumpfile.c`: getopt_long(argc, argv, "b:cDd:eEFfg:hi:lL:pRvXx:z", ...)). */
export const MAKEDUMPFILE_SHORT = 'b:cDd:eEFfg:hi:lL:pRvXx:z';

/** makedumpfile 1.7's long options (struct option longopts[]), in its order. */
export const MAKEDUMPFILE_LONG: readonly LongOption[] = [
  { name: 'split', hasArg: false },
  { name: 'reassemble', hasArg: false },
  { name: 'xen-syms', hasArg: true },
  { name: 'xen-vmcoreinfo', hasArg: true },
  { name: 'xen_phys_start', hasArg: true },
  { name: 'message-level', hasArg: true },
  { name: 'vtop', hasArg: true },
  { name: 'dump-dmesg', hasArg: false },
  { name: 'partial-dmesg', hasArg: false },
  { name: 'config', hasArg: true },
  { name: 'help', hasArg: false },
  { name: 'diskset', hasArg: true },
  { name: 'cyclic-buffer', hasArg: true },
  { name: 'eppic', hasArg: true },
  { name: 'non-mmap', hasArg: false },
  { name: 'mem-usage', hasArg: false },
  { name: 'splitblock-size', hasArg: true },
  { name: 'work-dir', hasArg: true },
  { name: 'num-threads', hasArg: true },
  { name: 'check-params', hasArg: false },
  { name: 'dry-run', hasArg: false },
  { name: 'show-stats', hasArg: false },
];

/**
 * Parse `argv` (without the program name) like glibc's getopt_long:
 * - short options cluster (`-cd31` = `-c -d 31`); an option taking an argument takes the rest
 *   of its cluster or, if that is empty, the next word, whatever it looks like (`-d -1`);
 * - long options take `--name=value` or `--name value`, and may be abbreviated to any unique
 *   prefix (`--message 7`); an exact name wins over prefixes;
 * - operands may come anywhere (argv is permuted), unless `posixlyCorrect` (POSIXLY_CORRECT set),
 *   where the first operand ends the options; `--` ends them always; a lone `-` is an operand.
 */
export function getoptLong(argv: readonly string[], shortopts: string, longopts: readonly LongOption[], posixlyCorrect = false): GetoptResult {
  const takesArg = new Map<string, boolean>();
  for (let i = 0; i < shortopts.length; i++) {
    const c = shortopts[i]!;
    if (c === ':') continue;
    takesArg.set(c, shortopts[i + 1] === ':');
  }
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i++]!;
    if (a === '--') {
      operands.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--')) {
      const [option, took] = longOption(a, argv[i], longopts);
      options.push(option);
      i += took;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k]!;
        const t = takesArg.get(c);
        if (t === undefined) throw new GetoptError(`invalid option -- '${c}'`);
        if (!t) {
          options.push({ name: c, spelled: `-${c}` });
          continue;
        }
        let value: string;
        if (k + 1 < a.length) value = a.slice(k + 1);
        else if (i < argv.length) value = argv[i++]!;
        else throw new GetoptError(`option requires an argument -- '${c}'`);
        options.push({ name: c, spelled: `-${c}`, value });
        break;
      }
      continue;
    }
    operands.push(a);
    if (posixlyCorrect) {
      operands.push(...argv.slice(i));
      break;
    }
  }
  return { options, operands };
}

/**
 * The long option `a` (`--name` or `--name=value`, name possibly a unique prefix) and how many
 * words after it it takes as its argument (0, or 1: `next`).
 */
function longOption(a: string, next: string | undefined, longopts: readonly LongOption[]): [ParsedOption, number] {
  const eq = a.indexOf('=');
  const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
  let opt = longopts.find((o) => o.name === name);
  if (!opt) {
    const cands = longopts.filter((o) => o.name.startsWith(name));
    if (cands.length === 0) throw new GetoptError(`unrecognized option '--${name}'`);
    // glibc accepts an ambiguous prefix when every candidate is the same option; ours are distinct.
    if (cands.length > 1) throw new GetoptError(`option '--${name}' is ambiguous; possibilities: ${cands.map((c) => `'--${c.name}'`).join(' ')}`);
    opt = cands[0]!;
  }
  const spelled = `--${opt.name}`;
  if (!opt.hasArg) {
    if (eq >= 0) throw new GetoptError(`option '${spelled}' doesn't allow an argument`);
    return [{ name: opt.name, spelled }, 0];
  }
  if (eq >= 0) return [{ name: opt.name, spelled, value: a.slice(eq + 1) }, 0];
  if (next !== undefined) return [{ name: opt.name, spelled, value: next }, 1];
  throw new GetoptError(`option '${spelled}' requires an argument`);
}

// ---------------------------------------------------------------------------------------------
// From makedumpfile's options to a vmcore-filter job.

/** What a makedumpfile command line asks for, in vmcore-filter's terms. */
export type MakedumpfilePlan =
  | { kind: 'help' }
  | { kind: 'version' }
  /** `--reassemble PART... OUT`: join split parts (vmcore-filter reassemble PART... OUT). */
  | { kind: 'reassemble'; parts: string[]; output: string; force: boolean; messageLevel: number; checkOnly: boolean; equivalent: string[] }
  /**
   * `--dump-dmesg VMCORE LOGFILE`: the kernel log, as `vmcore-filter dmesg VMCORE` prints it, written
   * to LOGFILE (to stdout with -F, LOGFILE "-"). -d and the codec options are accepted and have no
   * effect, as in makedumpfile.
   */
  | { kind: 'dmesg'; input: string; output: string; flattened: boolean; force: boolean; messageLevel: number; vmcoreinfoFile?: string; checkOnly: boolean; equivalent: string[] }
  /** `-R OUT`: rebuild a flattened stream read from stdin (vmcore-filter reassemble - OUT); with --dry-run, read it and write nothing. */
  | { kind: 'rearrange'; output: string; force: boolean; messageLevel: number; checkOnly: boolean; dryRun: boolean; equivalent: string[] }
  | {
      kind: 'filter';
      input: string;
      /** "-" with -F (flattened to stdout). */
      output: string;
      /** `--split`: the dump files, one per part. */
      splitOutputs?: string[];
      dumpLevels: number[];
      codec?: CodecName;
      elf: boolean;
      flattened: boolean;
      force: boolean;
      /** makedumpfile's message level (default 7; --show-stats adds 16, -D adds 8). */
      messageLevel: number;
      /** -i FILE. */
      vmcoreinfoFile?: string;
      /** --check-params: validate only. */
      checkOnly: boolean;
      /** `--num-threads N`: compression threads (0, makedumpfile's "none", is 1); the dump is the same for any N. */
      numThreads?: number;
      cyclicBufferKiB?: number;
      /** `--dry-run`: the whole job and its messages, no file written. */
      dryRun: boolean;
      /** `-L SIZE`: bytes the dump file may not exceed; reaching it leaves an incomplete dump (as a full disk does). */
      sizeLimit?: number;
      /** Options accepted without effect (performance tuning that does not change the dump). */
      ignored: string[];
      /** The equivalent vmcore-filter command line. */
      equivalent: string[];
    };

type FilterPlan = Extract<MakedumpfilePlan, { kind: 'filter' }>;

/** Options that change what makedumpfile does in ways vmcore-filter does not implement. */
const UNSUPPORTED = new Set(['x', 'g', 'X', 'e', 'config', 'eppic', 'vtop', 'diskset', 'xen-syms', 'xen-vmcoreinfo', 'xen_phys_start', 'mem-usage']);
/** Options whose vmcore-filter counterpart is not there yet (other parts of the tool). */
const NOT_YET = new Set(['partial-dmesg']);
/** Tuning options that do not change the dump: accepted and ignored. */
const IGNORED = new Set(['b', 'work-dir', 'non-mmap', 'splitblock-size']);

const CODEC_OF: Record<string, CodecName> = { c: 'zlib', l: 'lzo', p: 'snappy', z: 'zstd' };

function usage(msg: string): VmcoreError {
  return new VmcoreError('E_USAGE', `makedumpfile: ${msg}`, { option: 'makedumpfile' });
}

function unsupported(o: ParsedOption, yet: string): VmcoreError {
  return new VmcoreError('E_USAGE', `makedumpfile option ${o.spelled} is not supported by vmcore-filter${yet}`, { option: o.spelled });
}

function intArg(o: ParsedOption, min: number, max: number): number {
  const v = o.value ?? '';
  if (!/^\d+$/.test(v.trim())) throw usage(`${o.spelled}: "${v}" is not a number`);
  const n = Number(v);
  if (n < min || n > max) throw usage(`${o.spelled}: ${n} is out of range ${min}..${max}`);
  return n;
}

/**
 * makedumpfile's `memparse` (tools.c), which reads `-L SIZE`: `strtoull(s, &end, 0)` (decimal,
 * 0x hex, 0 octal), then at most one of K M G T P E (either case, powers of 1024). Returns null
 * where makedumpfile says "Limit size(…) is invalid": trailing characters, or 0. A sign, which
 * strtoull would accept (and wrap), is refused here too.
 */
export function parseMemparse(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)$/.exec(s);
  if (!m) return null;
  const digits = m[1]!;
  let v = BigInt(/^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits);
  v <<= BigInt(10 * ' kmgtpe'.indexOf(m[2]!.toLowerCase() || ' '));
  v = BigInt.asUintN(64, v); // strtoull and the shifts are modulo 2^64
  if (v === 0n) return null;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/**
 * Turn makedumpfile's arguments into a plan, checking them as makedumpfile's
 * check_param_for_creating_dumpfile does (operand count, -E with a codec, --num-threads with -E).
 * Throws E_USAGE with one line for invalid and unsupported command lines.
 */
export function planMakedumpfile(argv: readonly string[], env: { POSIXLY_CORRECT?: string } = {}): MakedumpfilePlan {
  let parsed: GetoptResult;
  try {
    parsed = getoptLong(argv, MAKEDUMPFILE_SHORT, MAKEDUMPFILE_LONG, env.POSIXLY_CORRECT !== undefined);
  } catch (e) {
    if (e instanceof GetoptError) throw usage(`${e.message}; Commandline parameter is invalid`);
    throw e;
  }
  for (const o of parsed.options) {
    if (o.name === 'h' || o.name === 'help') return { kind: 'help' };
    if (o.name === 'v') return { kind: 'version' };
  }
  const f = flagsOf(parsed.options);
  const ops = parsed.operands;
  checkCombinations(f);
  if (f.dmesg) return dmesgPlan(f, ops);
  if (f.reassemble) {
    if (ops.length < 2) throw badCount(ops, 'DUMPFILE1 [DUMPFILE2 ..] DUMPFILE');
    const parts = ops.slice(0, -1);
    const output = ops.at(-1)!;
    return { kind: 'reassemble', parts, output, force: f.force, messageLevel: f.messageLevel, checkOnly: f.checkOnly, equivalent: reassembleEquivalent(f, parts, output) };
  }
  if (f.rearrange) {
    if (ops.length !== 1) throw badCount(ops, 'DUMPFILE (-R reads the flattened stream from stdin)');
    const { force, messageLevel, checkOnly, dryRun } = f;
    return { kind: 'rearrange', output: ops[0]!, force, messageLevel, checkOnly, dryRun, equivalent: reassembleEquivalent(f, ['-'], ops[0]!) };
  }
  return filterPlan(f, ops);
}

/** What makedumpfile's options set, as its option loop leaves them: the filter plan's options, and more. */
interface MakedumpfileFlags
  extends Pick<FilterPlan, 'dumpLevels' | 'codec' | 'elf' | 'flattened' | 'force' | 'messageLevel' | 'vmcoreinfoFile' | 'checkOnly' | 'numThreads' | 'dryRun' | 'sizeLimit' | 'cyclicBufferKiB' | 'ignored'> {
  /** Bits -D and --show-stats add to the message level, whatever --message-level says. */
  extraLevel: number;
  /** --num-threads was given (0 included). */
  threads: boolean;
  split: boolean;
  reassemble: boolean;
  rearrange: boolean;
  dmesg: boolean;
}

type OptionSetter = (f: MakedumpfileFlags, o: ParsedOption) => void;

// The last codec option wins, as in makedumpfile.
const setCodec: OptionSetter = (f, o) => {
  f.codec = CODEC_OF[o.name];
};

/** What each supported option does; a repeated option's last value wins, as in makedumpfile. */
const SETTERS: Record<string, OptionSetter> = {
  d: (f, o) => { f.dumpLevels = parseDumpLevels(o.value!); },
  c: setCodec,
  l: setCodec,
  p: setCodec,
  z: setCodec,
  E: (f) => { f.elf = true; },
  F: (f) => { f.flattened = true; },
  f: (f) => { f.force = true; },
  D: (f) => { f.extraLevel |= 8; },
  'show-stats': (f) => { f.extraLevel |= 16; },
  'message-level': (f, o) => { f.messageLevel = intArg(o, 0, 31); },
  i: (f, o) => { f.vmcoreinfoFile = o.value!; },
  'check-params': (f) => { f.checkOnly = true; },
  split: (f) => { f.split = true; },
  reassemble: (f) => { f.reassemble = true; },
  R: (f) => { f.rearrange = true; },
  'dump-dmesg': (f) => { f.dmesg = true; },
  'dry-run': (f) => { f.dryRun = true; },
  L: (f, o) => {
    // Checked while parsing, as makedumpfile does (so --check-params reports it too).
    const v = parseMemparse(o.value!);
    if (v === null) throw usage(`-L: Limit size(${o.value}) is invalid`);
    f.sizeLimit = v;
  },
  // KiB of bitmap per cycle, as makedumpfile: windows of KiB x 8192 pfns.
  'cyclic-buffer': (f, o) => { f.cyclicBufferKiB = Math.max(1, intArg(o, 0, 2 ** 31)); },
  'num-threads': (f, o) => {
    f.numThreads = Math.max(1, intArg(o, 0, 256));
    f.threads = true;
  },
};

function flagsOf(options: readonly ParsedOption[]): MakedumpfileFlags {
  const f: MakedumpfileFlags = {
    dumpLevels: [0], // makedumpfile's default dump level is 0 when -d is not given
    elf: false,
    flattened: false,
    force: false,
    messageLevel: 7,
    extraLevel: 0,
    checkOnly: false,
    threads: false,
    split: false,
    reassemble: false,
    rearrange: false,
    dmesg: false,
    dryRun: false,
    ignored: [],
  };
  for (const o of options) {
    if (UNSUPPORTED.has(o.name)) throw unsupported(o, '');
    if (NOT_YET.has(o.name)) throw unsupported(o, ' yet');
    if (Object.hasOwn(SETTERS, o.name)) SETTERS[o.name]!(f, o);
    else if (IGNORED.has(o.name)) f.ignored.push(o.value === undefined ? o.spelled : `${o.spelled} ${o.value}`);
    else throw new VmcoreError('E_INTERNAL', `makedumpfile option ${o.spelled} has no mapping`);
  }
  f.messageLevel |= f.extraLevel;
  return f;
}

/** makedumpfile's refusals that hold whatever the operands (check_param_for_reassembling_dumpfile / _creating_dumpfile), and ours for -L. */
function checkCombinations(f: MakedumpfileFlags): void {
  if (f.elf && f.codec) throw usage(`-E (ELF output) cannot be compressed (-${codecLetter(f.codec)}); Commandline parameter is invalid`);
  if (f.elf && f.threads) throw usage('--num-threads cannot used with ELF format; Commandline parameter is invalid');
  if (f.dryRun && f.reassemble) throw usage('--dry-run cannot be used with --reassemble; Commandline parameter is invalid');
  if (f.dryRun && f.dmesg) throw usage('--dry-run cannot be used with --dump-dmesg; Commandline parameter is invalid');
  if (f.sizeLimit !== undefined) {
    // makedumpfile applies -L to every file it writes; we apply it to one dump file (or a dry run of one).
    const other = f.dmesg ? '--dump-dmesg' : f.reassemble ? '--reassemble' : f.rearrange ? '-R' : f.split ? '--split' : f.flattened ? '-F' : undefined;
    if (other) throw new VmcoreError('E_USAGE', `makedumpfile option -L is supported by vmcore-filter only when writing one dump file, not with ${other}`, { option: '-L' });
  }
}

function badCount(ops: readonly string[], shape: string): VmcoreError {
  return usage(`expected ${shape}, got ${ops.length} operand${ops.length === 1 ? '' : 's'}${ops.length ? ` (${ops.join(' ')})` : ''}; Commandline parameter is invalid`);
}

/** The option letter of a codec (c, l, p, z). */
function codecLetter(codec: CodecName): string {
  return Object.keys(CODEC_OF).find((k) => CODEC_OF[k] === codec)!;
}

function reassembleEquivalent(f: MakedumpfileFlags, parts: readonly string[], output: string): string[] {
  return ['vmcore-filter', 'reassemble', ...(f.force ? ['-f'] : []), ...parts, output];
}

/** --dump-dmesg VMCORE LOGFILE: makedumpfile checks its operands as a dump's (check_param_for_creating_dumpfile). */
function dmesgPlan(f: MakedumpfileFlags, ops: readonly string[]): MakedumpfilePlan {
  const other = f.split ? '--split' : f.reassemble ? '--reassemble' : f.rearrange ? '-R' : undefined;
  if (other) throw usage(`--dump-dmesg cannot be combined with ${other} in vmcore-filter`);
  const { flattened, force, messageLevel, vmcoreinfoFile, checkOnly } = f;
  if (ops.length !== (flattened ? 1 : 2)) throw badCount(ops, flattened ? 'VMCORE (with -F the log goes to stdout)' : 'VMCORE LOGFILE');
  const input = ops[0]!;
  const output = flattened ? '-' : ops[1]!;
  const equivalent = ['vmcore-filter', 'dmesg', ...(vmcoreinfoFile ? ['--vmcoreinfo', vmcoreinfoFile] : []), input];
  return { kind: 'dmesg', input, output, flattened, force, messageLevel, vmcoreinfoFile, checkOnly, equivalent: flattened ? equivalent : [...equivalent, '>', output] };
}

/** VMCORE DUMPFILE, VMCORE with -F, VMCORE DUMPFILE1 DUMPFILE2... with --split. */
function filterPlan(f: MakedumpfileFlags, ops: readonly string[]): MakedumpfilePlan {
  const { split, flattened } = f;
  if (split) {
    if (flattened) throw usage('--split cannot be used with -F; Commandline parameter is invalid');
    if (f.elf) throw usage('--split cannot be used with -E; Commandline parameter is invalid');
    if (f.threads) throw usage('--num-threads cannot used with --split; Commandline parameter is invalid');
    if (ops.length < 3) throw badCount(ops, 'VMCORE DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..]');
  } else if (ops.length !== (flattened ? 1 : 2)) {
    throw badCount(ops, flattened ? 'VMCORE (with -F the dump goes to stdout)' : 'VMCORE DUMPFILE');
  }
  const input = ops[0]!;
  const output = flattened ? '-' : ops[1]!;
  const splitOutputs = split ? ops.slice(1) : undefined;
  const { numThreads, cyclicBufferKiB, dumpLevels, codec, elf, force, messageLevel, vmcoreinfoFile, checkOnly, dryRun, sizeLimit, ignored } = f;
  const equivalent = filterEquivalent(f, input, splitOutputs ?? [output]);
  return { kind: 'filter', input, output, splitOutputs, numThreads, cyclicBufferKiB, dumpLevels, codec, elf, flattened, force, messageLevel, vmcoreinfoFile, checkOnly, dryRun, sizeLimit, ignored, equivalent };
}

/** The vmcore-filter command line that writes the same dump. */
function filterEquivalent(f: MakedumpfileFlags, input: string, outputs: readonly string[]): string[] {
  const equivalent = ['vmcore-filter', '-d', f.dumpLevels.join(',')];
  if (f.codec) equivalent.push(`-${codecLetter(f.codec)}`);
  if (f.elf) equivalent.push('-E');
  if (f.flattened) equivalent.push('-F');
  if (f.force) equivalent.push('-f');
  if (f.numThreads !== undefined) equivalent.push('--num-threads', String(f.numThreads));
  if (f.cyclicBufferKiB !== undefined) equivalent.push('--cyclic-buffer', String(f.cyclicBufferKiB));
  if (f.split) equivalent.push('--split');
  if (f.vmcoreinfoFile) equivalent.push('--vmcoreinfo', f.vmcoreinfoFile);
  equivalent.push(input, ...outputs);
  return equivalent;
}

// ---------------------------------------------------------------------------------------------
// makedumpfile's output.

const hex16 = (n: number) => '0x' + BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, '0');

/**
 * makedumpfile's statistics report (print_report, FORMATS.md §7.3) for a vmcore-filter report.
 * Hinted free pages, which makedumpfile cannot see, are counted as "Free pages" (they are buddy
 * pages); hugetlb pages as "User process data pages" (excluded by the same -d bit). Slab, kernel
 * and undecided pages are never excluded and have no line. vmcore-filter has no struct page cache,
 * so the cache line reads 0/0.
 */
export function makedumpfileReport(r: FilterReport): string {
  const x = r.excluded;
  const original = r.pages.original;
  const excluded = r.pages.excluded;
  const elf = r.output.format === 'elf';
  const lines = [
    '',
    `Original pages  : ${hex16(original)}`,
    `  Excluded pages   : ${hex16(excluded)}`,
    ...(elf ? [`     in ELF format : ${hex16(excluded)}`] : []),
    `    Pages filled with zero  : ${hex16(x.zero)}`,
    `    Non-private cache pages : ${hex16(x.cache)}`,
    `    Private cache pages     : ${hex16(x.cache_private)}`,
    `    User process data pages : ${hex16(x.user + x.hugetlb)}`,
    `    Free pages              : ${hex16(x.free + x.hinted)}`,
    `    Hwpoison pages          : ${hex16(x.hwpoison)}`,
    `    Offline pages           : ${hex16(x.offline)}`,
    `  Remaining pages  : ${hex16(original - excluded)}`,
    ...(elf ? [`     in ELF format : ${hex16(original - excluded)}`] : []),
    ...(original > 0 ? [`  (The number of pages is reduced to ${Math.floor(((original - excluded) * 100) / original)}%.)`] : []),
    `Memory Hole     : ${hex16(r.pages.hole)}`,
    '-'.repeat(50),
    `Total pages     : ${hex16(r.pages.total)}`,
    `Write bytes     : ${r.output.bytes}`,
    '',
    'Cache hit: 0, miss: 0',
    '',
  ];
  return lines.join('\n') + '\n';
}

/** makedumpfile's closing lines after --dump-dmesg: "STDOUT" for -F. */
export function makedumpfileDmesgClosing(output: string, flattened: boolean): string {
  return `\nThe dmesg log is saved to ${flattened ? 'STDOUT' : output}.\n\nmakedumpfile Completed.\n`;
}

/**
 * makedumpfile's closing lines after a successful dump (FORMATS.md §7.4): "STDOUT" for -F, and
 * for --split its list, "A, B, and C." (every name but the last followed by ", ").
 */
export function makedumpfileClosing(outputs: readonly string[], flattened: boolean): string {
  const saved =
    outputs.length > 1
      ? `The dumpfiles are saved to ${outputs.slice(0, -1).map((o) => `${o}, `).join('')}and ${outputs.at(-1)}.`
      : `The dumpfile is saved to ${flattened ? 'STDOUT' : outputs[0]}.`;
  return `\n${saved}\n\nmakedumpfile Completed.\n`;
}

const HELP = `vmcore-filter makedumpfile: makedumpfile's command line, run by vmcore-filter.

Usage:
  vmcore-filter makedumpfile [-c|-l|-p|-z] [-d DL] [-E] [-f] [-i VMCOREINFO] [--message-level ML] VMCORE DUMPFILE
  vmcore-filter makedumpfile -F [-c|-l|-p|-z] [-d DL] [-E] [--message-level ML] VMCORE > FLATTENED
  vmcore-filter makedumpfile -R DUMPFILE < FLATTENED
  vmcore-filter makedumpfile --split [-c|-l|-p|-z] [-d DL] VMCORE DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..]
  vmcore-filter makedumpfile --reassemble DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..] DUMPFILE
  vmcore-filter makedumpfile --dump-dmesg [-F] [-f] [-i VMCOREINFO] VMCORE LOGFILE

Options are parsed as makedumpfile 1.7 parses them (clusters such as -cd31, --opt=value,
abbreviated long options). Supported: -d, -c, -l, -p, -z, -E, -F, -f, -i, -D, -R, --split,
--reassemble, --dump-dmesg, --num-threads, --message-level, --show-stats, --check-params,
--dry-run, -L SIZE (one dump file; not with -F, --split, -R, --reassemble, --dump-dmesg),
-h/--help, -v. Accepted and ignored (they only tune makedumpfile's memory use or speed): -b,
--work-dir, --non-mmap, --splitblock-size. --cyclic-buffer KiB is honoured: pages are classified and
written in windows of KiB x 8192 pfns, bounding memory (the dump is the same).
--num-threads N compresses with N threads (the dump is the same). --dry-run does the whole job
and prints the same messages and report without writing. -L SIZE stops the dump file at SIZE
bytes (K, M, G, ... suffixes) like a full disk: the next -d level is tried, then the dump is kept,
marked incomplete, with exit status 7. Anything else is refused with one line and exit status 2.

The dump written is byte-identical to the equivalent vmcore-filter command
(vmcore-filter -d DL [-c|-l|-p|-z] [-E] [-F] [-f] VMCORE DUMPFILE); unlike makedumpfile, hinted
free pages are excluded at every dump level. Message level bit 2 prints makedumpfile's closing
lines, bit 16 (--message-level 31 or --show-stats) its statistics report.
`;

/** Run a makedumpfile command line; resolves to the exit code. */
export async function runMakedumpfile(argv: readonly string[]): Promise<number> {
  let plan: MakedumpfilePlan;
  try {
    plan = planMakedumpfile(argv, { POSIXLY_CORRECT: process.env.POSIXLY_CORRECT });
  } catch (e) {
    // makedumpfile closes an invalid command line with "makedumpfile Failed." too (its default
    // message level is in force before the options are read).
    return failing(7, process.stdout, () => Promise.reject(e));
  }
  switch (plan.kind) {
    case 'help':
      process.stdout.write(HELP);
      return EXIT.OK;
    case 'version':
      process.stdout.write('makedumpfile: vmcore-filter 0.1.0, makedumpfile 1.7.2-compatible command line\n');
      return EXIT.OK;
    case 'dmesg':
      return runDumpDmesg(plan);
    case 'reassemble':
    case 'rearrange':
      return runReassemble(plan);
    case 'filter':
      return runFilter(plan);
  }
}

/** `--reassemble PART... OUT` and `-R OUT` (the flattened stream on stdin). */
async function runReassemble(plan: Extract<MakedumpfilePlan, { kind: 'reassemble' | 'rearrange' }>): Promise<number> {
  if (plan.checkOnly) return EXIT.OK;
  return failing(plan.messageLevel, process.stdout, async () => {
    if (plan.kind === 'reassemble') await reassembleSplit(plan.parts, plan.output, { force: plan.force });
    else await rearrange(plan);
    if (plan.messageLevel & 2) process.stdout.write(makedumpfileClosing([plan.output], false));
    return EXIT.OK;
  });
}

async function rearrange(plan: Extract<MakedumpfilePlan, { kind: 'rearrange' }>): Promise<void> {
  checkOutputPath(plan.output, { force: plan.force });
  if (plan.dryRun) {
    // makedumpfile -R --dry-run reads and checks the whole stream and writes nothing.
    await reassembleFlattenedStream(process.stdin, '/dev/null');
    return;
  }
  const ao = AtomicOutput.open(plan.output, { force: plan.force });
  try {
    await reassembleFlattenedStream(process.stdin, ao.tempPath);
    ao.commit();
  } catch (e) {
    ao.abort();
    throw e;
  }
}

/** Write the dump, then makedumpfile's messages at the levels that ask for them. */
async function runFilter(plan: FilterPlan): Promise<number> {
  const vmcoreinfoOverride = vmcoreinfoOf(plan);
  if (plan.checkOnly) return EXIT.OK;
  const msg = messagesTo(plan.flattened);
  const opts = filterOptions(plan, vmcoreinfoOverride);
  return failing(plan.messageLevel, msg, async () => {
    // makedumpfile draws its progress on stderr at message levels with bit 1 (the default 7).
    const progress = plan.messageLevel & 1 ? makedumpfileProgress(process.stderr) : null;
    let report: FilterReport;
    try {
      report = await filterDump(plan.input, plan.output, { ...opts, onProgress: progress?.onProgress });
    } finally {
      progress?.finish();
    }
    if (plan.messageLevel & 2) {
      // makedumpfile says so as it retries; the pipeline reports it afterwards, in the same words.
      for (const w of report.warnings) {
        const m = /^no space at dump level \d+; retried at (\d+)$/.exec(w);
        if (m) msg.write(`Retry to create a dumpfile by dump_level(${m[1]}).\n`);
      }
    }
    if (plan.messageLevel & 16) msg.write(makedumpfileReport(report));
    if (plan.messageLevel & 2) msg.write(makedumpfileClosing(plan.splitOutputs ?? [plan.output], plan.flattened));
    const partial = truncationLine(plan.input, plan.flattened ? 'the stream' : plan.output, report.warnings);
    if (partial) process.stderr.write(partial);
    return partial ? EXIT.PARTIAL : EXIT.OK;
  });
}

function filterOptions(plan: FilterPlan, vmcoreinfoOverride: FilterOptions['vmcoreinfoOverride']): FilterOptions & { numThreads?: number } {
  // numThreads is FilterOptions' (threaded compression); typed here so this file does not depend on when it landed.
  return {
    numThreads: plan.numThreads,
    cyclicBufferKiB: plan.cyclicBufferKiB,
    dumpLevels: plan.dumpLevels,
    format: plan.elf ? 'elf' : 'kdump',
    codec: plan.codec,
    force: plan.force,
    flattened: plan.flattened,
    vmcoreinfoOverride,
    splitOutputs: plan.splitOutputs,
    dryRun: plan.dryRun,
    sizeLimit: plan.sizeLimit,
    // "An incomplete DUMPFILE is written if the size would otherwise exceed SIZE" (makedumpfile(8)).
    // makedumpfile keeps what it wrote on a full disk too (checked: 1.7.2 on a 2 MiB tmpfs), header
    // marked incomplete, and says "This is an incomplete dumpfile, but might analyzable."
    keepIncomplete: true,
  };
}

/** -i FILE, read before anything else (so --check-params checks it too). */
function vmcoreinfoOf(plan: { vmcoreinfoFile?: string }): ReturnType<typeof readVmcoreinfoFile> | undefined {
  return plan.vmcoreinfoFile !== undefined ? readVmcoreinfoFile(plan.vmcoreinfoFile) : undefined;
}

/** With -F the dump (or log) is stdout, so makedumpfile's messages go to stderr. */
function messagesTo(flattened: boolean): NodeJS.WritableStream {
  return flattened ? process.stderr : process.stdout;
}

/**
 * `--dump-dmesg`: the log `vmcore-filter dmesg` prints, written to LOGFILE through a temporary and
 * a rename (an existing LOGFILE is refused without -f, as makedumpfile's O_EXCL open refuses it),
 * or to stdout with -F, where makedumpfile's messages go to stderr.
 */
async function runDumpDmesg(plan: Extract<MakedumpfilePlan, { kind: 'dmesg' }>): Promise<number> {
  const vmcoreinfo = vmcoreinfoOf(plan);
  if (plan.checkOnly) return EXIT.OK;
  const msg = messagesTo(plan.flattened);
  return failing(plan.messageLevel, msg, async () => {
    if (!plan.flattened) checkOutputPath(plan.output, { force: plan.force, inputPath: plan.input });
    const reader = openDump(plan.input, { vmcoreinfo });
    let text: string;
    try {
      const log = readKernelLog(reader);
      text = formatKernelLog(log);
      for (const w of log.warnings) process.stderr.write(`vmcore-filter: warning: ${w}\n`);
    } finally {
      reader.close();
    }
    if (plan.flattened) await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
    else {
      AtomicOutput.writeFile(plan.output, Buffer.from(text, 'latin1'), { force: plan.force, inputPath: plan.input });
    }
    if (plan.messageLevel & 2) msg.write(makedumpfileDmesgClosing(plan.output, plan.flattened));
    return EXIT.OK;
  });
}

/** Run `job`; if it fails, the error line (stderr) and then, at the common level, "makedumpfile Failed.". */
async function failing(messageLevel: number, msg: NodeJS.WritableStream, job: () => Promise<number>): Promise<number> {
  try {
    return await job();
  } catch (e) {
    if (!(messageLevel & 2)) throw e;
    const code = reportError(e);
    // makedumpfile's line after a full disk (or -L) once the header is marked incomplete.
    if (e instanceof VmcoreError && e.code === 'E_NO_SPACE' && e.data.incomplete) msg.write('This is an incomplete dumpfile, but might analyzable.\n');
    msg.write('\nmakedumpfile Failed.\n');
    return code;
  }
}

/** Register `makedumpfile` for the help listing; main() hands its arguments to {@link runMakedumpfile} untouched. */
export function registerMakedumpfile(program: Command, setExit: (c: number) => void): void {
  program
    .command('makedumpfile')
    .description("run makedumpfile's command line (kdump-tools, kdump.conf) with vmcore-filter: vmcore-filter makedumpfile [makedumpfile options] VMCORE DUMPFILE")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => setExit(await runMakedumpfile(args)));
}
