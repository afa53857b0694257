/**
 * ELF output (-E): program headers cut excluded runs out of the file (never reading them), keep
 * the kernel-text PT_LOAD, honour minHolePages, PN_XNUM; read back by our parser, libkdumpfile
 * and drgn; flattened ELF replayed by makedumpfile -R.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { writeElf, type ElfLoad, type ElfWriterInput, type ElfWriteOptions } from '../../src/formats/elf/writer.js';
import { FileSink, outputError } from '../../src/formats/kdump/sink.js';
import { FlattenedSink } from '../../src/formats/flattened/sink.js';
import { EHDR_SIZE, PHDR_SIZE, PN_XNUM, PT_LOAD, PT_NOTE, decodeEhdr, decodePhdr, type Elf64Phdr } from '../../src/formats/elf/layout.js';
import { PAGE, pageContent, sha1, synthInput, type SynthSpec } from './synth.js';
import { READ_DUMP, needPeer, runPythonJson, tempDir } from './helpers.js';

const dir = tempDir('elf-test-');
const PAGE_OFFSET = 0xffff888000000000n;
const MAX = 2000;

/** RAM ranges as PT_LOADs, with the kernel-text PT_LOAD first (as kexec emits them). */
function elfInput(spec: SynthSpec, extraLoads: ElfLoad[] = [], text = true): ElfWriterInput & { reads: Set<number> } {
  const base = synthInput(spec);
  const loads: ElfLoad[] = [];
  if (text) loads.push({ paddr: 0x100000n, vaddr: 0xffffffff81000000n, memsz: 128 * PAGE, flags: 7 });
  for (const [s, e] of spec.present) loads.push({ paddr: BigInt(s * PAGE), vaddr: PAGE_OFFSET + BigInt(s * PAGE), memsz: (e - s) * PAGE, flags: 7 });
  loads.push(...extraLoads);
  return Object.assign(base, { loads, noteSegment: base.info.notes });
}

function parse(file: string): { ehdr: ReturnType<typeof decodeEhdr>; phdrs: Elf64Phdr[]; b: Buffer } {
  const b = fs.readFileSync(file);
  const ehdr = decodeEhdr(b);
  let phnum = ehdr.phnum;
  if (phnum === PN_XNUM) phnum = b.readUInt32LE(ehdr.shoff + 44);
  const phdrs = Array.from({ length: phnum }, (_, i) => decodePhdr(b, EHDR_SIZE + i * PHDR_SIZE, EHDR_SIZE + i * PHDR_SIZE));
  return { ehdr, phdrs, b };
}

/** Expected content of physical byte range [a, b) of kept pages. */
function expectedBytes(a: number, b: number): Buffer {
  const out = Buffer.alloc(b - a);
  for (let p = Math.floor(a / PAGE); p * PAGE < b; p++) {
    const pg = pageContent(p);
    const s = Math.max(a, p * PAGE);
    const e = Math.min(b, (p + 1) * PAGE);
    out.set(pg.subarray(s - p * PAGE, e - p * PAGE), s - a);
  }
  return out;
}

async function write(input: ElfWriterInput, file: string, opts: ElfWriteOptions) {
  return writeElf(input, FileSink.open(file), opts);
}

// Excluded pattern: single pages, short runs, and one long run; pfn 256.. is the text region.
const spec: SynthSpec = {
  maxMapnr: MAX,
  present: [
    [0, 700],
    [900, 1990],
  ],
  dumpable: (p) => !(p % 9 === 4 || (p >= 300 && p < 310) || (p >= 1200 && p < 1600) || (p >= 900 && p < 905) || p >= 1980),
};

