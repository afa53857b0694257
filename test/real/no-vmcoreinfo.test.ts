/**
 * A QEMU dump without VMCOREINFO (a 256 MiB guest booted without `-device vmcoreinfo`,
 * scripts/real/build.mjs): every command says so in one line with what to do, and exits with a
 * documented code (info 0, the others 5); the filter still writes the dump, every page kept
 * (zero pages aside, found by content, when -d has bit 1).
 *
 * `--vmcoreinfo`: the only VMCOREINFO of the same kernel we have is another boot's (the 1 GiB
 * guest's vmcore.elf). KASLR put that kernel elsewhere (KERNELOFFSET, phys_base), so its
 * addresses do not translate in this dump: what is checked is that the text is taken (the
 * kernel is named, the classes are decidable), that the filter then says in one warning where
 * translation fails and keeps every page (exit 0), and that dmesg fails with one line naming
 * the page-table entry that is not in the dump. A matching VMCOREINFO (same boot) would need
 * `makedumpfile -g` with the guest's vmlinux, which Debian's image package does not ship.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openDump } from '../../src/formats/probe.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { KERNEL_IDS, inDump, realSuite } from './dumps.js';
import { dumpcheck } from './compare.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const { dir, manifest } = realSuite({ peers: ['kdumpfile'], tmp: 'real-novi-' });

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HELP = "supply it with --vmcoreinfo FILE (the text `makedumpfile -g` writes); QEMU puts it in its dumps only with `-device vmcoreinfo` and the guest's qemu_fw_cfg module loaded";
const errorLine = (file: string, what: string) => `vmcore-filter: error: ${file}: the dump has no VMCOREINFO: ${what}; ${HELP}\n`;

function assertNoStack(s: string): void {
  expect(s).not.toMatch(/\n\s+at |internal error/);
}

describe.each(KERNEL_IDS)('real %s kernel: QEMU dump without VMCOREINFO', (id) => {
  const m = () => manifest(id);
  const novi = () => inDump(m()!, m()!.noVmcoreinfo!.file);

  it('the dump really has none, and is otherwise whole', () => {
    if (!m()) return;
    const r = openDump(novi());
    try {
      expect(r.vmcoreinfoText).toBeNull();
      expect(r.present.count()).toBeGreaterThan((m()!.noVmcoreinfo!.memMiB - 16) * 256);
      expect(r.warnings ?? []).toEqual([]);
    } finally {
      r.close();
    }
  });

  it('info: describes the dump, one warning line saying what to do, exit 0', () => {
    if (!m()) return;
    const r = cli(['info', novi()]);
    expect(r.status).toBe(0);
    assertNoStack(r.stderr);
    expect(r.stdout).toContain('VMCOREINFO     none');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  warning: '))).toEqual([
      `  warning: the dump has no VMCOREINFO: every page is kept; ${HELP}`,
    ]);
    const j = JSON.parse(cli(['info', '--json', novi()]).stdout);
    expect(j.vmcoreinfo.source).toBe('none');
    expect(j.warnings).toEqual([`the dump has no VMCOREINFO: every page is kept; ${HELP}`]);
  });

  it('stats, map, dmesg: one error line, exit 5', () => {
    if (!m()) return;
    const s = cli(['stats', '--sample', '4096', novi()]);
    expect(s.status).toBe(5);
    expect(s.stderr).toBe(errorLine(novi(), 'no page can be classified (all are counted as unknown)'));
    const mp = cli(['map', '--json', novi()]);
    expect(mp.status).toBe(5);
    expect(mp.stderr).toBe(errorLine(novi(), 'no page can be classified (the map shows them undecided)'));
    expect(JSON.parse(mp.stdout).pages.unknown).toBeGreaterThan(0);
    const d = cli(['dmesg', novi()]);
    expect(d.status).toBe(5);
    expect(d.stdout).toBe('');
    expect(d.stderr).toBe(errorLine(novi(), 'the kernel log cannot be found'));
  });

  it.each([0, 31])('filter -d %i: writes the dump with every page kept (zero pages aside at odd levels), then exits 5 with one line', (level) => {
    if (!m()) return;
    const out = path.join(dir, `${id}-d${level}`);
    const r = cli(['-d', String(level), '--json', '-f', novi(), out]);
    expect(r.status).toBe(5);
    assertNoStack(r.stderr);
    const rep = JSON.parse(r.stdout);
    const zero = rep.excluded.zero as number;
    expect(r.stderr).toBe(errorLine(novi(), `${out} was written with every page kept${zero ? `, except ${zero} zero-filled pages (found by content)` : ''}`));
    expect(rep.undecided).toEqual({ no_vmcoreinfo: rep.pages.original });
    expect(rep.pages.excluded).toBe(zero);
    if (level === 0) expect(zero).toBe(0);
    else expect(zero).toBeGreaterThan(0);
    // libkdumpfile reads the output: every present page is in it and reads as the input's (the
    // zero pages -d 31 excludes are kdump's one shared zero page, still in the bitmap).
    const o = dumpcheck(out, novi());
    expect(o.mismatches).toEqual([]);
    expect(o.unreadable).toEqual([]);
    expect(o.identical).toBe(o.dumpable);
    expect(o.dumpable).toBe(rep.pages.original);
    const k = KdumpReader.open(out);
    const inp = openDump(novi());
    try {
      expect(Buffer.from(k.present.bytes).equals(Buffer.from(inp.present.bytes))).toBe(true);
      expect(Buffer.from(k.dumpable.bytes).equals(Buffer.from(inp.present.bytes))).toBe(true);
    } finally {
      k.close();
      inp.close();
    }
  });

  it('--vmcoreinfo with the same kernel\'s text from another boot: taken, and where translation fails is said in one line', () => {
    if (!m()) return;
    const r = openDump(inDump(m()!, m()!.dumps.files.elf));
    const text = r.vmcoreinfoText!.replace(/\0+$/, '');
    r.close();
    const vi = path.join(dir, `${id}.vmcoreinfo`);
    fs.writeFileSync(vi, text);

    const info = JSON.parse(cli(['info', '--json', '--vmcoreinfo', vi, novi()]).stdout);
    expect(info.vmcoreinfo.source).toBe('file');
    expect(info.kernel.release).toBe(m()!.kernel.kver);
    expect(info.classes.free.decidable).toBe(true);
    expect(info.memMap.sections).toBe(0);

    const out = path.join(dir, `${id}-vi`);
    const f = cli(['-d', '31', '--json', '--vmcoreinfo', vi, '-f', novi(), out]);
    expect(f.status, f.stderr).toBe(0);
    expect(f.stderr).toBe('');
    const rep = JSON.parse(f.stdout);
    expect(rep.input.osrelease).toBe(m()!.kernel.kver);
    expect(rep.undecided).toEqual({ root_unreadable: rep.pages.original });
    expect(rep.warnings).toHaveLength(1);
    // Another boot's page tables under KASLR: the walk stops at an entry this dump lacks or at a
    // non-present one, depending on where the two boots' kernels landed.
    expect(rep.warnings[0]).toMatch(
      /^no section's mem_map can be read \(root_unreadable: mem_section root array at 0x[0-9a-f]+ unreadable: cannot translate 0x[0-9a-f]+: P[GU4M]D entry (?:at physical 0x[0-9a-f]+ is not in the dump|not present)\): every page is kept; is the VMCOREINFO this boot's\?$/,
    );
    // The output carries the supplied VMCOREINFO as its note.
    const k = KdumpReader.open(out);
    try {
      expect(k.vmcoreinfoText?.replace(/\0+$/, '')).toBe(text);
    } finally {
      k.close();
    }

    const d = cli(['dmesg', '--vmcoreinfo', vi, novi()]);
    expect(d.status).toBe(4);
    expect(d.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(d.stderr).toMatch(/^vmcore-filter: error: dmesg: reading prb \(SYMBOL\(prb\)\) at 0x[0-9a-f]+: cannot translate 0x[0-9a-f]+: P[GU4M]D entry (?:at physical 0x[0-9a-f]+ is not in the dump|not present)\n$/);
  });
});
