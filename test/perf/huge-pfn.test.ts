/**
 * A pfn space of 2^34 (memory at 60 TiB) filtered in bounded memory: the windowed classifier
 * and writer keep no array proportional to max_mapnr. The input is a 64 MiB simulated machine
 * whose ELF gains one more PT_LOAD: 64 MiB at physical 60 TiB (a sparse file: never read).
 * mem_section has no section there, so those pages are memory without struct pages: excluded,
 * and the output ends at the kernel's memory map, byte-identical to the plain image's output.
 *
 * NOT the sim option of issue 12 part 2 (RAM with struct pages at 60 TiB): the simulator keeps
 * per-pfn arrays and cannot place memory that high yet.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addHighLoad } from '../helpers/high-load.js';

const BIN = path.resolve(__dirname, '../../bin/vmcore-filter.js');
const HIGH = 60 * 2 ** 40;
const HIGH_BYTES = 64 * 2 ** 20;
const RSS_LIMIT_KIB = 160 * 1024;

function run(args: string[]): { status: number | null; rssKiB: number; stdout: string; stderr: string } {
  const tf = path.join(os.tmpdir(), `vmcf-time-${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', tf, process.execPath, BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  const rssKiB = Number(fs.readFileSync(tf, 'utf8').trim().split('\n').pop());
  fs.rmSync(tf, { force: true });
  return { status: r.status, rssKiB, stdout: r.stdout, stderr: r.stderr };
}

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describe('max_mapnr 2^34 (64 MiB at 60 TiB)', () => {
  it(`filters within ${RSS_LIMIT_KIB / 1024} MiB peak RSS, output identical to the plain image's`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-huge-'));
    try {
      const plain = path.join(dir, 'plain.elf');
      const huge = path.join(dir, 'huge.elf');
      expect(run(['sim', '--mem', '64M', plain]).status).toBe(0);
      addHighLoad(plain, huge, BigInt(HIGH), BigInt(HIGH_BYTES));
      const a = run(['-d', '31', '-c', '--json', plain, path.join(dir, 'a.dump')]);
      const b = run(['-d', '31', '-c', '--json', huge, path.join(dir, 'b.dump')]);
      expect(a.status, a.stderr).toBe(0);
      expect(b.status, b.stderr).toBe(0);
      const rep = JSON.parse(b.stdout);
      expect(rep.pages.total).toBe((HIGH + HIGH_BYTES) / 4096);
      expect(rep.pages.total).toBeGreaterThan(2 ** 33.9); // about 2^34, far past the 2^32 limit of before
      console.log(`peak RSS ${b.rssKiB} KiB (plain image: ${a.rssKiB} KiB)`);
      expect(rep.classes.no_struct_page).toBe(HIGH_BYTES / 4096);
      expect(b.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
      expect(sha(path.join(dir, 'b.dump'))).toBe(sha(path.join(dir, 'a.dump')));
      // makedumpfile reads it.
      const m = spawnSync('/usr/bin/makedumpfile', ['--dump-dmesg', path.join(dir, 'b.dump'), path.join(dir, 'dmesg.txt')], { encoding: 'utf8' });
      expect(m.status, m.stderr + m.stdout).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
