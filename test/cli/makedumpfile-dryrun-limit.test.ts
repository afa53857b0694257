/**
 * The makedumpfile drop-in's `--dry-run` and `-L SIZE`, run as the built binary and, where the
 * peer is installed, side by side with Debian's makedumpfile 1.7.2 (its behaviour read from
 * makedumpfile.c at tag 1.7.2: write_and_check_space, open_dump_file, check_param_*):
 * - --dry-run does the whole job, prints the same messages and report ("Write bytes" included)
 *   and creates no file; an existing output is still refused without -f; with -F nothing reaches
 *   stdout; with --split no part is written; -R reads the stream and writes nothing; refused with
 *   --reassemble and --dump-dmesg;
 * - -L SIZE stops the dump file at SIZE bytes as a full disk would: the next -d level is tried,
 *   then the dump is kept, its header marked incomplete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { parseReport } from '../helpers/makedumpfile.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { libkdumpfileCheck } from '../fuzz/harness.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const MDF = '/usr/bin/makedumpfile';
let dir = '';
const p = (f: string) => path.join(dir, f);

function run(cmd: string[], input?: Buffer) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'buffer', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20, input });
  const err = r.stderr.toString('utf8');
  // Progress lines (message level bit 1, both tools): `\r`-redrawn, ended by one newline.
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: err.replace(PROGRESS, ''), progress: (err.match(PROGRESS) ?? []).join(''), raw: r.stdout };
}
const PROGRESS = /(?:\r[^\r\n]*)+\n/g;
const ours = (args: string[], input?: Buffer) => run([process.execPath, BIN, 'makedumpfile', ...args], input);
const theirs = (args: string[], input?: Buffer) => run([MDF, ...args], input);

/** The lines both tools print at message level 31 that are not progress or debug chatter. */
function closing(stdout: string): string {
  const i = stdout.lastIndexOf('\nThe dump');
  return i < 0 ? stdout : stdout.slice(i);
}
function incompleteFlag(file: string): boolean {
  const r = KdumpReader.open(file);
  try {
    return r.kdump.incomplete;
  } finally {
    r.close();
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-mdf-dry-'));
  const r = run([process.execPath, BIN, 'sim', p('a.img'), '--mem', '64M', '--seed', '7']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('--dry-run', () => {
  it('prints what the real run prints (report and Write bytes included) and writes nothing', (ctx) => {
    const real = ours(['-l', '--message-level', '31', '-d', '31', p('a.img'), p('real.dump')]);
    const dry = ours(['-l', '--message-level', '31', '-d', '31', '--dry-run', p('a.img'), p('dry.dump')]);
    expect(real.code, real.stderr).toBe(0);
    expect(dry.code, dry.stderr).toBe(0);
    expect(fs.existsSync(p('dry.dump'))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('dry.dump'))).toEqual([]); // no temporary either
    expect(dry.stdout).toBe(real.stdout.replace(p('real.dump'), p('dry.dump')));
    expect(parseReport(dry.stdout).total).toBe(16384);
    expect(/Write bytes {5}: (\d+)/.exec(dry.stdout)![1]).toBe(String(fs.statSync(p('real.dump')).size));
    if (!requirePeer('makedumpfile')) return ctx.skip();
    // makedumpfile does the same: same report and closing lines with and without --dry-run, no file.
    const mReal = theirs(['-l', '--message-level', '31', '-d', '31', p('a.img'), p('m-real.dump')]);
    const mDry = theirs(['-l', '--message-level', '31', '-d', '31', '--dry-run', p('a.img'), p('m-dry.dump')]);
    expect(mReal.code).toBe(0);
    expect(mDry.code).toBe(0);
    expect(fs.existsSync(p('m-dry.dump'))).toBe(false);
    expect(parseReport(mDry.stdout)).toEqual(parseReport(mReal.stdout));
    expect(/Write bytes {5}: (\d+)/.exec(mDry.stdout)![1]).toBe(/Write bytes {5}: (\d+)/.exec(mReal.stdout)![1]);
    expect(closing(mDry.stdout)).toBe(`\nThe dumpfile is saved to ${p('m-dry.dump')}.\n\nmakedumpfile Completed.\n`);
    expect(closing(dry.stdout)).toBe(`\nThe dumpfile is saved to ${p('dry.dump')}.\n\nmakedumpfile Completed.\n`);
  });

  it('an existing output is still refused without -f; with -F nothing reaches stdout; --split writes no part; ELF too', (ctx) => {
    fs.writeFileSync(p('exists.dump'), 'keep');
    const ex = ours(['--dry-run', '-d', '31', p('a.img'), p('exists.dump')]);
    expect(ex.code).toBe(6);
    expect(ex.stdout).toBe('\nmakedumpfile Failed.\n');
    const flat = ours(['--dry-run', '-F', '-l', '-d', '31', p('a.img')]);
    expect(flat.code, flat.stderr).toBe(0);
    expect(flat.raw.length).toBe(0);
    expect(flat.stderr).toBe('\nThe dumpfile is saved to STDOUT.\n\nmakedumpfile Completed.\n');
    const split = ours(['--dry-run', '--split', '-d', '31', p('a.img'), p('s1'), p('s2')]);
    expect(split.code, split.stderr).toBe(0);
    expect(split.stdout).toBe(`\nThe dumpfiles are saved to ${p('s1')}, and ${p('s2')}.\n\nmakedumpfile Completed.\n`);
    expect(fs.existsSync(p('s1')) || fs.existsSync(p('s2'))).toBe(false);
    const elf = ours(['--dry-run', '-E', '--message-level', '31', '-d', '31', p('a.img'), p('e.out')]);
    const elfReal = ours(['-E', '--message-level', '31', '-d', '31', p('a.img'), p('e-real.out')]);
    expect(elf.code, elf.stderr).toBe(0);
    expect(fs.existsSync(p('e.out'))).toBe(false);
    expect(parseReport(elf.stdout)).toEqual(parseReport(elfReal.stdout));
    expect(/Write bytes {5}: (\d+)/.exec(elf.stdout)![1]).toBe(String(fs.statSync(p('e-real.out')).size));
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const mEx = theirs(['--dry-run', '-d', '31', p('a.img'), p('exists.dump')]);
    expect(mEx.code).toBe(1);
    expect(mEx.stderr).toMatch(/File exists/);
    expect(fs.readFileSync(p('exists.dump'), 'utf8')).toBe('keep');
    const mFlat = theirs(['--dry-run', '-F', '-l', '-d', '31', p('a.img')]);
    expect(mFlat.code).toBe(0);
    expect(mFlat.raw.length).toBe(0);
    expect(mFlat.stderr.endsWith('\nThe dumpfile is saved to STDOUT.\n\nmakedumpfile Completed.\n')).toBe(true);
    const mSplit = theirs(['--dry-run', '--split', '-d', '31', p('a.img'), p('ms1'), p('ms2')]);
    expect(mSplit.code).toBe(0);
    expect(closing(mSplit.stdout)).toBe(`\nThe dumpfiles are saved to ${p('ms1')}, and ${p('ms2')}.\n\nmakedumpfile Completed.\n`);
    expect(fs.existsSync(p('ms1')) || fs.existsSync(p('ms2'))).toBe(false);
  });

  it('-R --dry-run reads the whole stream and writes nothing', (ctx) => {
    const flat = run([process.execPath, BIN, '-F', '-l', '-d', '31', p('a.img'), '-']);
    expect(flat.code, flat.stderr).toBe(0);
    const r = ours(['-R', '--dry-run', p('r.dump')], flat.raw);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`\nThe dumpfile is saved to ${p('r.dump')}.\n\nmakedumpfile Completed.\n`);
    expect(fs.existsSync(p('r.dump'))).toBe(false);
    // a stream cut short is still an error: it was read
    const cut = ours(['-R', '--dry-run', p('r.dump')], flat.raw.subarray(0, flat.raw.length - 16));
    expect(cut.code).toBe(4);
    expect(cut.stderr).toMatch(/ends without its end record/);
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const m = theirs(['-R', '--dry-run', p('mr.dump')], flat.raw);
    expect(m.code).toBe(0);
    expect(closing(m.stdout)).toBe(`\nThe dumpfile is saved to ${p('mr.dump')}.\n\nmakedumpfile Completed.\n`);
    expect(fs.existsSync(p('mr.dump'))).toBe(false);
  });

  it('--check-params agrees with makedumpfile on --dry-run and -L lines', (ctx) => {
    const lines = [
      '--dry-run a b', '--dry-run -F a', '--dry-run --split a b c', '--dry-run -R b', '--dry-run --reassemble a b c',
      '--dry-run --dump-dmesg a b', '--dry -d 31 a b', '-L 1M a b', '-L 0 a b', '-L 1KB a b', '-L 0x100000 a b', '-L 010 a b',
      '-L1G -d 31 a b', '-L 08 a b', '-L a b', '--dry-run -L 4k a b',
    ];
    const ourCodes = lines.map((l) => ours(['--check-params', ...l.split(' ')]).code === 0);
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const theirCodes = lines.map((l) => theirs(['--check-params', ...l.split(' ')]).code === 0);
    expect(Object.fromEntries(lines.map((l, i) => [l, ourCodes[i]]))).toEqual(Object.fromEntries(lines.map((l, i) => [l, theirCodes[i]])));
  });
});

describe('-L SIZE', () => {
  it('-L 1M: the limit falls before the first batch of descriptors is written; those of the pages on disk are salvaged', (ctx) => {
    const r = ours(['-l', '-d', '31', '-L', '1M', p('a.img'), p('L1.dump')]);
    expect(r.code).toBe(7);
    expect(fs.statSync(p('L1.dump')).size).toBe(1 << 20);
    expect(incompleteFlag(p('L1.dump'))).toBe(true);
    if (requirePeer('makedumpfile')) {
      const m = theirs(['-l', '-d', '31', '-L', '1M', p('a.img'), p('mL1.dump')]);
      expect(m.code).toBe(1);
    }
    if (!requirePeer('kdumpfile')) return ctx.skip();
    // Both open, and (incomplete) their first 64 dumpable pages read back.
    const files = [p('L1.dump'), ...(fs.existsSync(p('mL1.dump')) ? [p('mL1.dump')] : [])];
    expect(libkdumpfileCheck(files, { incomplete: true })).toEqual(Object.fromEntries(files.map((f) => [f, null])));
  });

  it('stops the file at SIZE and keeps it, marked incomplete, as makedumpfile does', (ctx) => {
    const r = ours(['-l', '-d', '31', '-L', '4M', p('a.img'), p('L.dump')]);
    expect(r.code).toBe(7);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^vmcore-filter: error: writing ${p('L.dump').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: size limit of 4194304 bytes \\(0x400000\\) reached \\(-L\\); kept the incomplete dump`));
    expect(r.stdout).toBe('This is an incomplete dumpfile, but might analyzable.\n\nmakedumpfile Failed.\n');
    expect(fs.statSync(p('L.dump')).size).toBe(4 << 20);
    expect(incompleteFlag(p('L.dump'))).toBe(true);
    const info = JSON.parse(run([process.execPath, BIN, 'info', '--json', p('L.dump')]).stdout);
    expect(info.complete).toBe(false);
    // a limit the dump stays under changes nothing
    const big = ours(['-l', '-d', '31', '-L', '1G', p('a.img'), p('L1G.dump')]);
    const none = ours(['-l', '-d', '31', p('a.img'), p('noL.dump')]);
    expect(big.code, big.stderr).toBe(0);
    expect(fs.readFileSync(p('L1G.dump')).equals(fs.readFileSync(p('noL.dump')))).toBe(true);
    if (requirePeer('makedumpfile')) {
      const m = theirs(['-l', '-d', '31', '-L', '4M', p('a.img'), p('mL.dump')]);
      expect(m.code).toBe(1);
      expect(m.stdout).toContain(`Can't write the dump file(${p('mL.dump')}). Size limit(4194304) reached.`);
      expect(m.stdout.endsWith('This is an incomplete dumpfile, but might analyzable.\n\nmakedumpfile Failed.\n')).toBe(true);
      expect(fs.statSync(p('mL.dump')).size).toBe(4 << 20);
      expect(incompleteFlag(p('mL.dump'))).toBe(true);
    }
    if (!requirePeer('kdumpfile')) return ctx.skip();
    const files = [p('L.dump'), ...(fs.existsSync(p('mL.dump')) ? [p('mL.dump')] : [])];
    expect(libkdumpfileCheck(files, { incomplete: true })).toEqual(Object.fromEntries(files.map((f) => [f, null])));
  });

  it('-d 0,31: the limit is a full disk, so the next level is tried', (ctx) => {
    const r = ours(['-l', '-d', '0,31', '-L', '16M', '--message-level', '31', p('a.img'), p('retry.dump')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('Retry to create a dumpfile by dump_level(31).\n')).toBe(true);
    expect(fs.statSync(p('retry.dump')).size).toBeLessThanOrEqual(16 << 20);
    expect(fs.readFileSync(p('retry.dump')).equals(fs.readFileSync(p('noL.dump')))).toBe(true);
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const m = theirs(['-l', '-d', '0,31', '-L', '16M', '--message-level', '31', p('a.img'), p('mretry.dump')]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('Retry to create a dumpfile by dump_level(31).\n');
    expect(parseReport(m.stdout).total).toBe(parseReport(r.stdout).total);
    expect(closing(m.stdout)).toBe(`\nThe dumpfile is saved to ${p('mretry.dump')}.\n\nmakedumpfile Completed.\n`);
  });

  it('with --dry-run the limit is measured and reported, nothing written', (ctx) => {
    const r = ours(['-l', '-d', '31', '-L', '1M', '--dry-run', p('a.img'), p('Ldry.dump')]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/size limit of 1048576 bytes \(0x100000\) reached \(-L\)\n$/);
    expect(r.stdout).toBe('This is an incomplete dumpfile, but might analyzable.\n\nmakedumpfile Failed.\n');
    expect(fs.existsSync(p('Ldry.dump'))).toBe(false);
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const m = theirs(['-l', '-d', '31', '-L', '1M', '--dry-run', p('a.img'), p('mLdry.dump')]);
    expect(m.code).toBe(1);
    expect(m.stdout.endsWith('This is an incomplete dumpfile, but might analyzable.\n\nmakedumpfile Failed.\n')).toBe(true);
    expect(fs.existsSync(p('mLdry.dump'))).toBe(false);
  });

  it('refused where we do not implement it: one line, exit 2', () => {
    for (const [args, other] of [
      [['-L', '1M', '--split', p('a.img'), p('x1'), p('x2')], '--split'],
      [['-L', '1M', '-F', p('a.img')], '-F'],
      [['-L', '1M', '--dump-dmesg', p('a.img'), p('log')], '--dump-dmesg'],
    ] as const) {
      const r = ours([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`vmcore-filter: error: makedumpfile option -L is supported by vmcore-filter only when writing one dump file, not with ${other}\n`);
    }
    const bad = ours(['-L', '1KB', p('a.img'), p('x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('vmcore-filter: error: makedumpfile: -L: Limit size(1KB) is invalid\n');
  });
});

describe('progress lines', () => {
  it("are makedumpfile's: at the default message level on stderr, none without bit 1", (ctx) => {
    const line = /^\r(Excluding unnecessary pages|Copying data) {0,40}: \[(?: |\d){2}\d\.\d %\] [/|\\-] {2}[ a-z:0-9]{16}$/;
    const ok = (s: string) => s.slice(0, -1).split(/(?=\r)/).every((l) => line.test(l));
    const r = ours(['-l', '-d', '31', p('a.img'), p('prog.dump')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(ok(r.progress), JSON.stringify(r.progress)).toBe(true);
    expect(r.progress).toMatch(/\rCopying data {38}: \[100\.0 %\] [/|\\-] {2} {9}eta: 0s\n$/);
    const quiet = ours(['-l', '-d', '31', '--message-level', '6', p('a.img'), p('prog6.dump')]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.progress + quiet.stderr).toBe('');
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const m = theirs(['-l', '-d', '31', p('a.img'), p('mprog.dump')]);
    expect(m.code).toBe(0);
    expect(m.progress).toMatch(/\rCopying data {38}: \[100\.0 %\] [/|\\-] {2} {9}eta: 0s\n$/);
    expect(m.progress).toContain('\rExcluding unnecessary pages                       : [100.0 %] ');
  });
});
