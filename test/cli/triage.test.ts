/**
 * info, stats and the makedumpfile drop-in, run as the built binary: golden text and JSON on
 * simulator images (4-level; 5-level with KASLR; kdump output as input), JSON validated against
 * schema/*.schema.json, makedumpfile command lines producing the same bytes as the equivalent
 * vmcore-filter command, and one-line errors with the documented exit codes.
 * Regenerate goldens with `npm run golden` and review the diff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { requirePeer } from '../helpers/peers.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const GOLDEN = path.resolve('test/cli/golden');
let dir = '';

function cli(args: string[], env: Record<string, string> = {}, input?: Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'buffer',
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 256 << 20,
    input,
  });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
}
const p = (f: string) => path.join(dir, f);

/** Temp paths and codec package versions change from run to run and machine to machine. */
function normalise(s: string): string {
  return s
    .split(dir)
    .join('<tmp>')
    .replace(/"implementation":"[^"]*"/g, '"implementation":"<impl>"')
    .replace(/^( {2}codec impl {5}).*$/gm, '$1<impl>');
}

function expectOneLineError(r: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateInfo = ajv.compile(JSON.parse(fs.readFileSync('schema/info.schema.json', 'utf8')));
const validateStats = ajv.compile(JSON.parse(fs.readFileSync('schema/stats.schema.json', 'utf8')));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-triage-cli-'));
  for (const [name, extra] of [
    ['l4.img', ['--seed', '7']],
    ['l5.img', ['--seed', '3', '--l5', '--kaslr', '--cpus', '4']],
  ] as const) {
    const r = cli(['sim', p(name), '--mem', '64M', ...extra]);
    expect(r.code, r.stderr).toBe(0);
  }
  const k = cli(['-d', '31', '-l', '--json', p('l5.img'), p('l5.dump')]);
  expect(k.code, k.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('info', () => {
  it.for([
    ['l4.img', 'info-l4'],
    ['l5.img', 'info-l5-kaslr'],
    ['l5.dump', 'info-kdump-lzo'],
  ])('%s: text and JSON', async ([img, golden]) => {
    const t = cli(['info', p(img!)]);
    expect(t.code, t.stderr).toBe(0);
    await expect(normalise(t.stdout)).toMatchFileSnapshot(path.join(GOLDEN, `${golden}.txt`));
    const j = cli(['info', '--json', p(img!)]);
    expect(j.code, j.stderr).toBe(0);
    const info = JSON.parse(j.stdout);
    expect(validateInfo(info), JSON.stringify(validateInfo.errors)).toBe(true);
    await expect(normalise(JSON.stringify(info, null, 2)) + '\n').toMatchFileSnapshot(path.join(GOLDEN, `${golden}.json`));
  });
  it('--vmcoreinfo replaces the dump\'s VMCOREINFO: an older kernel without PAGE_OFFLINE_MAPCOUNT_VALUE', async () => {
    const j = JSON.parse(cli(['info', '--json', p('l4.img')]).stdout);
    expect(j.vmcoreinfo.source).toBe('dump');
    // The text as makedumpfile -g would write it: the sim's own, minus one export.
    const text = cli(['info', '--json', p('l4.img')]).stdout && extractVmcoreinfo(p('l4.img'));
    fs.writeFileSync(p('old.vmcoreinfo'), text.split('\n').filter((l) => !l.startsWith('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)')).join('\n'));
    const r = cli(['info', '--vmcoreinfo', p('old.vmcoreinfo'), p('l4.img')]);
    expect(r.code, r.stderr).toBe(0);
    await expect(normalise(r.stdout)).toMatchFileSnapshot(path.join(GOLDEN, 'info-vmcoreinfo-override.txt'));
  });
  it('a cut-off kdump file is reported incomplete (exit 0: info describes, it does not judge)', () => {
    const b = fs.readFileSync(p('l5.dump'));
    fs.writeFileSync(p('cut.dump'), b.subarray(0, b.length - 20000));
    const r = cli(['info', '--json', p('cut.dump')]);
    expect(r.code, r.stderr).toBe(0);
    const i = JSON.parse(r.stdout);
    expect(validateInfo(i), JSON.stringify(validateInfo.errors)).toBe(true);
    expect(i.complete).toBe(false);
  });
});

function extractVmcoreinfo(img: string): string {
  // The VMCOREINFO note's text: between "OSRELEASE=" and the end of its CRASHTIME line.
  const b = fs.readFileSync(img).subarray(0, 1 << 16).toString('latin1');
  const s = b.indexOf('OSRELEASE=');
  const e = b.indexOf('\n', b.indexOf('CRASHTIME=', s)) + 1;
  return b.slice(s, e);
}

describe('stats', () => {
  it.for([
    ['l4.img', 'stats-l4', []],
    ['l5.img', 'stats-l5-kaslr', ['-d', '11']],
    ['l5.dump', 'stats-kdump-lzo', []],
  ] as const)('%s: text and JSON', async ([img, golden, extra]) => {
    const t = cli(['stats', ...extra, p(img)]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/bytes are estimates from a sample of \d+ pages \(1 stored page in 64\)/);
    await expect(normalise(t.stdout)).toMatchFileSnapshot(path.join(GOLDEN, `${golden}.txt`));
    const j = cli(['stats', '--json', ...extra, p(img)]);
    expect(j.code, j.stderr).toBe(0);
    const s = JSON.parse(j.stdout);
    expect(validateStats(s), JSON.stringify(validateStats.errors)).toBe(true);
    await expect(normalise(JSON.stringify(s, null, 2)) + '\n').toMatchFileSnapshot(path.join(GOLDEN, `${golden}.json`));
  });
  it('--sample 1 gives the exact size of the file the filter writes', () => {
    const s = JSON.parse(cli(['stats', '--json', '--sample', '1', '-d', '31', p('l4.img')]).stdout);
    const r = cli(['-d', '31', '-z', '--json', p('l4.img'), p('l4-31z.dump')]);
    expect(r.code, r.stderr).toBe(0);
    const l = s.levels.find((x: { level: number }) => x.level === 31);
    expect(l.exact).toBe(true);
    expect(l.estimates.find((e: { codec: string }) => e.codec === 'zstd').bytes).toBe(fs.statSync(p('l4-31z.dump')).size);
    expect(l.kept).toBe(JSON.parse(r.stdout).pages.remaining);
  });
});

describe('makedumpfile drop-in', () => {
  /** Run the drop-in and the equivalent vmcore-filter command; the dumps must be byte-identical. */
  it.for([
    ['-l --message-level 7 -d 31 IN OUT', ['-d', '31', '-l', 'IN', 'OUT']],
    ['-c --message-level 1 -d 31 IN OUT', ['-d', '31', '-c', 'IN', 'OUT']],
    ['-cd31 IN OUT', ['-d', '31', '-c', 'IN', 'OUT']],
    ['IN OUT --message-level=23 -zd 1', ['-d', '1', '-z', 'IN', 'OUT']],
    ['--num-threads 2 -p -d 16 IN OUT', ['-d', '16', '-p', 'IN', 'OUT']],
    ['-E -d 31 IN OUT', ['-d', '31', '-E', 'IN', 'OUT']],
    ['-d 17 IN OUT', ['-d', '17', 'IN', 'OUT']],
  ] as const)('makedumpfile %s', ([line, equivalent], ctx) => {
    const tag = line.replace(/\W+/g, '_');
    const a = p(`mdf-${tag}.dump`);
    const b = p(`vf-${tag}.dump`);
    const sub = (w: string, out: string) => (w === 'IN' ? p('l4.img') : w === 'OUT' ? out : w);
    const r = cli(['makedumpfile', ...line.split(' ').map((w) => sub(w, a))]);
    expect(r.code, r.stderr).toBe(0);
    const level = Number(/--message-level[= ](\d+)/.exec(line)?.[1] ?? 7);
    if (level & 2) expect(r.stdout).toMatch(new RegExp(`\\nThe dumpfile is saved to ${a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.\\n\\nmakedumpfile Completed\\.\\n$`));
    else expect(r.stdout).toBe('');
    if (level & 16) expect(r.stdout).toMatch(/^\nOriginal pages  : 0x[0-9a-f]{16}\n  Excluded pages   : 0x[0-9a-f]{16}\n/);
    else expect(r.stdout).not.toMatch(/Original pages/);
    const v = cli(equivalent.map((w) => sub(w, b)));
    expect(v.code, v.stderr).toBe(0);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b)), `${line} vs vmcore-filter ${equivalent.join(' ')}`).toBe(true);
    void ctx;
  });
  it('the statistics report (message level 31) and closing lines, as makedumpfile prints them', async () => {
    const r = cli(['makedumpfile', '-l', '--message-level', '31', '-d', '31', p('l4.img'), p('mdf-report.dump')]);
    expect(r.code, r.stderr).toBe(0);
    await expect(normalise(r.stdout)).toMatchFileSnapshot(path.join(GOLDEN, 'makedumpfile-l-ml31-d31.txt'));
  });
  it('-F writes the flattened stream to stdout and the messages to stderr; -R rebuilds it from stdin', () => {
    const f = cli(['makedumpfile', '-F', '-l', '-d', '31', p('l4.img')]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr.endsWith('\nThe dumpfile is saved to STDOUT.\n\nmakedumpfile Completed.\n'), f.stderr).toBe(true);
    const v = cli(['-F', '-l', '-d', '31', '--json', p('l4.img'), '-']);
    expect(f.raw.equals(v.raw)).toBe(true);
    const r = cli(['makedumpfile', '-R', p('rebuilt.dump')], {}, f.raw);
    expect(r.code, r.stderr).toBe(0);
    const direct = cli(['-l', '-d', '31', p('l4.img'), p('direct.dump')]);
    expect(direct.code).toBe(0);
    expect(fs.readFileSync(p('rebuilt.dump')).equals(fs.readFileSync(p('direct.dump')))).toBe(true);
  });
  it('--split and --reassemble', () => {
    const s = cli(['makedumpfile', '--split', '-l', '-d', '31', p('l4.img'), p('part1'), p('part2')]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain(`The dumpfiles are saved to ${p('part1')}, and ${p('part2')}.`);
    const r = cli(['makedumpfile', '--reassemble', p('part1'), p('part2'), p('joined.dump')]);
    expect(r.code, r.stderr).toBe(0);
    cli(['-l', '-d', '31', p('l4.img'), p('whole.dump')]);
    expect(fs.readFileSync(p('joined.dump')).equals(fs.readFileSync(p('whole.dump')))).toBe(true);
  });
  it('-i FILE supplies VMCOREINFO like --vmcoreinfo', () => {
    fs.writeFileSync(p('vi.txt'), extractVmcoreinfo(p('l4.img')));
    const a = cli(['makedumpfile', '-i', p('vi.txt'), '-d', '31', p('l4.img'), p('mdf-i.dump')]);
    const b = cli(['--vmcoreinfo', p('vi.txt'), '-d', '31', p('l4.img'), p('vf-i.dump')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readFileSync(p('mdf-i.dump')).equals(fs.readFileSync(p('vf-i.dump')))).toBe(true);
  });
  it('--check-params agrees with the real makedumpfile on which command lines are valid', (ctx) => {
    const lines = [
      '-cd31 a b', '-d31 -l a b', '--message-level=7 -d 31 a b', '--mes 7 a b', '-c a', 'a b -d 31', '-d', '-F a', '-F a b',
      '-E -c a b', '--show-stats=1 a b', '-- -d 31 a b', 'a -- -d31', '-cl a b', '--split a b c', '--split a b', '--split -F a b c',
      '-d 32 a b', '-d 31,11 a b', '--num-threads 2 -E a b', '--message-level 32 a b', '-R b', '-R a b', '--reassemble a b c', 'a', '',
      '-zd31 a b', '-d 31 -d 1 a b', '--num-threads=4 -l -d 31 a b', '-E a b', '--frob a b', '-k a b',
    ];
    const ours = lines.map((l) => cli(['makedumpfile', '--check-params', ...l.split(' ').filter(Boolean)]).code === 0);
    if (!requirePeer('makedumpfile')) return ctx.skip();
    const theirs = lines.map((l) => spawnSync('/usr/bin/makedumpfile', ['--check-params', ...l.split(' ').filter(Boolean)]).status === 0);
    expect(Object.fromEntries(lines.map((l, i) => [l, ours[i]]))).toEqual(Object.fromEntries(lines.map((l, i) => [l, theirs[i]])));
  });
});

describe('errors: one line, documented exit code', () => {
  it('info/stats: missing input → 3, not a dump → 4', () => {
    expectOneLineError(cli(['info', p('nope.img')]), 3, /cannot open .*nope\.img/);
    fs.writeFileSync(p('text.img'), 'hello\n'.repeat(100));
    expectOneLineError(cli(['stats', p('text.img')]), 4, /not an ELF vmcore or kdump-compressed dump/);
  });
  it('stats: bad -d or --sample → 2', () => {
    expectOneLineError(cli(['stats', '-d', '40', p('l4.img')]), 2, /dump level 40 is invalid/);
    expectOneLineError(cli(['stats', '--sample', '0', p('l4.img')]), 2, /--sample: 0 is out of range/);
  });
  it('--vmcoreinfo: a bad file names its line → 5; a missing file → 3 (filter, info, stats)', () => {
    fs.writeFileSync(p('bad.vmcoreinfo'), 'OSRELEASE=6.0.0\nPAGESIZE=4096\nSYMBOL(_stext)=not-hex\n');
    expectOneLineError(cli(['info', '--vmcoreinfo', p('bad.vmcoreinfo'), p('l4.img')]), 5, /--vmcoreinfo .*bad\.vmcoreinfo: VMCOREINFO line 3: SYMBOL\(_stext\) has a non-hex value/);
    expectOneLineError(cli(['stats', '--vmcoreinfo', p('bad.vmcoreinfo'), p('l4.img')]), 5, /VMCOREINFO line 3/);
    expectOneLineError(cli(['--vmcoreinfo', p('bad.vmcoreinfo'), p('l4.img'), p('x.dump')]), 5, /VMCOREINFO line 3/);
    expect(fs.existsSync(p('x.dump'))).toBe(false);
    expectOneLineError(cli(['info', '--vmcoreinfo', p('none.txt'), p('l4.img')]), 3, /--vmcoreinfo: cannot read .*none\.txt: ENOENT/);
  });
  it('makedumpfile: unsupported options → 2 with one clear line; invalid lines → 2', () => {
    expectOneLineError(cli(['makedumpfile', '--eppic', 'x.c', '-d', '31', p('l4.img'), p('x.dump')]), 2, /^vmcore-filter: error: makedumpfile option --eppic is not supported by vmcore-filter\n$/);
    expectOneLineError(cli(['makedumpfile', '-x', 'vmlinux', p('l4.img'), p('x.dump')]), 2, /makedumpfile option -x is not supported by vmcore-filter/);
    expectOneLineError(cli(['makedumpfile', '--mem-usage', '/proc/kcore']), 2, /makedumpfile option --mem-usage is not supported/);
    expectOneLineError(cli(['makedumpfile', '-d', '31', p('l4.img')]), 2, /Commandline parameter is invalid/);
    expectOneLineError(cli(['makedumpfile', '-k', p('l4.img'), p('x.dump')]), 2, /invalid option -- 'k'/);
  });
  it('makedumpfile: a failing job prints the error, then "makedumpfile Failed." (common messages)', () => {
    fs.writeFileSync(p('exists.dump'), 'keep');
    const r = cli(['makedumpfile', '-d', '31', p('l4.img'), p('exists.dump')]);
    expectOneLineError(r, 6, /exists \(use -f to overwrite\)/);
    expect(r.stdout).toBe('\nmakedumpfile Failed.\n');
    expect(fs.readFileSync(p('exists.dump'), 'utf8')).toBe('keep');
  });
});

describe('several dumps (fleet triage)', () => {
  it('info and stats print one report per dump; --json is JSON Lines; a bad dump is its one line, the rest still reported', () => {
    const dumps = [p('l5.img'), p('l5.dump')];
    for (const cmd of ['info', 'stats']) {
      const text = cli([cmd, ...dumps]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout.match(new RegExp(`^vmcore-filter ${cmd}: `, 'gm'))).toHaveLength(2);
      const json = cli([cmd, '--json', ...dumps]);
      expect(json.code, json.stderr).toBe(0);
      const lines = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.path)).toEqual(dumps);
      const validate = cmd === 'info' ? validateInfo : validateStats;
      for (const l of lines) expect(validate(l), JSON.stringify(validate.errors)).toBe(true);
      // Alone, each dump's line is the one the pair printed.
      expect(lines[1]).toEqual(JSON.parse(cli([cmd, '--json', dumps[1]!]).stdout));
      const bad = cli([cmd, '--json', p('l5.img'), p('missing.img'), p('l5.dump')]);
      expectOneLineError(bad, 3, /^vmcore-filter: error: cannot open .*missing\.img: ENOENT\n$/);
      expect(bad.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).path)).toEqual(dumps);
    }
  });
});
