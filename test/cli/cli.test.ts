/**
 * The built binary, run as a user runs it: golden text and JSON outputs (regenerate with
 * `npm run golden`, review the diff), and one clear line plus a documented exit code for every
 * bad input or argument.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';

const BIN = path.resolve('bin/vmcore-filter.js');
const GOLDEN = path.resolve('test/cli/golden');
let dir = '';

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run in `cwd` (relative names, as a user types them). */
function cliIn(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Replace what changes from run to run: temp paths and timings. */
function normalise(s: string): string {
  return s
    .split(dir)
    .join('<tmp>')
    .replace(/Elapsed +[\d.]+ s/g, 'Elapsed          <time>')
    .replace(/in [\d.]+ s/g, 'in <time>')
    .replace(/"elapsedMs":\d+/g, '"elapsedMs":0');
}

function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-cli-'));
  const r = cli(['sim', path.join(dir, 'a.img'), '--mem', '64M', '--seed', '7', '--truth', path.join(dir, 'a.json')]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('golden outputs', () => {
  it('sim prints a summary', async () => {
    const r = cli(['sim', path.join(dir, 'b.img'), '--mem', '64M', '--seed', '7']);
    expect(r.code).toBe(0);
    await expect(normalise(r.stdout)).toMatchFileSnapshot(path.join(GOLDEN, 'sim.txt'));
  });
  it('filter prints its report as text', async () => {
    const r = cli([path.join(dir, 'a.img'), path.join(dir, 'a.dump')]);
    expect(r.code, r.stderr).toBe(0);
    await expect(normalise(r.stdout)).toMatchFileSnapshot(path.join(GOLDEN, 'filter-d16.txt'));
  });
  it('filter --json follows the documented schema', async () => {
    const r = cli(['-d', '31', '-c', '--json', path.join(dir, 'a.img'), path.join(dir, 'a31.dump')]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync('schema/report.schema.json', 'utf8')));
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    await expect(normalise(JSON.stringify({ ...report, elapsedMs: 0 }, null, 2))).toMatchFileSnapshot(path.join(GOLDEN, 'filter-d31-c.json'));
  });
  it('--help lists the makedumpfile-compatible options', async () => {
    const r = cli(['filter', '--help']);
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(path.join(GOLDEN, 'filter-help.txt'));
  });
});

describe('bad input and arguments: one line, documented exit code', () => {
  it('missing input → 3', () => {
    expectOneLineError(cli([path.join(dir, 'nope.img'), path.join(dir, 'x.dump')]), 3, /cannot open .*nope\.img: ENOENT/);
    expect(fs.existsSync(path.join(dir, 'x.dump'))).toBe(false);
  });
  it('not a dump → 4', () => {
    fs.writeFileSync(path.join(dir, 'text.img'), 'hello world\n'.repeat(1000));
    expectOneLineError(cli([path.join(dir, 'text.img'), path.join(dir, 'x.dump')]), 4, /not an ELF vmcore or kdump-compressed dump/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('x.dump'))).toEqual([]);
  });
  it('truncated inside the headers → 4', () => {
    fs.writeFileSync(path.join(dir, 'short.img'), fs.readFileSync(path.join(dir, 'a.img')).subarray(0, 100));
    expectOneLineError(cli([path.join(dir, 'short.img'), path.join(dir, 'x.dump')]), 4, /short\.img/);
  });
  it('bad dump level → 2', () => {
    expectOneLineError(cli(['-d', '32', path.join(dir, 'a.img'), path.join(dir, 'x.dump')]), 2, /dump level 32 is invalid/);
    expectOneLineError(cli(['-d', 'abc', path.join(dir, 'a.img'), path.join(dir, 'x.dump')]), 2, /-d: dump level "abc"/);
  });
  it('two codecs → 2; ELF with a codec → 2', () => {
    expectOneLineError(cli(['-c', '-l', path.join(dir, 'a.img'), path.join(dir, 'x.dump')]), 2, /choose one of/);
    expectOneLineError(cli(['-E', '-c', path.join(dir, 'a.img'), path.join(dir, 'x.dump')]), 2, /cannot be compressed/);
  });
  it('unknown option → 2', () => {
    const r = cli(['--frobnicate', path.join(dir, 'a.img'), path.join(dir, 'x.dump')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
  });
  it('existing output without -f → 6, untouched', () => {
    const out = path.join(dir, 'exists.dump');
    fs.writeFileSync(out, 'keep me');
    expectOneLineError(cli([path.join(dir, 'a.img'), out]), 6, /exists \(use -f to overwrite\)/);
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
  });
  it('output is the input (even through a hard link, with -f) → 6, input untouched', () => {
    const img = path.join(dir, 'a.img');
    const link = path.join(dir, 'link.img');
    fs.linkSync(img, link);
    const before = fs.statSync(img);
    expectOneLineError(cli(['-f', img, link]), 6, /is the input file/);
    const after = fs.statSync(img);
    expect(after.size).toBe(before.size);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });
  it('a mistyped command word that is not a file → "unknown command", 2; nothing written', () => {
    fs.writeFileSync(path.join(dir, 's.img'), 'x');
    expectOneLineError(cliIn(dir, ['infoo', 's.img']), 2, /^vmcore-filter: error: unknown command 'infoo' \(did you mean info\?\)\n$/);
    expectOneLineError(cliIn(dir, ['fitler', 'a', 'b']), 2, /^vmcore-filter: error: unknown command 'fitler' \(did you mean filter\?\)\n$/);
    expectOneLineError(cliIn(dir, ['stat', 's.img']), 2, /unknown command 'stat' \(did you mean stats\?\)/);
    expectOneLineError(cliIn(dir, ['frobnicate', 's.img', 'out']), 2, /^vmcore-filter: error: unknown command 'frobnicate' \(nor a file of that name; commands: filter, sim/);
    expect(fs.existsSync(path.join(dir, 'out')) || fs.existsSync(path.join(dir, 'b'))).toBe(false);
    // A word that is a file is still the filter's input; a path is never taken for a command.
    fs.copyFileSync(path.join(dir, 'a.img'), path.join(dir, 'vmcore'));
    expect(cliIn(dir, ['vmcore', 'word.dump']).code).toBe(0);
    expectOneLineError(cliIn(dir, ['./infoo', 'x.dump']), 3, /cannot open \.\/infoo/);
    expectOneLineError(cliIn(dir, ['help', 'infoo']), 2, /^vmcore-filter: error: unknown command 'infoo' \(did you mean info\?\)\n$/);
    expectOneLineError(cliIn(dir, []), 2, /^vmcore-filter: error: no input given: vmcore-filter \[options\] <input> <output> \(vmcore-filter --help lists the commands\)\n$/);
  });
  it('commander\'s errors are one line too: unknown option, missing argument, with the suggestion joined', () => {
    expectOneLineError(cli(['info', '--jsn', path.join(dir, 'a.img')]), 2, /^vmcore-filter: error: unknown option '--jsn' \(did you mean --json\?\)\n$/);
    expectOneLineError(cli(['info']), 2, /^vmcore-filter: error: missing required argument 'dump'\n$/);
    expectOneLineError(cli(['sim']), 2, /^vmcore-filter: error: missing required argument 'out'\n$/);
  });
  it('an output in a missing directory names the output, not our temporary file → 6', () => {
    const out = path.join(dir, 'no-such-dir', 'x.dump');
    const r = cli([path.join(dir, 'a.img'), out]);
    expectOneLineError(r, 6, new RegExp(`^vmcore-filter: error: cannot create ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: directory .*no-such-dir does not exist\n$`));
    expect(r.stderr).not.toMatch(/\.tmp/);
  });
  it('a truncated input → 8, and stderr says so in one line', () => {
    const img = fs.readFileSync(path.join(dir, 'a.img'));
    fs.writeFileSync(path.join(dir, 'cut.img'), img.subarray(0, Math.floor(img.length * 0.6)));
    const r = cli([path.join(dir, 'cut.img'), path.join(dir, 'cut.dump')]);
    expectOneLineError(r, 8, /^vmcore-filter: partial: .*cut\.img is truncated: PT_LOAD #\d+ needs data up to file offset 0x[0-9a-f]+ but the file ends at 0x[0-9a-f]+; pfns from 0x[0-9a-f]+ are missing.*; .*cut\.dump holds what was there, the rest marked absent\n$/);
    expect(r.stdout).toContain('warning: truncated input');
  });
  it('sim refuses an existing <out>.truth.json without -f, and --help names the file', () => {
    const img = path.join(dir, 't.img');
    fs.writeFileSync(`${img}.truth.json`, 'keep');
    expectOneLineError(cli(['sim', img, '--mem', '64M']), 6, /output .*t\.img\.truth\.json exists \(use -f to overwrite\)/);
    expect(fs.readFileSync(`${img}.truth.json`, 'utf8')).toBe('keep');
    expect(fs.existsSync(img)).toBe(false);
    expect(cli(['sim', img, '--mem', '64M', '-f']).code).toBe(0);
    expect(fs.readFileSync(`${img}.truth.json`, 'utf8')).not.toBe('keep');
    expect(cli(['sim', '--help']).stdout).toContain('<out>.truth.json');
  });
  it('every command\'s --help ends with examples and the exit codes', () => {
    for (const c of ['filter', 'sim', 'demo', 'reassemble', 'info', 'stats', 'dmesg', 'map']) {
      const h = cli([c, '--help']).stdout;
      expect(h, c).toMatch(/\nExamples:\n  \$ vmcore-filter .*\n      .*\n  \$ vmcore-filter /);
      expect(h, c).toMatch(/\nExit codes:\n  0 +success\n[\s\S]*\n  8 +partial: the input was truncated/);
    }
  });
  it('sim: bad arguments → 2', () => {
    expectOneLineError(cli(['sim', path.join(dir, 'c.img'), '--mem', 'lots']), 2, /--mem: "lots" is not a size/);
    expectOneLineError(cli(['sim', path.join(dir, 'c.img'), '--hinted-style', 'x']), 2, /--hinted-style/);
    expect(fs.existsSync(path.join(dir, 'c.img'))).toBe(false);
  });
});
