/**
 * The real kdump capture (scripts/real/build.mjs): each Debian kernel booted with
 * crashkernel=256M loads a capture kernel with `kexec -p`, panics through /proc/sysrq-trigger,
 * and the capture kernel runs `vmcore-filter makedumpfile -l --message-level 7 -d 31
 * /proc/vmcore …` (node and the CLI bundle from a virtio disk) and then Debian's makedumpfile
 * with the same arguments on the same /proc/vmcore. The host reads both dumps off the disk with
 * debugfs. Here: both collectors succeeded; both dumps open in libkdumpfile; every page both
 * keep is the same bytes; every page one keeps and the other drops falls under a rule of
 * test/real/compare.ts; the capture's memory and times are within bounds.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/filter/classes.js';
import { PYTHON } from '../helpers/peers.js';
import { KERNEL_IDS, inDump, realSuite } from './dumps.js';
import { RULES, classify, mdfSeesCompound, structPageMapping, type Ctx } from './compare.js';

const PAIR = path.resolve('test/real/py/pair.py');
const { manifest } = realSuite({ peers: ['kdumpfile'] });

function pair(a: string, b: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-pair-'));
  try {
    const r = spawnSync(PYTHON, [PAIR, a, b, path.join(dir, 'a'), path.join(dir, 'b')], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(r.stderr);
    return { ...JSON.parse(r.stdout), a: new Uint8Array(fs.readFileSync(path.join(dir, 'a'))), b: new Uint8Array(fs.readFileSync(path.join(dir, 'b'))) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(KERNEL_IDS)('real %s kernel: kdump capture on /proc/vmcore', (id) => {
  const m = () => manifest(id);

  it('the capture kernel ran both collectors to completion in crashkernel=256M', () => {
    if (!m()) return;
    const c = m()!.capture!;
    expect(c).toBeTruthy();
    expect(c.crashkernelMiB).toBe(256);
    for (const tool of ['vmcore-filter', 'makedumpfile'] as const) {
      const t = c.tools[tool];
      const log = fs.readFileSync(inDump(m()!, t.log), 'utf8');
      expect(t.rc, `${tool}: ${log}`).toBe(0);
      expect(log).toContain('makedumpfile Completed.');
      expect(fs.statSync(inDump(m()!, t.dump)).size).toBeGreaterThan(1 << 20);
    }
    // node, the bundle and the job fit in what the capture kernel has (about 200 MiB free).
    expect(c.tools['vmcore-filter'].maxRssKiB).toBeLessThan(128 * 1024);
    const memTotal = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync(path.join(m()!.dir, 'capture', 'meminfo.txt'), 'utf8'))?.[1]);
    expect(memTotal).toBeLessThan(256 * 1024);
  });

  it('both dumps hold the same bytes for every page both keep; each difference has a rule', () => {
    if (!m()) return;
    const c = m()!.capture!;
    const ours = inDump(m()!, c.tools['vmcore-filter'].dump);
    const mdf = inDump(m()!, c.tools.makedumpfile.dump);
    const p = pair(ours, mdf);
    expect(p.mismatches).toEqual([]);
    expect(p.unreadable).toEqual([]);
    expect(p.identical).toBe(p.both);
    expect(p.both).toBeGreaterThan(10_000);
    // Classes come from each dump's own mem_map (kept by both): a page only one dump holds is
    // classified from that dump.
    const clsOurs = classify(ours, 31);
    const clsMdf = classify(mdf, 31);
    const seesCompound = mdfSeesCompound(mdf);
    // mem_map is kernel data: both dumps hold it.
    const mapping = structPageMapping(ours);
    const byRule: Record<string, number> = {};
    const unexplained: Record<string, number[]> = {};
    const n = Math.max(p.max_pfn_a, p.max_pfn_b);
    for (let pfn = 0; pfn < n; pfn++) {
      const o = (p.a[pfn >>> 3] >> (pfn & 7)) & 1;
      const d = (p.b[pfn >>> 3] >> (pfn & 7)) & 1;
      if (o === d) continue;
      const cls = o ? clsOurs : clsMdf;
      const head = pfn & ~511;
      const ctx: Ctx = {
        pfn,
        level: 31,
        cls: CLASS_NAMES[cls.classOf[pfn] ?? 0]!,
        headCls: CLASS_NAMES[clsOurs.classOf[head] || clsMdf.classOf[head] || 0]!,
        mdf: p.b,
        mdfMaxPfn: p.max_pfn_b,
        ours: p.a,
        mdfSeesCompound: seesCompound,
        mapping,
      };
      const rule = RULES.find((r) => r.keptBy === (o ? 'ours' : 'mdf') && r.applies(ctx));
      if (rule) byRule[rule.name] = (byRule[rule.name] ?? 0) + 1;
      else (unexplained[`${o ? 'ours' : 'mdf'} keeps ${ctx.cls}`] ??= []).push(pfn);
    }
    console.log(`${id} capture: both keep ${p.both}; differences by rule ${JSON.stringify(byRule)}`);
    expect(Object.fromEntries(Object.entries(unexplained).map(([k, v]) => [k, v.slice(0, 8)]))).toEqual({});
  }, 600_000);

  it('on a disk that fills up, both leave a dump marked incomplete whose pages agree, and say so as makedumpfile does', () => {
    if (!m()) return;
    const d = path.join(m()!.dir, 'capture');
    const rc = (t: string) => Number(fs.readFileSync(path.join(d, `full-${t}.rc`), 'utf8'));
    const log = (t: string) => fs.readFileSync(path.join(d, `full-${t}.log`), 'utf8');
    expect(rc('makedumpfile')).toBe(1);
    expect(rc('vmcore-filter')).toBe(7); // E_NO_SPACE, documented; makedumpfile's own code is 1
    for (const t of ['makedumpfile', 'vmcore-filter']) {
      expect(log(t)).toContain('This is an incomplete dumpfile, but might analyzable.');
      expect(log(t)).toContain('makedumpfile Failed.');
      const info = spawnSync(process.execPath, [path.resolve('bin/vmcore-filter.js'), 'info', '--json', path.join(d, `full-${t}.dump`)], { encoding: 'utf8' });
      expect(JSON.parse(info.stdout).complete, t).toBe(false);
    }
    const p = pair(path.join(d, 'full-vmcore-filter.dump'), path.join(d, 'full-makedumpfile.dump'));
    expect(p.mismatches).toEqual([]);
    expect(p.identical).toBeGreaterThan(1000);
  }, 600_000);

  it('the kdump-tools way: the single executable as /usr/bin/makedumpfile, with kdump-config\'s PATH and default MAKEDUMP_ARGS', () => {
    if (!m()) return;
    const kt = (m()!.capture as unknown as { kdumpTools: Record<string, any> }).kdumpTools;
    expect(kt.which).toBe('/usr/bin/makedumpfile');
    const d = path.join(m()!.dir, 'capture');
    for (const tool of ['single-executable', 'makedumpfile']) {
      expect(kt[tool].rc, tool).toBe(0);
      expect(kt[tool].dmesgRc, tool).toBe(0);
      expect(fs.readFileSync(path.join(d, `kt-${tool}.log`), 'utf8')).toContain('makedumpfile Completed.');
    }
    // The same kernel log from both collectors' --dump-dmesg.
    expect(fs.readFileSync(inDump(m()!, kt['single-executable'].dmesg))).toEqual(fs.readFileSync(inDump(m()!, kt.makedumpfile.dmesg)));
    expect(kt['single-executable'].maxRssKiB).toBeLessThan(128 * 1024);
    // The flattened stream (-F -c -d 31) reassembles into the dump the node run wrote at -d 31 -l:
    // the same pages, the same bytes.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'real-kt-'));
    try {
      const out = path.join(tmp, 'sea.dump');
      const r = spawnSync(process.execPath, [path.resolve('bin/vmcore-filter.js'), 'reassemble', inDump(m()!, kt['single-executable'].flat), out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const p = pair(out, inDump(m()!, m()!.capture!.tools['vmcore-filter'].dump));
      expect(p.mismatches).toEqual([]);
      expect(p.unreadable).toEqual([]);
      expect(Buffer.from(p.a)).toEqual(Buffer.from(p.b));
      expect(p.identical).toBe(p.both);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
