/**
 * QEMU 7.2's own kdump-zlib file (dump-guest-memory format=kdump-zlib, flattened) as input to
 * every command, against the ELF QEMU wrote of the same guest at the same moment
 * (scripts/real/build.mjs): the same answers from both, and what QEMU's header gets wrong.
 *
 * What QEMU's kdump-zlib holds (checked below): header_version 6, dump_level 1 in the sub-header
 * but every page of every PT_LOAD stored (zero pages too: dumpable = present), the same pfns as
 * the ELF's PT_LOADs, utsname with only `machine` filled (release empty: vmcore-filter takes
 * VMCOREINFO's OSRELEASE), no timestamp, and a phys_base that is VMCOREINFO's decimal
 * NUMBER(phys_base) parsed as hex (QEMU's vmcoreinfo_get_phys_base): vmcore-filter warns and uses
 * the kernel's value, in what it reports and in what it writes.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { filterDump } from '../../src/writer/pipeline.js';
import type { FilterReport } from '../../src/writer/report.js';
import { openDump } from '../../src/formats/probe.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { dumpStatsFile } from '../../src/triage/stats.js';
import { KERNEL_IDS, inDump, realSuite } from './dumps.js';
import { dumpcheck, makedumpfile } from './compare.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const { dir, manifest } = realSuite({ peers: ['makedumpfile', 'kdumpfile'], tmp: 'real-qemu-kdump-' });

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 600_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** NUMBER(phys_base) of the dump's VMCOREINFO, as the kernel wrote it, and as u64. */
function kernelPhysBase(file: string): { text: string; value: bigint } {
  const r = openDump(file);
  try {
    const vi = parseVmcoreinfo(r.vmcoreinfoText!);
    return { text: vi.raw('NUMBER(phys_base)')!, value: BigInt.asUintN(64, vi.number('phys_base')!) };
  } finally {
    r.close();
  }
}

/** QEMU's reading of the decimal text: as hex digits, a leading '-' negating (strtoull base 16). */
function qemuPhysBase(text: string): bigint {
  const neg = text.startsWith('-');
  return BigInt.asUintN(64, (neg ? -1n : 1n) * BigInt('0x' + (neg ? text.slice(1) : text)));
}

