/**
 * The single executable (`npm run dist`), copied alone into an empty directory and run with no
 * node on PATH (PATH=/nonexistent, a clean environment): every command, every codec, the same
 * bytes as the node bundle (bin/vmcore-filter.js) for the same options, compression workers inside
 * the executable, the `makedumpfile` name through a symlink, and the one-line errors of a codec
 * addon that is missing or does not load.
 *
 * The executable is rebuilt (node scripts/sea.mjs, a few seconds, after `npm run build`) when it is
 * older than the bundle or the SEA entry. Without the build tools (postject, a node carrying the
 * SEA fuse) the suite skips with a message, and fails under CI=true.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { openDump } from '../../src/index.js';

const ROOT = path.resolve('.');
const EXE = path.join(ROOT, 'dist', `vmcore-filter-${process.platform}-${process.arch}`);
const BIN = path.join(ROOT, 'bin', 'vmcore-filter.js');
const SOURCES = ['dist/bundle/main.js', 'dist/sea/main.js', 'dist/sea/addons.js', 'dist/sea/install.js', 'scripts/sea.mjs'].map((f) => path.join(ROOT, f));
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Why the executable cannot be built here, or null. */
function toolsProblem(): string | null {
  if (process.platform !== 'linux') return `the single executable is built for Linux, not ${process.platform}`;
  try {
    createRequire(path.join(ROOT, 'package.json')).resolve('postject');
  } catch {
    return 'postject is not installed (npm install)';
  }
  if (!fs.readFileSync(process.execPath).includes(FUSE)) return `${process.execPath} has no SEA fuse (not an official node build)`;
  return null;
}

const problem = toolsProblem();
if (problem && process.env.CI === 'true') throw new Error(`the single executable is required with CI=true: ${problem}`);
if (problem) console.warn(`skipping the single-executable tests: ${problem}`);

let dir = '';
let exe = '';
let tmp = '';
let buildSeconds: number | null = null;
const p = (f: string) => path.join(dir, f);

/** A clean environment: no node on PATH, no node_modules anywhere near, a private TMPDIR. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/nonexistent', HOME: dir, TMPDIR: tmp, NO_COLOR: '1', ...extra };
}

function run(file: string, args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(file, args, { cwd: dir, env: env(extra), encoding: 'buffer', maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
}
const sea = (args: string[], extra: Record<string, string> = {}) => run(exe, args, extra);
/** The node bundle, for the same arguments in the same directory. */
function bundle(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, encoding: 'buffer', maxBuffer: 256 << 20 });
  return { code: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
}

