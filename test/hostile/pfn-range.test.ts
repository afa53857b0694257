/**
 * Claimed pfn ranges beyond what can be addressed: a PT_LOAD past x86_64's 52-bit physical
 * space, one whose end wraps 2^64, one claiming 2^64 bytes. Each is one clear line and exit 4
 * (E_LIMIT), never a RangeError or a stack, and nothing is allocated for the claimed size. Memory
 * right at the top of the 52-bit space (max_mapnr 2^40) is filtered: those pages have no struct
 * pages, the dump is the plain image's.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addHighLoad } from '../helpers/high-load.mjs';

const BIN = path.resolve(__dirname, '../../bin/vmcore-filter.js');
const TOP = 2n ** 52n;
const MiB64 = 64n << 20n;

let dir = '';
let plain = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-pfnrange-'));
  plain = path.join(dir, 'plain.elf');
  const r = spawnSync(process.execPath, [BIN, 'sim', '--l5', '--mem', '64M', plain], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function filter(input: string, out: string, extra: string[] = []) {
  return spawnSync(process.execPath, [BIN, '-f', '-d', '31', '-c', ...extra, input, out], { encoding: 'utf8', timeout: 120_000 });
}

describe('a PT_LOAD beyond what can be addressed', () => {
  const past52 = /PT_LOAD #\d+ \[0x[0-9a-f]+\+0x[0-9a-f]+\) exceeds 52-bit physical addresses/;
  const cases: [string, bigint, bigint, RegExp][] = [
    ['crossing 2^52', TOP - 4096n, 8192n, past52],
    ['starting at 2^52', TOP, 4096n, past52],
    ['whose end wraps 2^64', 2n ** 64n - 4096n, 8192n, past52],
    // Refused where the program header is read, as a size no file offset can reach.
    ['claiming 2^64 - 4096 bytes', 0n, 2n ** 64n - 4096n, /ELF p_memsz 0xfffffffffffff000 at offset 0x[0-9a-f]+ is out of range/],
  ];
  for (const [name, paddr, bytes, message] of cases) {
    it(`${name}: one line naming the PT_LOAD, exit 4`, () => {
      const bad = path.join(dir, 'bad.elf');
      addHighLoad(plain, bad, paddr, bytes);
      const r = filter(bad, path.join(dir, 'bad.dump'));
      expect(r.status, r.stderr).toBe(4);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/RangeError|\n\s+at /);
      expect(fs.existsSync(path.join(dir, 'bad.dump'))).toBe(false);
    });
  }
});

describe('memory at the top of the 52-bit space (max_mapnr 2^40)', () => {
  it('is filtered: no struct pages there, the dump the plain image gives', () => {
    const high = path.join(dir, 'high.elf');
    addHighLoad(plain, high, TOP - MiB64, MiB64);
    const a = filter(plain, path.join(dir, 'a.dump'));
    const t0 = performance.now();
    const b = filter(high, path.join(dir, 'b.dump'), ['--json']);
    const ms = performance.now() - t0;
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const rep = JSON.parse(b.stdout);
    expect(rep.pages.total).toBe(2 ** 40);
    expect(rep.classes.no_struct_page).toBe(Number(MiB64 / 4096n));
    // Before the page-table reader took the input's pfn runs, a whole-dump bitmap of 2^37
    // bytes could not be allocated: every page was kept as undecided (no_translation).
    expect(rep.undecided).toEqual({});
    const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    expect(sha(path.join(dir, 'b.dump'))).toBe(sha(path.join(dir, 'a.dump')));
    console.log(`2^40 pfns filtered in ${(ms / 1000).toFixed(1)} s`);
  }, 300_000);
});
