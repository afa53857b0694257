/**
 * arm64 simulator images against the peers that read arm64 (Debian's amd64 makedumpfile and
 * crash are built for x86_64 only): drgn walks the aarch64 page tables itself and must read
 * every struct page exactly as our translator does; libkdumpfile's addrxlat translates the
 * linear map from VMCOREINFO as we do; our kdump output in every codec and our ELF output, at
 * 4, 16 and 64 KiB pages, read back through libkdumpfile with the truth's page set and every
 * kept page byte-identical to the image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate, truthClassArray, CLASS_CODE, type GroundTruth } from '../../src/sim/index.js';
import { ARM64_FIXTURES } from '../../src/sim/fixtures-cli.js';
import { excludedClasses } from '../../src/filter/index.js';
import { openDump } from '../../src/formats/probe.js';
import { KernelMemory } from '../../src/memory/kernel.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { PYTHON, requirePeer } from '../helpers/peers.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const DUMPCHECK = path.resolve('test/interop/py/dumpcheck.py');
const ARM64CHECK = path.resolve('test/interop/py/arm64check.py');
const CODECS: [string, string[]][] = [
  ['zlib', ['-c']],
  ['lzo', ['-l']],
  ['snappy', ['-p']],
  ['zstd', ['-z']],
  ['none', []],
];
const LEVEL = 31;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Present pfns of the truth's PT_LOADs as [start, end) runs. */
function loadRuns(truth: GroundTruth): [number, number][] {
  const ps = truth.layout.pageSize!;
  return truth.layout.loads.map((r) => [r.start / ps, r.end / ps]);
}

describe.each(Object.entries(ARM64_FIXTURES))('arm64 %s vs peers', (name, row) => {
  let dir = '';
  let image = '';
  let truth: GroundTruth;
  const hasPeers = requirePeer('kdumpfile') && requirePeer('drgn');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `vf-${name}-`));
    image = path.join(dir, 'vmcore.img');
    truth = (await simulate(image, { kernel: row.kernel, seed: 3, memBytes: row.memBytes, arch: 'arm64', pageSize: row.pageSize, vaBits: row.vaBits, kaslr: true })).truth;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('drgn reads every struct page as our translator does; libkdumpfile translates the linear map as we do', () => {
    if (!hasPeers) return;
    const runs = loadRuns(truth);
    const out = path.join(dir, 'structpages.bin');
    const sp = 64;
    const r = run(PYTHON, [ARM64CHECK, image, truth.layout.vmemmap.replace(/^0x/, ''), String(sp), out, ...runs.map(([s, e]) => `${s}-${e}`)]);
    expect(r.status, r.stderr).toBe(0);
    const peer = JSON.parse(r.stdout) as { page_size: number; linear: [string, string][]; kimage_failure: string | null };
    expect(peer.page_size).toBe(row.pageSize);
    const theirs = fs.readFileSync(out);
    const d = openDump(image);
    try {
      const vi = parseVmcoreinfo(d.vmcoreinfoText!);
      const mem = new KernelMemory(d, vi);
      expect(mem.translator.arch).toBe('arm64');
      const vmemmap = BigInt(truth.layout.vmemmap);
      const chunks: Buffer[] = [];
      for (const [s, e] of runs) chunks.push(Buffer.from(mem.readVirt(vmemmap + BigInt(s * sp), (e - s) * sp)));
      const ours = Buffer.concat(chunks);
      expect(ours.length).toBe(theirs.length);
      expect(ours.equals(theirs)).toBe(true);
      expect(peer.linear.length).toBeGreaterThan(10);
      for (const [va, pa] of peer.linear) expect(`${va} ${mem.translator.translate(BigInt(va)).toString(16)}`).toBe(`${va} ${pa.replace(/^0x/, '')}`);
    } finally {
      d.close();
    }
  });

  it.each(CODECS)(`-d ${LEVEL} %s: libkdumpfile reads the truth's page set, every page identical`, (codec, flags) => {
    if (!hasPeers) return;
    const ours = path.join(dir, `ours-${codec}.dump`);
    const r = run(process.execPath, [BIN, ...flags, '-d', String(LEVEL), '--json', '-f', image, ours]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).pages.excluded).toBe(truth.excludeByLevel[LEVEL]);
    const hdr = fs.readFileSync(ours).subarray(0, 0x200);
    expect(hdr.toString('latin1', 0, 8)).toBe('KDUMP   ');
    expect(hdr.toString('latin1', 12 + 4 * 65, 12 + 4 * 65 + 7)).toBe('aarch64'); // utsname.machine
    expect(hdr.readInt32LE(428)).toBe(row.pageSize); // block_size
    // kdump: zero-content pages stay in the 2nd bitmap, their page_desc shares one zero page
    check(ours, true);
  });

  it(`-E -d ${LEVEL}: the ELF output keeps EM_AARCH64 and reads back through libkdumpfile`, () => {
    if (!hasPeers) return;
    const ours = path.join(dir, 'ours.elf');
    const r = run(process.execPath, [BIN, '-E', '-d', String(LEVEL), '-f', image, ours]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(ours).readUInt16LE(18)).toBe(183);
    check(ours, false);
  });

  function check(dump: string, zeroKept: boolean): void {
    const bm = dump + '.bitmap';
    const c = run(PYTHON, [DUMPCHECK, dump, image, bm]);
    expect(c.status, c.stderr).toBe(0);
    const res = JSON.parse(c.stdout) as { dumpable: number; identical: number; mismatches: number[]; unreadable: unknown[] };
    expect(res.mismatches).toEqual([]);
    expect(res.unreadable).toEqual([]);
    expect(res.identical).toBe(res.dumpable);
    const bits = new Uint8Array(fs.readFileSync(bm));
    const cls = truthClassArray(truth);
    const ex = excludedClasses(LEVEL);
    let wrong = 0;
    let kept = 0;
    for (let p = 0; p < truth.layout.maxMapnr; p++) {
      const name = Object.entries(CLASS_CODE).find(([, v]) => v === cls[p])![0];
      const keep = name !== 'hole' && (name !== 'zero' || zeroKept) && name !== 'unaccepted' && !ex.has(name as never);
      const got = (bits[p >>> 3]! >> (p & 7)) & 1;
      if (got !== (keep ? 1 : 0)) wrong++;
      kept += got;
    }
    expect(wrong).toBe(0);
    expect(kept).toBe(res.dumpable);
  }
});
