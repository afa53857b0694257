/**
 * Every output container and codec against the real tools: kdump per codec read back by
 * libkdumpfile, flattened streams replayed by makedumpfile -R and by us (both ways), split
 * parts reassembled by us and by makedumpfile, makedumpfile refiltering our zlib/lzo dumps,
 * and our refiltering of makedumpfile's dumps matching its own minus the hinted pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate, truthClassArray, CLASS_CODE, type GroundTruth } from '../../src/sim/index.js';
import { PYTHON, requirePeer } from '../helpers/peers.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const DUMPCHECK = path.resolve('test/interop/py/dumpcheck.py');
let dir = '';
let image = '';
let truth: GroundTruth;
const p = (f: string) => path.join(dir, f);

function run(cmd: string, args: string[], opts: { input?: Buffer; stdoutFile?: string } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, maxBuffer: 1 << 30 });
  if (opts.stdoutFile) fs.writeFileSync(opts.stdoutFile, r.stdout);
  return { status: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString() };
}
const vf = (args: string[], o?: { input?: Buffer; stdoutFile?: string }) => run(process.execPath, [BIN, ...args], o);
const mdf = (args: string[], o?: { input?: Buffer; stdoutFile?: string }) => run('/usr/bin/makedumpfile', args, o);

function check(dump: string): { bitmap: Buffer; res: { dumpable: number; identical: number; mismatches: number[]; unreadable: unknown[] } } {
  const bm = dump + '.bitmap';
  const r = run(PYTHON, [DUMPCHECK, dump, image, bm]);
  expect(r.status, r.stderr).toBe(0);
  const res = JSON.parse(r.stdout);
  expect(res.mismatches).toEqual([]);
  expect(res.unreadable).toEqual([]);
  expect(res.identical).toBe(res.dumpable);
  return { bitmap: fs.readFileSync(bm), res };
}
const same = (a: string, b: string) => Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;

const ok = requirePeer('kdumpfile') && requirePeer('makedumpfile');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-containers-'));
  image = p('vmcore.img');
  truth = (await simulate(image, { seed: 5, memBytes: 128 << 20 })).truth;
  expect(vf(['-d', '31', '-f', image, p('plain.dump')]).status).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!ok)('containers and codecs', () => {
  it.each(['-c', '-l', '-p', '-z'])('kdump %s: libkdumpfile reads every page back identically, same bitmap as uncompressed', (flag) => {
    const out = p(`codec${flag}.dump`);
    const r = vf(['-d', '31', flag, '-f', image, out]);
    expect(r.status, r.stderr).toBe(0);
    const a = check(out);
    const b = check(p('plain.dump'));
    expect(a.bitmap.equals(b.bitmap)).toBe(true);
    expect(fs.statSync(out).size).toBeLessThan(fs.statSync(p('plain.dump')).size);
  });

  it('-F to stdout: makedumpfile -R and our reassemble (file and stdin) rebuild the plain dump byte for byte', () => {
    for (const flag of ['-l', '-c']) {
      const plain = p(`plain${flag}.dump`);
      expect(vf(['-d', '31', flag, '-f', image, plain]).status).toBe(0);
      const r = vf(['-F', '-d', '31', flag, image, '-'], { stdoutFile: p('x.flat') });
      expect(r.status, r.stderr).toBe(0);
      const flat = fs.readFileSync(p('x.flat'));
      expect(flat.subarray(0, 12).toString()).toBe('makedumpfile');
      expect(mdf(['-R', p(`mdf-R${flag}.dump`)], { input: flat }).status).toBe(0);
      expect(same(p(`mdf-R${flag}.dump`), plain)).toBe(true);
      expect(vf(['reassemble', '-f', p('x.flat'), p('our-R.dump')]).status).toBe(0);
      expect(same(p('our-R.dump'), plain)).toBe(true);
      expect(vf(['reassemble', '-f', '-', p('our-R2.dump')], { input: flat }).status).toBe(0);
      expect(same(p('our-R2.dump'), plain)).toBe(true);
    }
  });

  it("we reassemble makedumpfile's -F output into its own plain output, and read the flattened file directly", () => {
    mdf(['-F', '-l', '-d', '31', image], { stdoutFile: p('m.flat') });
    expect(mdf(['-l', '-d', '31', '-f', image, p('m.dump')]).status).toBe(0);
    expect(vf(['reassemble', '-f', p('m.flat'), p('m-re.dump')]).status).toBe(0);
    expect(same(p('m-re.dump'), p('m.dump'))).toBe(true);
    // A flattened file as input, without reassembly.
    const r = vf(['-d', '31', '--json', '-f', p('m.flat'), p('from-flat.dump')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).input.format).toMatch(/flattened|kdump/);
    check(p('from-flat.dump'));
  });

  it('--split into 3 parts: each part valid, reassembled by us and by makedumpfile to the unsplit dump byte for byte', () => {
    const parts = [p('s1'), p('s2'), p('s3')];
    const r = vf(['-d', '31', '-c', '--split', '-f', image, ...parts]);
    expect(r.status, r.stderr).toBe(0);
    expect(vf(['-d', '31', '-c', '-f', image, p('unsplit.dump')]).status).toBe(0);
    expect(vf(['reassemble', '-f', ...parts, p('joined.dump')]).status).toBe(0);
    expect(same(p('joined.dump'), p('unsplit.dump'))).toBe(true);
    expect(mdf(['--reassemble', ...parts, p('mjoined.dump')]).status).toBe(0);
    expect(same(p('mjoined.dump'), p('unsplit.dump'))).toBe(true);
    // Each part alone is a dump libkdumpfile opens.
    for (const part of parts) {
      const x = run(PYTHON, ['-c', 'import kdumpfile,sys; k=kdumpfile.kdumpfile(sys.argv[1]); print(k.attr["max_pfn"])', part]);
      expect(x.status, x.stderr).toBe(0);
      expect(Number(x.stdout.trim())).toBe(truth.layout.maxMapnr);
    }
  });

  it('makedumpfile refilters our zlib and lzo dumps to -d 31, keeping exactly what we keep at -d 31', () => {
    const ours31 = check(p('plain.dump')).bitmap;
    for (const flag of ['-c', '-l']) {
      const ours = p(`ours1${flag}.dump`);
      expect(vf(['-d', '1', flag, '-f', image, ours]).status).toBe(0);
      const re = p(`mre${flag}.dump`);
      const m = mdf(['-d', '31', '--message-level', '1', '-f', ours, re]);
      expect(m.status, m.stderr).toBe(0);
      expect(check(re).bitmap.equals(ours31)).toBe(true);
    }
  });

  it("we refilter makedumpfile's dumps and match its own refiltered bitmap, minus the hinted pages it keeps", () => {
    expect(mdf(['-d', '1', '-l', '--message-level', '1', '-f', image, p('m1.dump')]).status).toBe(0);
    expect(mdf(['-d', '31', '--message-level', '1', '-f', p('m1.dump'), p('m31.dump')]).status).toBe(0);
    const r = vf(['-d', '31', '--json', '-f', p('m1.dump'), p('o31.dump')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).input.format).toBe('kdump');
    const theirs = check(p('m31.dump')).bitmap;
    const ours = check(p('o31.dump')).bitmap;
    const cls = truthClassArray(truth);
    let hintedOnlyTheirs = 0;
    let other = 0;
    for (let pfn = 0; pfn < truth.layout.maxMapnr; pfn++) {
      const a = (ours[pfn >> 3]! >> (pfn & 7)) & 1;
      const b = (theirs[pfn >> 3]! >> (pfn & 7)) & 1;
      if (a === b) continue;
      if (b && !a && cls[pfn] === CLASS_CODE.hinted) hintedOnlyTheirs++;
      else other++;
    }
    expect(other).toBe(0);
    expect(truth.counts.hinted).toBeGreaterThan(0);
    expect(hintedOnlyTheirs).toBe(truth.counts.hinted);
  });
});
