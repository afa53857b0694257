/**
 * crash 8.0.2 (Debian 12) with each kernel's debug vmlinux (from its -dbg package, fetched by
 * scripts/real/build.mjs) on vmcore-filter's dumps: the capture's `-d 31 -l` dump of /proc/vmcore
 * and our refilter of QEMU's ELF. The same commands on makedumpfile's dump of the same memory
 * must print the same (but for the DUMPFILE line). crash 8.0.2 predates Linux 6.4's module
 * layout and cannot open any 6.12 dump: that is checked on both tools' dumps, so the README's
 * statement stays true.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filterDump } from '../../src/writer/pipeline.js';
import { inDump, realSuite } from './dumps.js';
import { makedumpfile } from './compare.js';

const { dir, manifest } = realSuite({ peers: ['crash', 'makedumpfile'], tmp: 'real-crash-' });

function crash(vmlinux: string, dump: string, commands: string[]): { status: number | null; out: string } {
  const cmd = path.join(dir, 'cmds');
  fs.writeFileSync(cmd, [...commands, 'quit', ''].join('\n'));
  const r = spawnSync('/usr/bin/crash', ['-s', vmlinux, dump, '-i', cmd], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  // crash's own warnings and the DUMPFILE line name the file; the rest must match.
  const out = (r.stdout + r.stderr).split('\n').filter((l) => !/DUMPFILE:|^\s*$/.test(l)).join('\n');
  return { status: r.status, out };
}

describe('crash 8.0.2 with the debug vmlinux', () => {
  it('6.1 capture: sys, kmem -i and the panic backtrace read the same from our dump as from makedumpfile\'s', () => {
    const m = manifest('6.1');
    if (!m) return;
    const cmds = ['sys', 'kmem -i', 'bt'];
    const ours = crash(m.debugVmlinux!, inDump(m, m.capture!.tools['vmcore-filter'].dump), cmds);
    const mdf = crash(m.debugVmlinux!, inDump(m, m.capture!.tools.makedumpfile.dump), cmds);
    expect(ours.out).toMatch(/RELEASE: 6\.1\.0-\d+-amd64/);
    expect(ours.out).toContain('PANIC: "Kernel panic - not syncing: sysrq triggered crash"');
    expect(ours.out).toContain('sysrq_handle_crash');
    expect(ours.out).toMatch(/TOTAL HUGE\s+8192/);
    expect(ours.out).toBe(mdf.out);
  });

  it('6.1 QEMU dump: our -d 31 -l refilter opens, and kmem -i matches makedumpfile\'s dump', async () => {
    const m = manifest('6.1');
    if (!m) return;
    const ours = path.join(dir, 'ours.d31');
    const mdf = path.join(dir, 'mdf.d31');
    await filterDump(inDump(m, m.dumps.files.elf), ours, { dumpLevels: [31], format: 'kdump', codec: 'lzo', force: true });
    expect(makedumpfile(inDump(m, m.dumps.files.elfPhdr64), 31, mdf, ['-l']).status).toBe(0);
    const a = crash(m.debugVmlinux!, ours, ['sys', 'kmem -i']);
    const b = crash(m.debugVmlinux!, mdf, ['sys', 'kmem -i']);
    expect(a.out).toMatch(/RELEASE: 6\.1\.0-\d+-amd64/);
    expect(a.out).toMatch(/TOTAL MEM\s+\d+/);
    expect(a.out).toBe(b.out);
  });

  it('6.12: crash 8.0.2 cannot open a 6.12 dump from either tool (Linux 6.4 module layout)', () => {
    const m = manifest('6.12');
    if (!m) return;
    for (const tool of ['vmcore-filter', 'makedumpfile'] as const) {
      const dump = inDump(m, m.capture!.tools[tool].dump);
      const r = crash(m.debugVmlinux!, dump, ['sys']);
      expect(r.status, tool).not.toBe(0);
      expect(r.out, tool).not.toContain('RELEASE:');
    }
  });
});
