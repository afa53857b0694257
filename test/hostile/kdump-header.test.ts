/**
 * A kdump input's header claiming more pfns than its file holds (a forged max_mapnr or
 * bitmap_blocks): one clear line naming the file and the field, exit 4 (EXIT.FORMAT), never a
 * RangeError, a stack trace or an allocation sized by the claim.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '../../bin/vmcore-filter.js');
let dir = '';
let good = '';
let blockSize = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-kdhdr-'));
  const elf = path.join(dir, 's.elf');
  good = path.join(dir, 'good.kdump');
  expect(spawnSync(process.execPath, [BIN, 'sim', '--mem', '64M', elf]).status).toBe(0);
  expect(spawnSync(process.execPath, [BIN, '-d', '31', elf, good]).status).toBe(0);
  blockSize = fs.readFileSync(good).readInt32LE(428);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A copy of the good dump with `patch` applied to its first blocks. */
function forged(name: string, patch: (b: Buffer) => void): string {
  const b = fs.readFileSync(good);
  patch(b);
  const p = path.join(dir, name);
  fs.writeFileSync(p, b);
  return p;
}

function refilter(input: string): { status: number | null; stderr: string; rssKiB: number } {
  const tf = path.join(dir, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', tf, process.execPath, BIN, '-d', '31', '-f', input, path.join(dir, 'out.kdump')], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, rssKiB: Number(fs.readFileSync(tf, 'utf8').trim().split('\n').pop()) };
}

const SUB_MAX_MAPNR_64 = 96;
/** Claim `n` pfns: max_mapnr_64, and the 32-bit max_mapnr saturated as the format says. */
function max64(b: Buffer, n: bigint): void {
  b.writeBigUInt64LE(n, blockSize + SUB_MAX_MAPNR_64);
  b.writeUInt32LE(0xffffffff, 440);
}

describe('forged kdump header: pfn counts the file cannot hold', () => {
  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ['max_mapnr_64 = 2^34, bitmaps unchanged', (b) => max64(b, 2n ** 34n), /bitmap_blocks \d+ cannot hold 0x400000000 pfns/],
    ['max_mapnr_64 = 2^40 + 1 (past what the reader addresses)', (b) => max64(b, 2n ** 40n + 1n), /max_mapnr 0x10000000001 exceeds the limit/],
    ['max_mapnr_64 = 2^63', (b) => b.writeBigUInt64LE(2n ** 63n, blockSize + SUB_MAX_MAPNR_64), /max_mapnr_64 0x8000000000000000 is out of range/],
    ['max_mapnr_64 = 2^34, bitmap_blocks to match (bitmaps past the end)', (b) => {
      max64(b, 2n ** 34n);
      b.writeUInt32LE((2 * 2 ** 31) / blockSize, 436);
    }, /bitmaps end at 0x[0-9a-f]+, past the end of the file/],
    ['bitmap_blocks = 2^32 - 1', (b) => b.writeUInt32LE(0xffffffff, 436), /past the end of the file/],
    ['max_mapnr (32-bit) disagreeing with max_mapnr_64', (b) => b.writeUInt32LE(0x7fffffff, 440), /max_mapnr 0x7fffffff disagrees with max_mapnr_64/],
  ];
  for (const [name, patch, want] of cases) {
    it(`${name}: one line, exit 4`, () => {
      const r = refilter(forged('bad.kdump', patch));
      expect(r.status, r.stderr).toBe(4);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^vmcore-filter: error: .*bad\.kdump: /);
      expect(lines[0]).toMatch(want);
      expect(r.stderr).not.toMatch(/RangeError|ERR_OUT_OF_RANGE|    at /);
      // Nothing sized by the claim: a node process and the header, no 2 GiB bitmap.
      expect(r.rssKiB).toBeLessThan(120 * 1024);
    });
  }
});
