/**
 * A kdump input with max_mapnr 2^34 refiltered in bounded memory: its bitmaps (2 GiB each, a
 * sparse file) are read on demand, never whole (formats/kdump/reader-bitmap.ts). The input is a
 * 64 MiB simulated machine's kdump rewritten with a wider pfn space (the bitmaps grow, the pages
 * are the same), so the refilter must equal the same rewrite of the plain refilter's output.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '../../bin/vmcore-filter.js');
const MAX_MAPNR = 2 ** 34;
const RSS_LIMIT_KIB = 160 * 1024;

/** Rewrite kdump `src` as `dst` with `maxMapnr` pfns: bitmaps widened (zeros), descriptors and data moved after them. */
function widenKdump(src: string, dst: string, maxMapnr: number): void {
  const buf = fs.readFileSync(src);
  const bs = buf.readInt32LE(428);
  const subHdr = buf.readInt32LE(432);
  const half = (buf.readUInt32LE(436) * bs) / 2;
  const bm1 = (1 + subHdr) * bs;
  const pd = bm1 + 2 * half;
  let stored = 0;
  for (let i = bm1 + half; i < pd; i++) for (let b = buf[i]!; b; b &= b - 1) stored++;
  const newHalf = Math.ceil(Math.ceil(maxMapnr / 8) / bs) * bs;
  const newPd = bm1 + 2 * newHalf;
  const head = Buffer.from(buf.subarray(0, bm1));
  head.writeUInt32LE((2 * newHalf) / bs, 436);
  head.writeUInt32LE(Math.min(maxMapnr, 0xffffffff), 440);
  head.writeBigUInt64LE(BigInt(maxMapnr), bs + 96);
  const descs = Buffer.from(buf.subarray(pd, pd + 24 * stored));
  for (let o = 0; o < descs.length; o += 24) descs.writeBigInt64LE(descs.readBigInt64LE(o) + BigInt(newPd - pd), o);
  const fd = fs.openSync(dst, 'w');
  fs.writeSync(fd, head, 0, head.length, 0);
  fs.writeSync(fd, buf, bm1, half, bm1);
  fs.writeSync(fd, buf, bm1 + half, half, bm1 + newHalf);
  fs.writeSync(fd, descs, 0, descs.length, newPd);
  fs.writeSync(fd, buf, pd + descs.length, buf.length - pd - descs.length, newPd + descs.length);
  fs.closeSync(fd);
}

function run(args: string[]): { status: number | null; rssKiB: number; stdout: string; stderr: string } {
  const tf = path.join(os.tmpdir(), `vmcf-time-${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', tf, process.execPath, BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  const rssKiB = Number(fs.readFileSync(tf, 'utf8').trim().split('\n').pop());
  fs.rmSync(tf, { force: true });
  return { status: r.status, rssKiB, stdout: r.stdout, stderr: r.stderr };
}

describe('kdump input with max_mapnr 2^34', () => {
  it(`is refiltered within ${RSS_LIMIT_KIB / 1024} MiB peak RSS, its output the widened plain refilter`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-hugekd-'));
    try {
      const elf = path.join(dir, 's.elf');
      const small = path.join(dir, 'small.kdump');
      const wide = path.join(dir, 'wide.kdump');
      expect(run(['sim', '--mem', '64M', elf]).status).toBe(0);
      expect(run(['-d', '1', elf, small]).status).toBe(0);
      widenKdump(small, wide, MAX_MAPNR);
      // The default window (before the output's all-zero bitmap chunks were left as holes this
      // measured 153-159 MiB, most of it 4 GiB of bitmaps in flight; since, 132 MiB).
      const b = run(['-d', '31', '--json', wide, path.join(dir, 'b.kdump')]);
      expect(b.status, b.stderr).toBe(0);
      const rep = JSON.parse(b.stdout);
      expect(rep.pages.total).toBe(MAX_MAPNR);
      console.log(`peak RSS ${b.rssKiB} KiB`);
      expect(b.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
      const a = run(['-d', '31', small, path.join(dir, 'a.kdump')]);
      expect(a.status, a.stderr).toBe(0);
      widenKdump(path.join(dir, 'a.kdump'), path.join(dir, 'a-wide.kdump'), MAX_MAPNR);
      const cmp = spawnSync('cmp', [path.join(dir, 'b.kdump'), path.join(dir, 'a-wide.kdump')], { encoding: 'utf8' });
      expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