describe('ELF layout (minHolePages 1: cut everything)', async () => {
  const input = elfInput(spec);
  const file = path.join(dir, 'cut.elf');
  const stats = await write(input, file, { minHolePages: 1 });
  const { ehdr, phdrs, b } = parse(file);

  test('Ehdr and PT_NOTE', () => {
    expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(ehdr.type).toBe(4);
    expect(ehdr.machine).toBe(62);
    expect(ehdr.phoff).toBe(64);
    expect(ehdr.phnum).toBe(stats.phnum);
    expect(phdrs[0]!.type).toBe(PT_NOTE);
    expect(phdrs[0]!.offset).toBe(EHDR_SIZE + PHDR_SIZE * stats.phnum);
    expect(b.subarray(phdrs[0]!.offset, phdrs[0]!.offset + phdrs[0]!.filesz).equals(input.info.notes)).toBe(true);
  });

  test('PT_LOADs tile each input PT_LOAD; data is back to back and correct; excluded pages only in memsz tails', () => {
    const loads = phdrs.slice(1);
    expect(loads.every((p) => p.type === PT_LOAD)).toBe(true);
    let expectOffset = phdrs[0]!.offset + phdrs[0]!.filesz;
    let li = 0;
    let cursor = Number(input.loads[0]!.paddr);
    for (const p of loads) {
      const L = input.loads[li]!;
      const end = Number(L.paddr) + L.memsz;
      expect(Number(p.paddr)).toBe(cursor);
      expect(p.vaddr - L.vaddr).toBe(p.paddr - L.paddr);
      expect(p.filesz).toBeLessThanOrEqual(p.memsz);
      if (p.filesz > 0) {
        expect(p.offset).toBe(expectOffset);
        expectOffset += p.filesz;
      }
      const a = Number(p.paddr);
      for (let pfn = a / PAGE; pfn < (a + p.filesz) / PAGE; pfn++) expect(input.dumpable.get(pfn), `kept pfn ${pfn}`).toBe(true);
      for (let pfn = (a + p.filesz) / PAGE; pfn < (a + p.memsz) / PAGE; pfn++) expect(input.dumpable.get(pfn), `cut pfn ${pfn}`).toBe(false);
      expect(b.subarray(p.offset, p.offset + p.filesz).equals(expectedBytes(a, a + p.filesz))).toBe(true);
      cursor = a + p.memsz;
      if (cursor === end) {
        li++;
        cursor = li < input.loads.length ? Number(input.loads[li]!.paddr) : -1;
      }
    }
    expect(li).toBe(input.loads.length);
    expect(expectOffset).toBe(b.length);
  });

  test('the kernel-text PT_LOAD is kept first, with its virtual addresses', () => {
    expect(phdrs[1]!.vaddr).toBe(0xffffffff81000000n);
    expect(phdrs[1]!.paddr).toBe(0x100000n);
  });

  test('excluded pages were never read', () => {
    for (const p of input.reads) expect(input.dumpable.get(p)).toBe(true);
    expect(stats.zeroFilledPages).toBe(0);
    expect(stats.pagesCut).toBeGreaterThan(400);
  });

  // libkdumpfile 0.5.1 reports cut pages (inside p_memsz, past p_filesz) as "Page not found" or,
  // for single-page gaps, as zeros (ELF semantics); holes have no data. Its max_pfn ends at the
  // last PT_LOAD (pfn 1990 here).
  test('libkdumpfile: kept pages identical, cut pages absent or zero, holes have no data', (ctx) => {
    needPeer('kdumpfile', ctx);
    const seen = runPythonJson<{ pages: Record<string, string>; attrs: Record<string, unknown>; max_pfn: number }>(READ_DUMP, [file, '--pfns', String(MAX)]);
    expect(seen.attrs['file.format']).toBe('elf');
    expect(seen.attrs['linux.vmcoreinfo.raw']).toContain('OSRELEASE=6.0.0-synthetic');
    expect(seen.max_pfn).toBe(1990);
    const bad: string[] = [];
    for (let p = 0; p < seen.max_pfn; p++) {
      const v = seen.pages[p]!;
      const want = input.dumpable.get(p) ? sha1(pageContent(p)) : 'no data';
      const zero = sha1(new Uint8Array(PAGE));
      const got = v === 'excluded' || v.startsWith('nodata') || (v === zero && input.present.get(p) && !input.dumpable.get(p)) ? 'no data' : v;
      if (got !== want) bad.push(`pfn ${p}: ${v}, expected ${want}`);
    }
    expect(bad).toEqual([]);
  });

  // drgn applies ELF semantics: bytes past p_filesz inside p_memsz read as zeros; holes fault.
  test('drgn: kept pages identical, cut pages read as zeros, holes fault', (ctx) => {
    needPeer('drgn', ctx);
    const seen = runPythonJson<{ drgn: Record<string, string>; max_pfn: number }>(READ_DUMP, [file, '--drgn', '--pfns', String(MAX)]);
    const zero = sha1(new Uint8Array(PAGE));
    const bad: string[] = [];
    for (let p = 0; p < seen.max_pfn; p++) {
      const want = input.dumpable.get(p) ? sha1(pageContent(p)) : input.present.get(p) ? zero : 'fault';
      if (seen.drgn[p] !== want) bad.push(`pfn ${p}: ${seen.drgn[p]} != ${want}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('minHolePages 16', async () => {
  const input = elfInput(spec);
  const file = path.join(dir, 'min16.elf');
  const stats = await write(input, file, { minHolePages: 16 });
  const { phdrs, b } = parse(file);

  test('short excluded runs become zero pages in the file (not read), long runs are cut', () => {
    expect(stats.zeroFilledPages).toBeGreaterThan(100);
    for (const p of input.reads) expect(input.dumpable.get(p)).toBe(true);
    const loads = phdrs.slice(1);
    const cutPhdrs = parse(path.join(dir, 'cut.elf')).phdrs.length;
    expect(phdrs.length).toBeLessThan(cutPhdrs);
    for (const p of loads) {
      const a = Number(p.paddr);
      const data = b.subarray(p.offset, p.offset + p.filesz);
      for (let pfn = a / PAGE; pfn < (a + p.filesz) / PAGE; pfn++) {
        const pg = data.subarray((pfn - a / PAGE) * PAGE, (pfn - a / PAGE + 1) * PAGE);
        const want = input.dumpable.get(pfn) ? pageContent(pfn) : new Uint8Array(PAGE);
        expect(Buffer.compare(pg, want), `pfn ${pfn}`).toBe(0);
      }
      // Cut tails are long runs only, or the end of an input PT_LOAD.
      const cut = (p.memsz - p.filesz) / PAGE;
      const nextStart = a + p.memsz;
      const endsLoad = input.loads.some((L) => Number(L.paddr) + L.memsz === nextStart);
      if (cut > 0 && !endsLoad) expect(cut).toBeGreaterThanOrEqual(16);
    }
  });
});

describe('edge cases', () => {
  test('unaligned PT_LOAD, fully excluded PT_LOAD, empty PT_LOAD', async () => {
    const input = elfInput({ ...spec, present: [[0, 100]] }, [
      { paddr: BigInt(150 * PAGE + 0x200), vaddr: PAGE_OFFSET + BigInt(150 * PAGE + 0x200), memsz: 3 * PAGE, flags: 7 },
      { paddr: BigInt(160 * PAGE), vaddr: PAGE_OFFSET + BigInt(160 * PAGE), memsz: 4 * PAGE, flags: 7 },
      { paddr: BigInt(170 * PAGE), vaddr: PAGE_OFFSET + BigInt(170 * PAGE), memsz: 0, flags: 7 },
    ], false);
    for (const p of [150, 151, 152]) input.dumpable.set(p); // 153 (partial, not dumpable) is cut
    const file = path.join(dir, 'edges.elf');
    await write(input, file, { minHolePages: 1 });
    const { phdrs, b } = parse(file);
    const un = phdrs.find((p) => p.paddr === BigInt(150 * PAGE + 0x200))!;
    expect(un.memsz).toBe(3 * PAGE);
    expect(un.filesz).toBe(3 * PAGE - 0x200);
    expect(b.subarray(un.offset, un.offset + un.filesz).equals(expectedBytes(150 * PAGE + 0x200, 153 * PAGE))).toBe(true);
    const ex = phdrs.find((p) => p.paddr === BigInt(160 * PAGE))!;
    expect(ex.filesz).toBe(0);
    expect(ex.memsz).toBe(4 * PAGE);
    const empty = phdrs.find((p) => p.paddr === BigInt(170 * PAGE))!;
    expect(empty.memsz).toBe(0);
  });

  test('PN_XNUM beyond 65534 program headers; readers still find the pages', async (ctx) => {
    const N = 70000;
    const base = synthInput({ maxMapnr: N, present: [[0, N]], dumpable: (p) => p % 5000 === 7 });
    const loads: ElfLoad[] = Array.from({ length: N }, (_, i) => ({ paddr: BigInt(i * PAGE), vaddr: PAGE_OFFSET + BigInt(i * PAGE), memsz: PAGE, flags: 7 }));
    const input = Object.assign(base, { loads, noteSegment: base.info.notes });
    const file = path.join(dir, 'xnum.elf');
    const stats = await write(input, file, { minHolePages: 1 });
    expect(stats.phnum).toBe(N + 1);
    const { ehdr, phdrs, b } = parse(file);
    expect(ehdr.phnum).toBe(PN_XNUM);
    expect(ehdr.shnum).toBe(1);
    expect(ehdr.shentsize).toBe(64);
    expect(b.readUInt32LE(ehdr.shoff + 44)).toBe(N + 1);
    expect(phdrs.length).toBe(N + 1);
    const p7 = phdrs[1 + 7]!;
    expect(p7.filesz).toBe(PAGE);
    expect(b.subarray(p7.offset, p7.offset + PAGE).equals(Buffer.from(pageContent(7)))).toBe(true);
    needPeer('kdumpfile', ctx);
    const seen = runPythonJson<{ pages: Record<string, string> }>(READ_DUMP, [file, '--pfns', '5010']);
    expect(seen.pages[7]).toBe(sha1(pageContent(7)));
    expect(seen.pages[5007]).toBe(sha1(pageContent(5007)));
    expect(seen.pages[8]).toMatch(/^(excluded|nodata)/);
  });

  test('ENOSPC: E_NO_SPACE and e_flags bit 0 (incomplete)', async () => {
    const input = elfInput(spec);
    const file = path.join(dir, 'enospc.elf');
    const inner = FileSink.open(file);
    const sink = {
      path: file,
      flattened: false,
      get bytesWritten() {
        return inner.bytesWritten;
      },
      write: async (pos: number, data: Uint8Array) => {
        if (pos + data.length > 1_500_000) throw outputError(Object.assign(new Error('x'), { code: 'ENOSPC' }), file, pos);
        await inner.write(pos, data);
      },
      finish: () => inner.finish(),
    };
    const err = await writeElf(input, sink, { minHolePages: 1 }).catch((e) => e);
    expect(err.code).toBe('E_NO_SPACE');
    expect(err.data.stats.incomplete).toBe(true);
    expect(decodeEhdr(fs.readFileSync(file)).flags & 1).toBe(1);
  });
});

describe('flattened ELF', () => {
  test('makedumpfile -R replays it into the same file as the plain writer', async (ctx) => {
    const plain = path.join(dir, 'plain.elf');
    await write(elfInput(spec), plain, { minHolePages: 1 });
    const flat = path.join(dir, 'out.elf.flat');
    const ws = fs.createWriteStream(flat);
    await writeElf(elfInput(spec), new FlattenedSink(ws, flat), { minHolePages: 1 });
    await new Promise<void>((r) => ws.end(() => r()));
    needPeer('makedumpfile', ctx);
    const out = path.join(dir, 'mdf-R.elf');
    const r = spawnSync('makedumpfile', ['-R', out], { input: fs.readFileSync(flat) });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(plain))).toBe(true);
  });
});