function expectOneLineError(r: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Pfns stored in a kdump dump and a hash of their contents. */
function pageSet(file: string): { pfns: number[]; bytes: Buffer } {
  const r = openDump(file);
  try {
    const pfns: number[] = [];
    const buf = new Uint8Array(4096);
    const parts: Buffer[] = [];
    for (let pfn = 0; pfn < r.maxMapnr; pfn++) {
      if (!r.dumpable!.get(pfn)) continue;
      pfns.push(pfn);
      r.readPages(pfn, 1, buf);
      parts.push(Buffer.from(buf));
    }
    return { pfns, bytes: Buffer.concat(parts) };
  } finally {
    r.close();
  }
}

describe.skipIf(problem !== null)('single executable, copied alone, no node on PATH', () => {
  beforeAll(() => {
    const newest = Math.max(...SOURCES.map((f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : Infinity)));
    if (!fs.existsSync(EXE) || fs.statSync(EXE).mtimeMs < newest) {
      const t0 = Date.now();
      const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'sea.mjs')], { cwd: ROOT, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`node scripts/sea.mjs failed (run npm run build first?):\n${b.stderr}`);
      buildSeconds = (Date.now() - t0) / 1000;
      console.log(`built ${path.relative(ROOT, EXE)} in ${buildSeconds.toFixed(1)} s`);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-sea-'));
    tmp = p('tmp');
    fs.mkdirSync(tmp);
    exe = p('vmcore-filter-linux-x64');
    fs.copyFileSync(EXE, exe);
    fs.chmodSync(exe, 0o755);
    fs.symlinkSync('vmcore-filter-linux-x64', p('makedumpfile'));
    const sim = sea(['sim', 'img', '--mem', '64M', '--seed', '5']);
    expect(sim.code, sim.stderr).toBe(0);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the environment has no node; the directory holds only the executable (and what it wrote)', () => {
    const r = spawnSync('/bin/sh', ['-c', 'command -v node'], { env: env(), encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(fs.existsSync(p('node_modules'))).toBe(false);
    const v = sea(['--version']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe('0.1.0\n');
  });

  it('filter with -c -l -p -z: the same page set, and the same bytes as the node bundle', () => {
    let first: ReturnType<typeof pageSet> | null = null;
    for (const opt of ['-c', '-l', '-p', '-z']) {
      const r = sea(['-d', '31', opt, 'img', `sea${opt}.dump`]);
      expect(r.code, r.stderr).toBe(0);
      const b = bundle(['-d', '31', opt, 'img', `node${opt}.dump`]);
      expect(b.code, b.stderr).toBe(0);
      expect(fs.readFileSync(p(`sea${opt}.dump`)).equals(fs.readFileSync(p(`node${opt}.dump`))), `${opt}: executable vs bundle`).toBe(true);
      const set = pageSet(p(`sea${opt}.dump`));
      expect(set.pfns.length).toBeGreaterThan(1000);
      if (!first) first = set;
      else {
        expect(set.pfns, opt).toEqual(first.pfns);
        expect(set.bytes.equals(first.bytes), `${opt}: page contents`).toBe(true);
      }
    }
  });

  it('compression workers run inside the executable (--num-threads 3): the same bytes', () => {
    for (const opt of ['-l', '-z']) {
      const r = sea(['-d', '31', opt, '--num-threads', '3', 'img', `t${opt}.dump`]);
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readFileSync(p(`t${opt}.dump`)).equals(fs.readFileSync(p(`node${opt}.dump`))), opt).toBe(true);
    }
    // Every addon file was removed once loaded.
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('info, stats, dmesg and map print what the bundle prints', () => {
    for (const args of [['info', 'img'], ['info', 'sea-z.dump', '--json'], ['stats', 'img', '-d', '31'], ['dmesg', 'sea-l.dump']]) {
      const r = sea(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(100);
      expect(r.stdout, args.join(' ')).toBe(bundle(args).stdout);
    }
    const m = sea(['map', 'img', '-o', 'x.svg']);
    expect(m.code, m.stderr).toBe(0);
    const b = bundle(['map', 'img', '-o', 'y.svg']);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readFileSync(p('x.svg'), 'utf8')).toMatch(/^<svg|^<\?xml/);
    expect(fs.readFileSync(p('x.svg')).equals(fs.readFileSync(p('y.svg')))).toBe(true);
  });

  it('as makedumpfile (a symlink): -l -d 31, -F, --split, --dump-dmesg and -v', () => {
    const mdf = p('makedumpfile');
    const v = run(mdf, ['-v']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe('makedumpfile: vmcore-filter 0.1.0, makedumpfile 1.7.2-compatible command line\n');
    const r = run(mdf, ['-l', '--message-level', '7', '-d', '31', 'img', 'mdf.dump']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('\nThe dumpfile is saved to mdf.dump.\n\nmakedumpfile Completed.\n');
    expect(fs.readFileSync(p('mdf.dump')).equals(fs.readFileSync(p('sea-l.dump')))).toBe(true);
    const f = run(mdf, ['-F', '-l', '-d', '31', 'img']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.raw.equals(bundle(['-F', '-l', '-d', '31', 'img', '-']).raw)).toBe(true);
    const s = run(mdf, ['--split', '-z', '-d', '31', 'img', 'part1', 'part2']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/The dumpfiles are saved to part1, and part2\./);
    const re = sea(['reassemble', 'part1', 'part2', 'joined.dump']);
    expect(re.code, re.stderr).toBe(0);
    expect(fs.readFileSync(p('joined.dump')).equals(fs.readFileSync(p('sea-z.dump')))).toBe(true);
    const d = run(mdf, ['--dump-dmesg', 'img', 'dmesg.txt']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe('\nThe dmesg log is saved to dmesg.txt.\n\nmakedumpfile Completed.\n');
    expect(fs.readFileSync(p('dmesg.txt'), 'latin1')).toBe(sea(['dmesg', 'img']).stdout);
  });

  it('as makedumpfile, errors close with "makedumpfile Failed." and keep our exit codes', () => {
    const mdf = p('makedumpfile');
    const exists = run(mdf, ['-l', '-d', '31', 'img', 'mdf.dump']);
    expectOneLineError(exists, 6, /mdf\.dump exists/);
    expect(exists.stdout).toBe('\nmakedumpfile Failed.\n');
    const bad = run(mdf, ['-Q', 'img', 'x.dump']);
    expectOneLineError(bad, 2, /invalid option -- 'Q'; Commandline parameter is invalid/);
    expect(bad.stdout).toBe('\nmakedumpfile Failed.\n');
  });

  it('a missing or unloadable codec addon: one line naming the codec and the file, exit 2', () => {
    fs.mkdirSync(p('no-addons'));
    fs.mkdirSync(p('bad-addons'));
    fs.writeFileSync(p('bad-addons/snappy.node'), 'not an ELF shared object\n');
    const missing = sea(['-d', '31', '-z', 'img', 'e1.dump'], { VMCORE_FILTER_ADDON_DIR: p('no-addons') });
    expectOneLineError(missing, 2, new RegExp(`^vmcore-filter: error: codec zstd \\(-z\\): cannot load its native addon ${p('no-addons/zstd.node')}: no such file`));
    const corrupt = sea(['-d', '31', '-p', 'img', 'e2.dump'], { VMCORE_FILTER_ADDON_DIR: p('bad-addons') });
    expectOneLineError(corrupt, 2, new RegExp(`^vmcore-filter: error: codec snappy \\(-p\\): cannot load its native addon ${p('bad-addons/snappy.node')}: `));
    // The embedded addon with nowhere to extract it (TMPDIR missing), in the workers too.
    const noTmp = sea(['-d', '31', '-l', '--num-threads', '2', 'img', 'e3.dump'], { TMPDIR: p('nonexistent') });
    expectOneLineError(noTmp, 2, /^vmcore-filter: error: codec lzo \(-l\): cannot load its native addon .*nonexistent\/vmcore-filter-XXXXXX\/lzo\.node: ENOENT/);
    const asMdf = run(p('makedumpfile'), ['-z', '-d', '31', 'img', 'e4.dump'], { VMCORE_FILTER_ADDON_DIR: p('no-addons') });
    expectOneLineError(asMdf, 2, /codec zstd \(-z\): cannot load its native addon .*zstd\.node/);
    expect(asMdf.stdout).toBe('\nmakedumpfile Failed.\n');
    for (const f of ['e1.dump', 'e2.dump', 'e3.dump', 'e4.dump']) expect(fs.existsSync(p(f)), f).toBe(false);
    // zlib needs no addon.
    const zlib = sea(['-d', '31', '-c', 'img', 'e5.dump', '-f'], { VMCORE_FILTER_ADDON_DIR: p('no-addons') });
    expect(zlib.code, zlib.stderr).toBe(0);
  });
});
