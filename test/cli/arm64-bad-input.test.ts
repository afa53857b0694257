/**
 * Bad arm64 exports, through the built binary: a page size that is not 4/16/64 KiB refuses the
 * dump (exit 5, one line naming PAGESIZE); exports that contradict each other (VA_BITS against
 * TCR_EL1_T1SZ, swapper_pg_dir outside the image, no kimage_voffset) make `filter` write the
 * dump with every page kept and fail with exit 5 and one line naming the keys; never a stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate } from '../../src/sim/index.js';

const BIN = path.resolve('bin/vmcore-filter.js');
let dir = '';
let image = '';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the image with one VMCOREINFO line replaced by one of the same length. */
function patched(name: string, from: string, to: string): string {
  expect(to.length).toBe(from.length);
  const d = fs.readFileSync(image);
  const at = d.indexOf(from);
  expect(at).toBeGreaterThan(0);
  const out = path.join(dir, name);
  fs.writeFileSync(out, Buffer.concat([d.subarray(0, at), Buffer.from(to, 'latin1'), d.subarray(at + from.length)]));
  return out;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-arm64-bad-'));
  image = path.join(dir, 'a.img');
  await simulate(image, { kernel: 'linux-6.12', seed: 1, memBytes: 64 << 20, arch: 'arm64', pageSize: 4096 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('arm64 exports that do not fit', () => {
  it('PAGESIZE=8192: info, stats and filter refuse the dump, exit 5, one line', () => {
    const bad = patched('ps.img', 'PAGESIZE=4096\n', 'PAGESIZE=8192\n');
    for (const args of [['info', bad], ['stats', bad], ['-d', '31', bad, path.join(dir, 'ps.out')]]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(5);
      expect(r.stderr).toBe(`vmcore-filter: error: ${bad}: PAGESIZE=8192 is not a page size this tool reads (4096, 16384 or 65536)\n`);
    }
    expect(fs.existsSync(path.join(dir, 'ps.out'))).toBe(false);
  });

  const cases: [string, string, string, RegExp][] = [
    ['VA_BITS against TCR_EL1_T1SZ', 'NUMBER(TCR_EL1_T1SZ)=0x10', 'NUMBER(TCR_EL1_T1SZ)=0x19', /NUMBER\(TCR_EL1_T1SZ\)=25 \(a 39-bit VA\) contradicts NUMBER\(VA_BITS\)=48/],
    ['swapper_pg_dir outside the image', 'SYMBOL(swapper_pg_dir)=ffff8', 'SYMBOL(swapper_pg_dir)=ffff0', /SYMBOL\(swapper_pg_dir\)=0xffff0\w+ is not a kernel-image address for NUMBER\(VA_BITS\)=48/],
    ['no kimage_voffset', 'NUMBER(kimage_voffset)=', 'NUMBER(kimage_xoffset)=', /the dump is an arm64 one but VMCOREINFO lacks NUMBER\(kimage_voffset\)/],
  ];
  it.each(cases)('%s: filter writes every page and exits 5 with one line naming the keys', (name, from, to, re) => {
    const bad = patched(`${name.replace(/\W+/g, '-')}.img`, from, to);
    const out = path.join(dir, `${name.replace(/\W+/g, '-')}.out`);
    const r = cli(['-d', '31', '--json', bad, out]);
    expect(r.code).toBe(5);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
    expect(lines[0]).toMatch(/was written with every page kept$/);
    const report = JSON.parse(r.stdout);
    expect(report.undecided.no_translation).toBe(report.pages.original);
    expect(fs.existsSync(out)).toBe(true);
    const info = cli(['info', bad]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/addrxlat +arm64: /);
  });
});