describe.each(KERNEL_IDS)('real %s kernel: QEMU kdump-zlib input', (id) => {
  const m = () => manifest(id);
  const elf = () => inDump(m()!, m()!.dumps.files.elf);
  const kd = () => inDump(m()!, m()!.dumps.files.kdumpZlib);

  it('QEMU\'s header: phys_base is NUMBER(phys_base) read as hex; release empty; every page stored; dump_level 1', () => {
    if (!m()) return;
    const pb = kernelPhysBase(kd());
    expect(kernelPhysBase(elf())).toEqual(pb);
    const r = KdumpReader.open(kd());
    try {
      expect(r.format).toBe('flattened');
      expect(r.subHeader.physBase).toBe(qemuPhysBase(pb.text));
      expect(r.subHeader.physBase).not.toBe(pb.value);
      expect(r.header.release).toBe('');
      expect(r.header.machine).toBe('x86_64');
      expect(r.kdump.dumpLevel).toBe(1);
      expect(r.kdump.codec).toBe('zlib');
      // dump_level 1 notwithstanding, nothing is left out: zero pages are stored like any other.
      expect(r.dumpable.count()).toBe(r.present.count());
      // What vmcore-filter uses: the kernel's phys_base and release, with one warning.
      expect(r.info.physBase).toBe(pb.value);
      expect(r.info.utsname.release).toBe(m()!.kernel.kver);
      const w = r.warnings.filter((x) => x.code === 'phys_base');
      expect(w.map((x) => x.message)).toEqual([
        `the kdump header's phys_base 0x${r.subHeader.physBase.toString(16)} disagrees with VMCOREINFO's NUMBER(phys_base)=${pb.text} (0x${pb.value.toString(16)}); using VMCOREINFO's`,
      ]);
      const e = openDump(elf());
      try {
        expect(r.maxMapnr).toBe(e.maxMapnr);
        expect(Buffer.from(r.present.bytes).equals(Buffer.from(e.present.bytes))).toBe(true);
      } finally {
        e.close();
      }
    } finally {
      r.close();
    }
  });

  it('info names the kernel and warns once about phys_base (text and --json); the ELF has no such warning', () => {
    if (!m()) return;
    const pb = kernelPhysBase(kd());
    const text = cli(['info', kd()]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`kernel         ${m()!.kernel.kver} x86_64`);
    expect(text.stdout.split('\n').filter((l) => /phys_base .* disagrees/.test(l))).toHaveLength(1);
    const j = JSON.parse(cli(['info', '--json', kd()]).stdout);
    expect(j.physBase).toBe('0x' + pb.value.toString(16));
    expect(j.kdump.physBase).toBe('0x' + qemuPhysBase(pb.text).toString(16)); // the header, as written
    expect(j.warnings.filter((w: string) => /phys_base .* disagrees/.test(w))).toHaveLength(1);
    const je = JSON.parse(cli(['info', '--json', elf()]).stdout);
    expect(je.warnings.filter((w: string) => /phys_base/.test(w))).toEqual([]);
    expect(je.physBase).toBe(j.physBase);
    // Same answers from both inputs.
    expect(j.kernel.release).toBe(je.kernel.release);
    expect(j.pageTypes).toEqual(je.pageTypes);
    expect(j.classes).toEqual(je.classes);
    expect(j.memMap).toEqual(je.memMap);
    expect(j.memory.ranges).toEqual(je.memory.ranges);
  });

  it('stats: the kernel named, the phys_base warning, per-class (and per-zone, per-range) counts equal the ELF\'s', () => {
    if (!m()) return;
    const s = dumpStatsFile(kd(), { sampleEvery: 4096 });
    const se = dumpStatsFile(elf(), { sampleEvery: 4096 });
    expect(s.kernel).toBe(m()!.kernel.kver);
    expect(s.warnings.filter((w) => /phys_base .* disagrees/.test(w))).toHaveLength(1);
    expect(se.warnings.filter((w) => /phys_base/.test(w))).toEqual([]);
    expect(s.classes).toEqual(se.classes);
    expect(s.zones).toEqual(se.zones);
    expect(s.ranges).toEqual(se.ranges);
    const text = cli(['stats', '--sample', '4096', kd()]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`flattened, kernel ${m()!.kernel.kver}, page size 4096`);
  });

  it('dmesg: the same text, line for line', () => {
    if (!m()) return;
    const a = cli(['dmesg', kd()]);
    const b = cli(['dmesg', elf()]);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(a.stdout).toBe(b.stdout);
  });

  it('map --json: the same page classes and cells', () => {
    if (!m()) return;
    const a = JSON.parse(cli(['map', '--json', kd()]).stdout);
    const b = JSON.parse(cli(['map', '--json', elf()]).stdout);
    expect(a.kernel).toBe(m()!.kernel.kver);
    expect(a.pages).toEqual(b.pages);
    expect(a.cells).toEqual(b.cells);
  });

  it.each([31, 0])('filter -d %i: the same counts and the same kept pages, byte for byte, as from the ELF; our header says the kernel\'s phys_base', async (level) => {
    if (!m()) return;
    const pb = kernelPhysBase(kd());
    const fromKd = path.join(dir, `${id}-d${level}.from-kdump`);
    const fromElf = path.join(dir, `${id}-d${level}.from-elf`);
    const a: FilterReport = await filterDump(kd(), fromKd, { dumpLevels: [level], format: 'kdump', codec: level ? 'lzo' : undefined, force: true });
    const b: FilterReport = await filterDump(elf(), fromElf, { dumpLevels: [level], format: 'kdump', codec: level ? 'lzo' : undefined, force: true });
    expect(a.input.osrelease).toBe(m()!.kernel.kver);
    expect(a.warnings.filter((w) => /phys_base .* disagrees/.test(w))).toHaveLength(1);
    expect(a.classes).toEqual(b.classes);
    expect(a.excluded).toEqual(b.excluded);
    expect(a.pages).toEqual(b.pages);
    expect(a.undecided).toEqual(b.undecided);
    // The two outputs are the same file (bitmaps, descriptors, pages, notes, sub-header) but for
    // three utsname fields of the main header: from the ELF, vmcore-filter reads init_uts_ns;
    // QEMU's kdump header has only `machine`, and the release comes from OSRELEASE, so nodename,
    // version and domainname stay empty.
    const x = fs.readFileSync(fromKd);
    const y = fs.readFileSync(fromElf);
    expect(x.length).toBe(y.length);
    const UTS = 65;
    for (const f of [1, 3, 5]) {
      expect(x.subarray(12 + f * UTS, 12 + (f + 1) * UTS).every((c) => c === 0)).toBe(true);
      x.set(y.subarray(12 + f * UTS, 12 + (f + 1) * UTS), 12 + f * UTS);
    }
    expect(x.equals(y)).toBe(true);
    const r = KdumpReader.open(fromKd);
    try {
      expect(r.subHeader.physBase).toBe(pb.value);
      expect(r.header.release).toBe(m()!.kernel.kver);
      expect(r.warnings).toEqual([]);
    } finally {
      r.close();
    }
    // libkdumpfile reads it; every kept page is the ELF's page.
    const o = dumpcheck(fromKd, elf());
    expect(o.mismatches).toEqual([]);
    expect(o.unreadable).toEqual([]);
    expect(o.identical).toBe(o.dumpable);
    expect(o.dumpable).toBe(a.pages.remaining + a.excluded.zero); // zero pages: the one shared zero page
  });

  it('makedumpfile 1.7.2 on our refiltered output: no longer misled by phys_base', () => {
    if (!m()) return;
    const out = path.join(dir, `${id}-mdf-in`);
    const res = cli(['-d', '31', '-l', '-f', kd(), out]);
    expect(res.status, res.stderr).toBe(0);
    const r = makedumpfile(out, 31, path.join(dir, `${id}-mdf-out`));
    // With QEMU's header value copied (as before), 1.7.2 stops at
    // "check_release: Can't get the address of system_utsname."
    expect(r.text).not.toContain('system_utsname');
    expect(r.text).toContain(`phys_base        : 0x${kernelPhysBase(kd()).value.toString(16)}`);
    // 1.7.2 refilters no kdump file whose max_mapnr reaches past the last memory section (it
    // ends "makedumpfile Failed." right after "Excluding unnecessary pages", at -d 0 too, without
    // a message). QEMU's PT_LOADs of the VGA framebuffer at 0xfd000000 and the BIOS ROM at
    // 0xfffc0000 make the input's 0x100000; our output stops at the last page with a struct
    // page (no_struct_page pages are never written), 0x40000 as in makedumpfile's own dumps.
    const reader = KdumpReader.open(out);
    expect(reader.maxMapnr).toBe(0x40000);
    reader.close();
    expect(r.status, r.text).toBe(0);
  });

  it('makedumpfile 1.7.2 refilters what vmcore-filter writes of a dump whose max_mapnr ends at RAM (its own, of the ELF)', () => {
    if (!m()) return;
    const theirs = path.join(dir, `${id}-theirs`);
    const t = makedumpfile(inDump(m()!, m()!.dumps.files.elfPhdr64), 31, theirs);
    expect(t.status, t.text).toBe(0);
    const ours = path.join(dir, `${id}-ours-of-theirs`);
    const res = cli(['-d', '31', '-l', '-f', theirs, ours]);
    expect(res.status, res.stderr).toBe(0);
    const r = makedumpfile(ours, 31, path.join(dir, `${id}-theirs-again`));
    expect(r.status, r.text).toBe(0);
    const o = dumpcheck(ours, elf());
    expect(o.mismatches).toEqual([]);
    expect(o.identical).toBe(o.dumpable);
  });
});
