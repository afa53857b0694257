#!/usr/bin/env node
/**
 * Huge pfn spaces, measured: a 64 MiB simulated machine (5-level page tables) whose ELF gains one
 * more 64 MiB PT_LOAD at a high physical address (default just below 2^52: max_mapnr 2^40), filtered
 * at -d 31 -c. Prints wall time and peak RSS (/usr/bin/time), the output's apparent size and disk
 * use (bitmap chunks that are all zero are holes), and whether the output equals the plain image's.
 *
 *   node bench/huge-pfn.mjs [--at BYTES] [--kept] [--split] [--peers] [--dir DIR]
 *
 * --kept: give a VMCOREINFO without struct page keys, so every page is kept (undecided) and the
 * output's max_mapnr is not cut: two bitmaps of max_mapnr/8 bytes each (128 GiB at 2^40), mostly
 * holes. --split: three parts instead of one file. --peers: then time makedumpfile --dump-dmesg and
 * libkdumpfile's open of the output (each stopped after 180 s). Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addHighLoad } from '../test/helpers/high-load.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '..', 'bin', 'vmcore-filter.js');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const at = BigInt(opt('--at', String(2n ** 52n - (64n << 20n))));
const dir = opt('--dir', fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-hugepfn-')));
const kept = args.includes('--kept');
const split = args.includes('--split');

/** Run under /usr/bin/time: exit status, seconds, peak RSS in MiB. */
function timed(cmd, argv, timeout = 0) {
  const tf = path.join(dir, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', tf, ...(timeout ? ['timeout', String(timeout)] : []), cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const [s, kib] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { status: r.status, s, mib: Math.round(kib / 1024), stderr: r.stderr.trim().split('\n').slice(-2).join(' | ') };
}
const du = (f) => {
  const st = fs.statSync(f);
  return `${(st.size / 2 ** 30).toFixed(1)} GiB apparent, ${(st.blocks * 512 / 2 ** 20).toFixed(1)} MiB on disk`;
};

const plain = path.join(dir, 'plain.elf');
const high = path.join(dir, 'high.elf');
if (spawnSync(process.execPath, [BIN, 'sim', '-f', '--l5', '--mem', '64M', plain]).status !== 0) throw new Error('sim failed');
// 5-level x86_64's direct map (the sim is --l5).
addHighLoad(plain, high, at, 64n << 20n, 0xff11000000000000n);
const extra = [];
if (kept) {
  fs.writeFileSync(path.join(dir, 'vmcoreinfo.txt'), 'OSRELEASE=6.0.0\nPAGESIZE=4096\n');
  extra.push('--vmcoreinfo', path.join(dir, 'vmcoreinfo.txt'));
}
const outs = split ? [0, 1, 2].map((i) => path.join(dir, `part${i}.dump`)) : [path.join(dir, 'out.dump')];
const r = timed(process.execPath, [BIN, 'filter', '-f', '-d', '31', '-c', ...(split ? ['--split'] : []), ...extra, high, ...outs]);
console.log(`PT_LOAD at ${at} (max_mapnr ${(Number(at) + 2 ** 26) / 4096}), ${kept ? 'every page kept' : 'VMCOREINFO as simulated'}${split ? ', --split 3' : ''}`);
console.log(`vmcore-filter: exit ${r.status}, ${r.s} s, ${r.mib} MiB peak RSS${r.status ? ` (${r.stderr})` : ''}`);
for (const o of outs) if (fs.existsSync(o)) console.log(`  ${path.basename(o)}: ${du(o)}`);
if (!kept && !split) {
  const ref = path.join(dir, 'plain.dump');
  spawnSync(process.execPath, [BIN, 'filter', '-f', '-d', '31', '-c', plain, ref]);
  console.log(`  equals the plain image's dump: ${fs.readFileSync(ref).equals(fs.readFileSync(outs[0]))}`);
}
if (args.includes('--peers')) {
  const m = timed('/usr/bin/makedumpfile', ['--dump-dmesg', outs[0], path.join(dir, 'dmesg.txt')], 180);
  console.log(`makedumpfile --dump-dmesg: exit ${m.status}${m.status === 124 ? ' (stopped)' : ''}, ${m.s} s, ${m.mib} MiB (${m.stderr})`);
  const py = 'import kdumpfile,sys\nk=kdumpfile.kdumpfile(sys.argv[1])\nprint(len(k.read(kdumpfile.KDUMP_MACHPHYSADDR,0x100000,4096)))';
  const k = timed('/usr/bin/python3', ['-c', py, outs[0]], 180);
  console.log(`libkdumpfile open + read: exit ${k.status}${k.status === 124 ? ' (stopped)' : k.status === 139 || k.status === null ? ' (SIGSEGV)' : ''}, ${k.s} s, ${k.mib} MiB`);
}
if (!opt('--dir', '')) fs.rmSync(dir, { recursive: true, force: true });
