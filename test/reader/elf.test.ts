import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { openDump } from '../../src/formats/probe.js';
import { VmcoreError } from '../../src/errors.js';
import { EHDR_SIZE, PHDR_SIZE, encodeNote } from '../../src/formats/elf/layout.js';
import { Synth } from '../filter/synth.js';

/** A BufferSource that counts positional reads. */
class CountingSource extends BufferSource {
  reads = 0;
  override readSome(pos: number, len: number, buf: Uint8Array, bufOff = 0): number {
    this.reads++;
    return super.readSome(pos, len, buf, bufOff);
  }
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VmcoreError) return e.code;
    throw e;
  }
  return undefined;
}

describe('ELF vmcore reader', () => {
  const s = new Synth({ ram: [[0, 16 << 20], [20 << 20, 32 << 20]] });
  const image = s.elf({ cpus: 3 });

  it('reads headers, notes and header facts', () => {
    const r = openElfDump(new BufferSource(image, 'synth'));
    expect(r.format).toBe('elf');
    expect(r.maxMapnr).toBe(8192);
    expect(r.info.nrCpus).toBe(3);
    expect(r.loads.length).toBe(3);
    expect(r.vmcoreinfoText).toBe(s.vmcoreinfo());
    const loc = r.info.vmcoreinfo!;
    expect(r.info.notes.subarray(loc.offsetInNotes, loc.offsetInNotes + loc.size).toString('latin1')).toBe(s.vmcoreinfo());
    expect(r.noteSegment!.data.equals(r.info.notes)).toBe(true);
    expect(r.info.crashTime).toBe(1700000000);
    expect(r.info.physBase).toBe(BigInt(s.physBase));
    // nodename exists only in memory: proves init_uts_ns was read through the page tables.
    expect(r.info.utsname).toEqual(s.uts);
    expect(r.kernelText).toEqual({ vaddr: 0xffffffff80000000n, paddr: BigInt(s.physBase) });
    expect(r.pageOffset).toBe(s.pageOffset);
    expect(r.warnings).toEqual([]);
  });

  it('marks present exactly the pfns with file data (holes excluded)', () => {
    const r = openElfDump(new BufferSource(image));
    expect(r.present.count()).toBe(7168);
    expect(r.present.get(4095)).toBe(true);
    expect(r.present.get(4096)).toBe(false);
    expect(r.present.get(5119)).toBe(false);
    expect(r.present.get(5120)).toBe(true);
    expect(code(() => r.readPages(4096, 1, new Uint8Array(4096)))).toBe('E_FORMAT');
    expect(code(() => r.readPhys(0xfff000, 0x2000, new Uint8Array(0x2000)))).toBe('E_FORMAT');
  });

  it('reads physical memory with one positional read per contiguous file range', () => {
    const src = new CountingSource(image);
    const r = openElfDump(src);
    src.reads = 0;
    const buf = new Uint8Array(64 * 4096);
    r.readPages(100, 64, buf);
    expect(src.reads).toBe(1);
    expect(Buffer.from(buf).equals(s.mem.subarray(100 * 4096, 164 * 4096))).toBe(true);
    // Across the kernel-text segment (first in header order) and RAM: three file ranges.
    src.reads = 0;
    const big = new Uint8Array(6 << 20);
    r.readPhys(0, 6 << 20, big);
    expect(Buffer.from(big).equals(s.mem.subarray(0, 6 << 20))).toBe(true);
    expect(src.reads).toBe(3);
  });

  it('lets the first PT_LOAD in header order win where segments overlap', () => {
    const text = Buffer.alloc(2 << 20, 0xaa);
    const img = s.elf({ textData: text });
    const r = openElfDump(new BufferSource(img));
    const b = new Uint8Array(16);
    r.readPhys(s.physBase + 4096, 16, b);
    expect([...b]).toEqual(new Array(16).fill(0xaa));
    r.readPhys(s.physBase - 16, 16, b);
    expect(Buffer.from(b).equals(s.mem.subarray(s.physBase - 16, s.physBase))).toBe(true);
  });

  it('treats filesz < memsz tails as absent and counts memsz in max_mapnr', () => {
    const img = s.elf({ extraLoads: [{ paddr: BigInt(40 << 20), vaddr: 0n, filesz: 8192, memsz: 5 * 4096 }] });
    const r = openElfDump(new BufferSource(img));
    expect(r.maxMapnr).toBe((40 << 20) / 4096 + 5);
    expect(r.present.get((40 << 20) / 4096 + 1)).toBe(true);
    expect(r.present.get((40 << 20) / 4096 + 2)).toBe(false);
  });

  it('keeps a truncated PT_LOAD, marks missing pfns absent and warns', () => {
    const img = s.elf({ truncateBy: 10 * 4096 + 100 });
    const r = openElfDump(new BufferSource(img));
    expect(r.warnings).toHaveLength(1);
    const w = r.warnings[0]!;
    expect(w.code).toBe('truncated');
    if (w.code !== 'truncated') return;
    expect(w.firstMissingPfn).toBe(8192 - 11);
    expect(w.missingPages).toBe(11);
    expect(r.present.get(8192 - 12)).toBe(true);
    expect(r.present.get(8192 - 11)).toBe(false);
    expect(r.maxMapnr).toBe(8192);
  });

  it('rejects what is not an ELF64 LE core, naming what is wrong', () => {
    const mut = (f: (b: Buffer) => void) => {
      const b = Buffer.from(image.subarray(0, 1 << 16));
      f(b);
      return new BufferSource(b);
    };
    expect(code(() => openElfDump(mut((b) => (b[0] = 0))))).toBe('E_FORMAT');
    expect(() => openElfDump(mut((b) => (b[4] = 1)))).toThrow(/ELFCLASS64/);
    expect(() => openElfDump(mut((b) => (b[5] = 2)))).toThrow(/little-endian/);
    expect(() => openElfDump(mut((b) => b.writeUInt16LE(2, 16)))).toThrow(/ET_CORE/);
    expect(() => openElfDump(mut((b) => b.writeUInt16LE(32, 54)))).toThrow(/e_phentsize/);
    expect(() => openElfDump(mut((b) => b.writeUInt16LE(0, 56)))).toThrow(/no program headers/);
    expect(code(() => openElfDump(new BufferSource(image.subarray(0, 40))))).toBe('E_TRUNCATED');
    expect(code(() => openElfDump(new BufferSource(image.subarray(0, 100))))).toBe('E_TRUNCATED');
    // Notes cut off.
    const noteOff = Number(image.readBigUInt64LE(EHDR_SIZE + 8));
    expect(code(() => openElfDump(new BufferSource(image.subarray(0, noteOff + 100))))).toBe('E_TRUNCATED');
  });

  it('honours PN_XNUM (program-header count in section header 0)', () => {
    const b = Buffer.concat([image, Buffer.alloc(64)]);
    const shoff = image.length;
    b.writeUInt16LE(0xffff, 56);
    b.writeBigUInt64LE(BigInt(shoff), 40);
    b.writeUInt32LE(4, shoff + 44);
    const r = openElfDump(new BufferSource(b));
    expect(r.loads.length).toBe(3);
    b.writeUInt32LE(1 << 21, shoff + 44);
    expect(code(() => openElfDump(new BufferSource(b)))).toBe('E_LIMIT');
  });

  it('matches only the note named exactly VMCOREINFO with type 0', () => {
    const r0 = openElfDump(new BufferSource(s.elf({ vmcoreinfo: null })));
    expect(r0.vmcoreinfoText).toBeNull();
    expect(r0.info.vmcoreinfo).toBeNull();
    expect(r0.info.utsname.release).toBe('');
    // Rewrite the VMCOREINFO note's name to VMCOREINFO_XEN-like "VMCOREINFX" → not matched.
    const img = Buffer.from(s.elf());
    const noteOff = Number(img.readBigUInt64LE(EHDR_SIZE + 8));
    const at = img.indexOf('VMCOREINFO', noteOff, 'latin1');
    img.write('VMCOREINFX', at, 'latin1');
    expect(openElfDump(new BufferSource(img)).vmcoreinfoText).toBeNull();
    expect(encodeNote('VMCOREINFO', 0, Buffer.alloc(0)).length).toBe(24);
  });

  it('falls back to OSRELEASE when init_uts_ns cannot be translated', () => {
    const t = new Synth();
    t.unmap(0xffffffff80000000n, 'PMD'); // kernel image no longer mapped
    const r = openElfDump(new BufferSource(t.elf()));
    expect(r.info.utsname.release).toBe(t.profile.osrelease);
    expect(r.info.utsname.nodename).toBe('');
    expect(r.warnings.map((w) => w.code)).toContain('utsname');
  });

  it('opens through the format registry and names unknown formats', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcore-reader-'));
    try {
      const p = path.join(dir, 'vmcore');
      fs.writeFileSync(p, image);
      const r = openDump(p);
      expect(r.format).toBe('elf');
      expect(r.maxMapnr).toBe(8192);
      r.close();
      const q = path.join(dir, 'junk');
      fs.writeFileSync(q, Buffer.from('hello world, not a dump'));
      expect(() => openDump(q)).toThrow(/not an ELF vmcore or kdump-compressed dump \(magic 68 65 6c 6c 6f 20 77 6f\)/);
      expect(code(() => openDump(path.join(dir, 'missing')))).toBe('E_INPUT_IO');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a dump whose VMCOREINFO is malformed, with a warning (pages stay readable)', () => {
    const bad = s.vmcoreinfo().replace('CRASHTIME=1700000000', 'CRASHTIME=soon').replace('PAGESIZE=4096', 'PAGESIZE=4096\nthis line has no equals sign');
    const r = openElfDump(new BufferSource(s.elf({ vmcoreinfo: bad })));
    expect(r.vmcoreinfo).toBeNull();
    expect(r.vmcoreinfoText).toBe(bad);
    expect(r.warnings.map((w) => w.code)).toContain('vmcoreinfo');
    expect(r.info.utsname.release).toBe('');
    const b = new Uint8Array(4096);
    r.readPages(100, 1, b);
    expect(Buffer.from(b).equals(s.mem.subarray(100 * 4096, 101 * 4096))).toBe(true);
    const r2 = openElfDump(new BufferSource(s.elf({ vmcoreinfo: s.vmcoreinfo().replace('CRASHTIME=1700000000', 'CRASHTIME=soon') })));
    expect(r2.vmcoreinfo).not.toBeNull();
    expect(r2.info.crashTime).toBe(0);
    expect(r2.warnings.map((w) => w.code)).toEqual(['vmcoreinfo']);
    expect(PHDR_SIZE).toBe(56);
  });
});
