/** makedumpfile's command line, parsed as glibc getopt_long parses it, and mapped to vmcore-filter jobs. */
import { describe, expect, it } from 'vitest';
import {
  GetoptError,
  MAKEDUMPFILE_LONG,
  MAKEDUMPFILE_SHORT,
  getoptLong,
  makedumpfileClosing,
  parseMemparse,
  planMakedumpfile,
} from '../../src/cli/makedumpfile-command.js';
import { VmcoreError } from '../../src/errors.js';

const parse = (line: string, posix = false) => getoptLong(line.split(' ').filter(Boolean), MAKEDUMPFILE_SHORT, MAKEDUMPFILE_LONG, posix);
const opts = (line: string) => parse(line).options.map((o) => (o.value === undefined ? o.name : `${o.name}=${o.value}`));

describe('getoptLong (glibc semantics)', () => {
  it('clusters short options; an argument takes the rest of the cluster or the next word', () => {
    expect(opts('-cd31 a b')).toEqual(['c', 'd=31']);
    expect(opts('-d31 -l a b')).toEqual(['d=31', 'l']);
    expect(opts('-c -d 31 a b')).toEqual(['c', 'd=31']);
    expect(opts('-cl a b')).toEqual(['c', 'l']);
    expect(opts('-ld 31 a b')).toEqual(['l', 'd=31']);
    expect(opts('-d -1 a b')).toEqual(['d=-1']); // the next word, whatever it looks like
    expect(opts('-cDEf a b')).toEqual(['c', 'D', 'E', 'f']);
  });
  it('long options: --opt value, --opt=value, unique prefixes, exact names first', () => {
    expect(opts('--message-level 7 a b')).toEqual(['message-level=7']);
    expect(opts('--message-level=7 a b')).toEqual(['message-level=7']);
    expect(opts('--message=31 a b')).toEqual(['message-level=31']);
    expect(opts('--mes 7 a b')).toEqual(['message-level=7']);
    expect(opts('--num-threads=4 --split a b c')).toEqual(['num-threads=4', 'split']);
    expect(opts('--message-level= a b')).toEqual(['message-level=']);
  });
  it('operands anywhere (permutation); -- ends options; - is an operand; POSIXLY_CORRECT stops at the first operand', () => {
    expect(parse('a b -d 31')).toEqual({ options: [{ name: 'd', spelled: '-d', value: '31' }], operands: ['a', 'b'] });
    expect(parse('a -d31 b').operands).toEqual(['a', 'b']);
    expect(parse('a -- -d31')).toEqual({ options: [], operands: ['a', '-d31'] });
    expect(parse('-d 1 - b').operands).toEqual(['-', 'b']);
    expect(parse('a b -d 31', true)).toEqual({ options: [], operands: ['a', 'b', '-d', '31'] });
  });
  it('errors use glibc wording', () => {
    const err = (line: string) => {
      try {
        parse(line);
      } catch (e) {
        expect(e).toBeInstanceOf(GetoptError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('-d')).toBe("option requires an argument -- 'd'");
    expect(err('-k a b')).toBe("invalid option -- 'k'");
    expect(err('-ck a b')).toBe("invalid option -- 'k'");
    expect(err('--frob a b')).toBe("unrecognized option '--frob'");
    expect(err('--show-stats=1 a b')).toBe("option '--show-stats' doesn't allow an argument");
    expect(err('--message-level')).toBe("option '--message-level' requires an argument");
    expect(err('--d a b')).toMatch(/^option '--d' is ambiguous; possibilities: '--dump-dmesg' '--diskset' '--dry-run'$/);
    expect(err('--xen a b')).toMatch(/ambiguous/);
  });
});

describe('planMakedumpfile: makedumpfile options → vmcore-filter job', () => {
  const plan = (line: string) => planMakedumpfile(line.split(' ').filter(Boolean));
  const usage = (line: string) => {
    try {
      plan(line);
    } catch (e) {
      expect(e).toBeInstanceOf(VmcoreError);
      expect((e as VmcoreError).code).toBe('E_USAGE');
      return (e as Error).message;
    }
    return 'no error';
  };
  it('kdump-tools and kdump.conf lines', () => {
    expect(plan('-l --message-level 7 -d 31 /proc/vmcore /var/crash/dump')).toMatchObject({
      kind: 'filter',
      input: '/proc/vmcore',
      output: '/var/crash/dump',
      dumpLevels: [31],
      codec: 'lzo',
      messageLevel: 7,
      equivalent: ['vmcore-filter', '-d', '31', '-l', '/proc/vmcore', '/var/crash/dump'],
    });
    expect(plan('-c --message-level 1 -d 31 /proc/vmcore /var/crash/x/vmcore-incomplete')).toMatchObject({ codec: 'zlib', messageLevel: 1 });
    expect(plan('-F -l -d 31 /proc/vmcore')).toMatchObject({ flattened: true, output: '-' });
    expect(plan('-d 31,11 -z a b')).toMatchObject({ dumpLevels: [31, 11], codec: 'zstd' });
  });
  it('makedumpfile defaults and precedence: level 0, message level 7, last -d and last codec win, --show-stats/-D add bits', () => {
    expect(plan('a b')).toMatchObject({ dumpLevels: [0], messageLevel: 7, codec: undefined });
    expect(plan('-d 31 -d 1 -c -p a b')).toMatchObject({ dumpLevels: [1], codec: 'snappy' });
    expect(plan('--show-stats -D a b')).toMatchObject({ messageLevel: 31 });
    expect(plan('--message-level 0 --show-stats a b')).toMatchObject({ messageLevel: 16 });
  });
  it('tuning options are accepted: --cyclic-buffer honoured, the others listed as ignored', () => {
    expect(plan('--num-threads 4 -b 8 --cyclic-buffer 1024 --non-mmap --work-dir /tmp -l a b')).toMatchObject({
      kind: 'filter',
      numThreads: 4,
      cyclicBufferKiB: 1024,
      ignored: ['-b 8', '--non-mmap', '--work-dir /tmp'],
    });
    expect(plan('--num-threads=0 a b')).toMatchObject({ numThreads: 1 });
  });
  it('--split, --reassemble, -R, -i, --check-params, -h, -v', () => {
    expect(plan('--split -d 31 a b c')).toMatchObject({ kind: 'filter', input: 'a', splitOutputs: ['b', 'c'] });
    expect(plan('--reassemble p1 p2 out')).toMatchObject({ kind: 'reassemble', parts: ['p1', 'p2'], output: 'out' });
    expect(plan('-R out')).toMatchObject({ kind: 'rearrange', output: 'out', equivalent: ['vmcore-filter', 'reassemble', '-', 'out'] });
    expect(plan('-i vi.txt -d 31 a b')).toMatchObject({ vmcoreinfoFile: 'vi.txt', equivalent: ['vmcore-filter', '-d', '31', '--vmcoreinfo', 'vi.txt', 'a', 'b'] });
    expect(plan('--check-params -d 31 a b')).toMatchObject({ checkOnly: true });
    expect(plan('-d 31 --help')).toEqual({ kind: 'help' });
    expect(plan('-v')).toEqual({ kind: 'version' });
  });
  it('invalid lines, as makedumpfile checks them', () => {
    expect(usage('-c a')).toMatch(/expected VMCORE DUMPFILE, got 1 operand \(a\); Commandline parameter is invalid/);
    expect(usage('')).toMatch(/got 0 operands/);
    expect(usage('-F a b')).toMatch(/expected VMCORE \(with -F/);
    expect(usage('-E -c a b')).toMatch(/-E \(ELF output\) cannot be compressed/);
    expect(usage('--num-threads 2 -E a b')).toMatch(/--num-threads cannot used with ELF format/);
    expect(usage('--split a b')).toMatch(/DUMPFILE1 DUMPFILE2/);
    expect(usage('--split -F a b c')).toMatch(/--split cannot be used with -F/);
    expect(usage('-R a b')).toMatch(/expected DUMPFILE/);
    expect(usage('-d 32 a b')).toMatch(/dump level 32 is invalid/);
    expect(usage('--message-level 32 a b')).toMatch(/--message-level: 32 is out of range 0..31/);
    expect(usage('-d')).toMatch(/option requires an argument -- 'd'/);
  });
  it('unsupported options: one clear line', () => {
    expect(usage('--eppic x.c a b')).toBe('makedumpfile option --eppic is not supported by vmcore-filter');
    expect(usage('-x vmlinux -d 31 a b')).toBe('makedumpfile option -x is not supported by vmcore-filter');
    expect(usage('--mem-usage /proc/kcore')).toBe('makedumpfile option --mem-usage is not supported by vmcore-filter');
    expect(usage('--mem /proc/kcore')).toBe('makedumpfile option --mem-usage is not supported by vmcore-filter');
    expect(usage('-e --work-dir /tmp a b')).toBe('makedumpfile option -e is not supported by vmcore-filter');
    expect(usage('--partial-dmesg --dump-dmesg a b')).toBe('makedumpfile option --partial-dmesg is not supported by vmcore-filter yet');
  });
  it('--dry-run: the job without writing; refused with --reassemble and --dump-dmesg as makedumpfile refuses it', () => {
    expect(plan('--dry-run -l -d 31 a b')).toMatchObject({ kind: 'filter', dryRun: true, output: 'b', codec: 'lzo' });
    expect(plan('--dry -d 31 a b')).toMatchObject({ dryRun: true });
    expect(plan('-d 31 a b')).toMatchObject({ dryRun: false });
    expect(plan('--dry-run --split a b c')).toMatchObject({ dryRun: true, splitOutputs: ['b', 'c'] });
    expect(plan('--dry-run -F a')).toMatchObject({ dryRun: true, flattened: true });
    expect(plan('--dry-run -R out')).toMatchObject({ kind: 'rearrange', dryRun: true });
    expect(usage('--dry-run --reassemble a b c')).toBe('makedumpfile: --dry-run cannot be used with --reassemble; Commandline parameter is invalid');
    expect(usage('--dry-run --dump-dmesg a b')).toBe('makedumpfile: --dry-run cannot be used with --dump-dmesg; Commandline parameter is invalid');
  });
  it('-L SIZE: memparse values; 0 and trailing characters invalid; one dump file only', () => {
    expect(plan('-L 1G -d 31 a b')).toMatchObject({ kind: 'filter', sizeLimit: 2 ** 30 });
    expect(plan('-L1048576 a b')).toMatchObject({ sizeLimit: 1048576 });
    expect(plan('--dry-run -L 4k a b')).toMatchObject({ sizeLimit: 4096, dryRun: true });
    expect(usage('-L 0 a b')).toBe('makedumpfile: -L: Limit size(0) is invalid');
    expect(usage('-L 1KB a b')).toBe('makedumpfile: -L: Limit size(1KB) is invalid');
    expect(usage('-L 1G --split a b c')).toBe('makedumpfile option -L is supported by vmcore-filter only when writing one dump file, not with --split');
    expect(usage('-L 1G -F a')).toMatch(/not with -F$/);
    expect(usage('-L 1G -R a')).toMatch(/not with -R$/);
    expect(usage('-L 1G --dump-dmesg a b')).toMatch(/not with --dump-dmesg$/);
  });
  it('parseMemparse is makedumpfile\'s memparse (strtoull base 0, one K..E suffix)', () => {
    expect(parseMemparse('4096')).toBe(4096);
    expect(parseMemparse('0x1000')).toBe(4096);
    expect(parseMemparse('010')).toBe(8);
    expect(parseMemparse(' +1K')).toBe(1024);
    expect(parseMemparse('1m')).toBe(2 ** 20);
    expect(parseMemparse('2G')).toBe(2 ** 31);
    expect(parseMemparse('1T')).toBe(2 ** 40);
    expect(parseMemparse('1P')).toBe(2 ** 50);
    expect(parseMemparse('1e')).toBe(Number.MAX_SAFE_INTEGER); // 2^60: more than any file, capped
    for (const bad of ['0', '', 'K', '1KB', '08', '0x', '-1', '1.5G', '1 G']) expect(parseMemparse(bad), bad).toBeNull();
  });
  it('--dump-dmesg VMCORE LOGFILE: the dmesg command; operands checked as for a dump, -d and codecs without effect', () => {
    expect(plan('--dump-dmesg /proc/vmcore /var/crash/dmesg.1')).toEqual({
      kind: 'dmesg',
      input: '/proc/vmcore',
      output: '/var/crash/dmesg.1',
      flattened: false,
      force: false,
      messageLevel: 7,
      vmcoreinfoFile: undefined,
      checkOnly: false,
      equivalent: ['vmcore-filter', 'dmesg', '/proc/vmcore', '>', '/var/crash/dmesg.1'],
    });
    expect(plan('-c -d 31 --dump a b')).toMatchObject({ kind: 'dmesg', input: 'a', output: 'b' });
    expect(plan('--dump-dmesg -F -i vi.txt a')).toMatchObject({ kind: 'dmesg', output: '-', flattened: true, equivalent: ['vmcore-filter', 'dmesg', '--vmcoreinfo', 'vi.txt', 'a'] });
    expect(usage('--dump-dmesg a')).toMatch(/expected VMCORE LOGFILE, got 1 operand/);
    expect(usage('--dump-dmesg -F a b')).toMatch(/with -F the log goes to stdout/);
    expect(usage('--dump-dmesg -E -c a b')).toMatch(/-E \(ELF output\) cannot be compressed/);
    expect(usage('--dump-dmesg --split a b c')).toMatch(/--dump-dmesg cannot be combined with --split/);
  });
  it('closing lines', () => {
    expect(makedumpfileClosing(['/var/crash/dump'], false)).toBe('\nThe dumpfile is saved to /var/crash/dump.\n\nmakedumpfile Completed.\n');
    expect(makedumpfileClosing(['-'], true)).toContain('The dumpfile is saved to STDOUT.');
    expect(makedumpfileClosing(['a', 'b', 'c'], false)).toContain('The dumpfiles are saved to a, b, and c.');
  });
});
