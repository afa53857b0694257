/**
 * The kernel log of whole simulated dumps: the decoder returns exactly the records the
 * simulated kernel stored and that survived (lockless ring of several sizes, the log_buf_len=
 * memblock ring, the old log_buf), from the ELF vmcore and from filtered kdump-compressed and
 * ELF dumps; and makedumpfile 1.7.2 --dump-dmesg prints the same lines.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatKernelLog, readKernelLog } from '../../src/dmesg/index.js';
import { openDump } from '../../src/formats/probe.js';
import { buildMachine, simulate, type SimOptions } from '../../src/sim/index.js';
import { filterDump } from '../../src/writer/pipeline.js';
import { requirePeer } from '../helpers/peers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-dmesg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const CASES: Array<{ name: string; opts: Partial<SimOptions> }> = [
  { name: 'lockless', opts: { seed: 7, memBytes: 64 << 20 } },
  { name: 'lockless-shift12', opts: { seed: 3, memBytes: 64 << 20, logBufShift: 12, kaslr: true } },
  { name: 'log_buf_len-1M', opts: { seed: 5, memBytes: 96 << 20, logBufLen: 1 << 20, l5: true } },
  { name: 'log_buf', opts: { seed: 9, memBytes: 64 << 20, printk: 'log_buf' } },
  // a 5.4 kernel has the log_buf (the lockless ring buffer came with 5.10)
  { name: 'linux-5.4', opts: { seed: 4, memBytes: 64 << 20, profile: 'linux-5.4' } },
];

function ourText(file: string): string {
  const r = openDump(file);
  try {
    return formatKernelLog(readKernelLog(r));
  } finally {
    r.close();
  }
}

function makedumpfileText(file: string): { status: number | null; text: string; stdout: string } {
  const out = path.join(dir, `mdf-${path.basename(file)}.log`);
  fs.rmSync(out, { force: true });
  const r = spawnSync('/usr/bin/makedumpfile', ['--dump-dmesg', file, out], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, text: fs.existsSync(out) ? fs.readFileSync(out, 'latin1') : '', stdout: r.stdout + r.stderr };
}

describe.each(CASES)('$name', ({ name, opts }) => {
  const img = path.join(dir, `${name}.img`);
  let ready: Promise<void> | null = null;
  const prepare = () => (ready ??= simulate(img, opts).then(() => undefined));

  it('decodes exactly the records the kernel stored and kept', async () => {
    await prepare();
    const m = buildMachine(opts);
    const pk = m.printk!;
    const r = openDump(img);
    const log = readKernelLog(r);
    r.close();
    expect(log.format).toBe(opts.printk ?? (opts.profile === 'linux-5.4' ? 'log_buf' : 'lockless'));
    const reserved = new Set(pk.reserved);
    const kept = pk.records.map((rec, seq) => ({ rec, seq })).filter(({ seq }) => seq >= pk.firstSeq && !reserved.has(seq));
    if (log.format === 'lockless') {
      expect(log.overwritten).toBe(pk.firstSeq);
      expect(log.overwritten).toBeGreaterThan(0); // the log wrapped
      expect(log.skipped).toEqual(pk.reserved.map((seq) => ({ seq, id: expect.any(String), reason: 'reserved' })));
      expect(log.records.map((x) => x.seq)).toEqual(kept.map((k) => k.seq));
    } else {
      expect(log.overwritten).toBeNull();
    }
    expect(log.records.map((x) => Buffer.from(x.text).toString('latin1'))).toEqual(kept.map((k) => k.rec.text));
    expect(log.records.map((x) => x.tsNsec)).toEqual(kept.map((k) => k.rec.tsNsec));
    expect(log.records.map((x) => x.level)).toEqual(kept.map((k) => k.rec.level));
    const last = Buffer.from(log.records.at(-1)!.text).toString('latin1');
    expect(last).toBe(' </TASK>');
    expect(log.records.some((x) => Buffer.from(x.text).toString('latin1') === 'Kernel panic - not syncing: sysrq triggered crash')).toBe(true);
    expect(log.warnings).toEqual([]);
  });

  it('the same log from a filtered kdump-compressed (-d 31 -c) and ELF (-E -d 31) dump', async () => {
    await prepare();
    const want = ourText(img);
    const kd = path.join(dir, `${name}.kdump`);
    const elf = path.join(dir, `${name}.elf`);
    await filterDump(img, kd, { dumpLevels: [31], format: 'kdump', codec: 'zlib', force: true });
    await filterDump(img, elf, { dumpLevels: [31], format: 'elf', force: true });
    expect(ourText(kd)).toBe(want);
    expect(ourText(elf)).toBe(want);
  });

  it('makedumpfile --dump-dmesg prints the same lines', async () => {
    if (!requirePeer('makedumpfile')) return;
    await prepare();
    const want = ourText(img);
    const m = makedumpfileText(img);
    expect(m.status, m.stdout).toBe(0);
    // makedumpfile writes only the log to its output file; its own messages go to the terminal
    expect(m.stdout).toContain('The dmesg log is saved to');
    expect(m.text.split('\n')).toEqual(want.split('\n'));
    const kd = path.join(dir, `${name}.kdump`);
    if (fs.existsSync(kd)) {
      const k = makedumpfileText(kd);
      expect(k.status, k.stdout).toBe(0);
      expect(k.text).toBe(want);
    }
  });
});
