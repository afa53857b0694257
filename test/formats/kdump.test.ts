/**
 * kdump-compressed writer and reader: exact layout, round trips through our reader and
 * libkdumpfile/drgn/crash, split parts (makedumpfile --reassemble), header validation, ENOSPC.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { loadCodec, type CodecName } from '../../src/compress/index.js';
import { BufferSource, FileSource } from '../../src/io/file.js';
import { KdumpReader, probeKdump } from '../../src/formats/kdump/reader.js';
import { writeKdump } from '../../src/formats/kdump/writer.js';
import { FileSink, outputError, type DumpSink } from '../../src/formats/kdump/sink.js';
import { DiskDumpHeader, KdumpSubHeader, PageDesc } from '../../src/formats/kdump/layout.js';
import { VmcoreError } from '../../src/errors.js';
import { PAGE, VMCOREINFO_TEXT, pageContent, pageKind, sha1, synthInput } from './synth.js';
import { READ_DUMP, comparePages, needPeer, runPythonJson, tempDir, writeKdumpFile } from './helpers.js';

const dir = tempDir('kdump-test-');
const MAX = 2000;
const spec = { maxMapnr: MAX, present: [[0, 700], [900, 1990]] as [number, number][], dumpable: (p: number) => p % 7 !== 3 && (p < 1200 || p > 1500) };

function readAll(r: KdumpReader, pfns: number[]): string[] {
  const bad: string[] = [];
  const buf = new Uint8Array(PAGE);
  for (const pfn of pfns) {
    r.readPages(pfn, 1, buf);
    if (sha1(buf) !== sha1(pageContent(pfn))) bad.push(`pfn ${pfn}`);
  }
  return bad;
}

describe('layout, byte for byte', async () => {
  const input = synthInput({ ...spec, nrCpus: 3 });
  const file = path.join(dir, 'layout.kdump');
  const stats = await writeKdumpFile(input, file, { codec: loadCodec('zlib'), zeroPages: true });
  const b = fs.readFileSync(file);
  const h = DiskDumpHeader.decode(b);
  const sub = KdumpSubHeader.decode(b, PAGE);
  const notes = input.info.notes;
  const numDumpable = input.dumpable.count();

  test('disk_dump_header', () => {
    expect(b.toString('latin1', 0, 8)).toBe('KDUMP   ');
    expect(b.readInt32LE(8)).toBe(6);
    expect(h.sysname).toBe('Linux');
    expect(h.release).toBe('6.0.0-synthetic');
    expect(b.toString('latin1', 12 + 2 * 65, 12 + 2 * 65 + 15)).toBe('6.0.0-synthetic');
    expect(b.readBigInt64LE(408)).toBe(1700000000n);
    expect(b.readUInt32LE(424)).toBe(1); // status: zlib
    expect(b.readInt32LE(428)).toBe(4096);
    expect(h.subHdrSize).toBe(Math.ceil((104 + notes.length) / PAGE));
    expect(h.bitmapBlocks).toBe(2 * Math.ceil(Math.ceil(MAX / 8) / PAGE));
    expect(h.maxMapnr).toBe(MAX);
    expect(b.readInt32LE(460)).toBe(3);
    expect(b.subarray(464, PAGE).every((x) => x === 0)).toBe(true);
  });

  test('kdump_sub_header and notes', () => {
    expect(sub.physBase).toBe(0x1000000n);
    expect(sub.dumpLevel).toBe(31);
    expect(sub.split).toBe(0);
    expect(sub.offsetNote).toBe(4200n);
    expect(sub.sizeNote).toBe(BigInt(notes.length));
    expect(sub.maxMapnr64).toBe(BigInt(MAX));
    expect(Buffer.compare(b.subarray(4200, 4200 + notes.length), notes)).toBe(0);
    const vi = Number(sub.offsetVmcoreinfo);
    expect(vi).toBe(4200 + 3 * 356 + 24);
    expect(b.toString('latin1', vi, vi + Number(sub.sizeVmcoreinfo))).toBe(VMCOREINFO_TEXT);
  });

  test('bitmaps, descriptors, zero page first', () => {
    const bm1 = (1 + h.subHdrSize) * PAGE;
    const half = (h.bitmapBlocks / 2) * PAGE;
    expect(Buffer.compare(b.subarray(bm1, bm1 + MAX / 8), Buffer.from(input.present.bytes))).toBe(0);
    expect(Buffer.compare(b.subarray(bm1 + half, bm1 + half + MAX / 8), Buffer.from(input.dumpable.bytes))).toBe(0);
    const pd = (1 + h.subHdrSize + h.bitmapBlocks) * PAGE;
    const dataStart = pd + 24 * numDumpable;
    expect(b.subarray(dataStart, dataStart + PAGE).every((x) => x === 0)).toBe(true);
    let next = dataStart + PAGE;
    let i = 0;
    for (let pfn = 0; pfn < MAX; pfn++) {
      if (!input.dumpable.get(pfn)) continue;
      const d = PageDesc.decode(b, pd + 24 * i++);
      expect(d.pageFlags).toBe(0n);
      if (pageKind(pfn) === 'zero') {
        expect(d).toEqual({ offset: BigInt(dataStart), size: PAGE, flags: 0, pageFlags: 0n });
        continue;
      }
      expect(d.offset).toBe(BigInt(next));
      expect(d.flags).toBe(pageKind(pfn) === 'random' ? 0 : 1);
      next += d.size;
    }
    expect(next).toBe(b.length);
    expect(stats.fileSize).toBe(b.length);
    expect(stats.bytesWritten).toBe(b.length);
    expect(stats.pages).toBe(numDumpable);
    expect(stats.zeroPages + stats.rawPages + (stats.byFlag[1] ?? 0)).toBe(numDumpable);
  });

  test('the writer read exactly the dumpable pages, never an excluded one', () => {
    expect(input.reads.size).toBe(numDumpable);
    for (const p of input.reads) expect(input.dumpable.get(p)).toBe(true);
  });
});

describe.each([
  [null, true],
  [null, false],
  ['zlib', true],
  ['lzo', false],
  ['snappy', true],
  ['zstd', false],
] as [CodecName | null, boolean][])('round trip: codec %s, zero pages %s', (codec, zeroPages) => {
  test('our reader returns every stored page and refuses excluded ones', async () => {
    const input = synthInput(spec);
    const file = path.join(dir, `rt-${codec}-${zeroPages}.kdump`);
    const stats = await writeKdumpFile(input, file, { codec: codec ? loadCodec(codec) : null, zeroPages });
    if (!zeroPages) expect(stats.zeroPages).toBe(0);
    else expect(stats.zeroPages).toBeGreaterThan(0);
    const r = KdumpReader.open(file);
    expect(r.format).toBe('kdump');
    expect(r.maxMapnr).toBe(MAX);
    expect(r.kdump.codec).toBe(codec);
    expect(r.kdump.dumpLevel).toBe(31);
    expect(r.kdump.incomplete).toBe(false);
    expect(r.kdump.split).toBeNull();
    expect(r.info.utsname.release).toBe('6.0.0-synthetic');
    expect(r.info.crashTime).toBe(1700000000);
    expect(r.info.nrCpus).toBe(2);
    // The synthetic header says 0x1000000, its VMCOREINFO NUMBER(phys_base)=0: the kernel's word
    // wins, with one warning (QEMU 7.2 writes such headers).
    expect(r.subHeader.physBase).toBe(0x1000000n);
    expect(r.info.physBase).toBe(0n);
    expect(r.warnings.map((w) => w.code)).toEqual(['phys_base']);
    expect(Buffer.compare(r.info.notes, input.info.notes)).toBe(0);
    expect(r.info.vmcoreinfo).toEqual(input.info.vmcoreinfo);
    expect(r.vmcoreinfoText).toBe(VMCOREINFO_TEXT);
    expect(Buffer.compare(Buffer.from(r.present.bytes), Buffer.from(input.present.bytes))).toBe(0);
    expect(Buffer.compare(Buffer.from(r.dumpable.bytes), Buffer.from(input.dumpable.bytes))).toBe(0);
    const stored: number[] = [];
    for (let p = 0; p < MAX; p++) if (input.dumpable.get(p)) stored.push(p);
    expect(readAll(r, stored)).toEqual([]);
    // Multi-page reads across runs of dumpable pages.
    const big = new Uint8Array(40 * PAGE);
    r.readPages(0, 3, big);
    expect(sha1(big.subarray(2 * PAGE, 3 * PAGE))).toBe(sha1(pageContent(2)));
    r.readPhys(5 * PAGE + 100, 8, big);
    expect(Buffer.from(big.subarray(0, 8)).equals(Buffer.from(pageContent(5).subarray(100, 108)))).toBe(true);
    expect(() => r.readPages(3, 1, big)).toThrowError(/pfn 0x3 is excluded/);
    expect(() => r.readPages(800, 1, big)).toThrowError(expect.objectContaining({ code: 'E_FORMAT', data: expect.objectContaining({ pfn: 800 }) }));
    expect(() => r.readPages(MAX, 1, big)).toThrowError(/beyond max_mapnr/);
    r.close();
  });
});

describe('peers read our kdump files', async () => {
  const input = synthInput(spec);
  const file = path.join(dir, 'peers.kdump');
  await writeKdumpFile(input, file, { codec: loadCodec('lzo'), zeroPages: true });

  test('libkdumpfile: attributes, page map and every page', (ctx) => {
    needPeer('kdumpfile', ctx);
    const seen = runPythonJson<{ attrs: Record<string, unknown>; pagemap: number[]; pages: Record<string, string> }>(READ_DUMP, [file]);
    expect(seen.attrs['file.format']).toBe('diskdump');
    expect(seen.attrs['linux.uts.release']).toBe('6.0.0-synthetic');
    expect(seen.attrs['linux.uts.nodename']).toBe('synthetic-host');
    expect(seen.attrs['cpu.number']).toBe(2);
    expect(seen.attrs['linux.vmcoreinfo.raw']).toBe(VMCOREINFO_TEXT);
    expect(seen.pagemap.length).toBe(input.dumpable.count());
    expect(comparePages(seen.pages, MAX, (p) => input.dumpable.get(p))).toEqual([]);
  });

  test('drgn: physical reads match, excluded pages fault', (ctx) => {
    needPeer('drgn', ctx);
    const seen = runPythonJson<{ drgn: Record<string, string> }>(READ_DUMP, [file, '--drgn']);
    expect(comparePages(seen.drgn, MAX, (p) => input.dumpable.get(p), 'fault')).toEqual([]);
  });

  test('crash --osrelease reads the release from our VMCOREINFO', (ctx) => {
    needPeer('crash', ctx);
    const r = spawnSync('crash', ['--osrelease', file], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('6.0.0-synthetic');
  });
});

describe('split parts', async () => {
  const input = synthInput(spec);
  const full = path.join(dir, 'split-full.kdump');
  await writeKdumpFile(input, full, { codec: loadCodec('zlib'), zeroPages: true });
  const ranges: [number, number][] = [
    [0, 650],
    [650, 1400],
    [1400, MAX],
  ];
  const parts = ranges.map((_, i) => path.join(dir, `split-${i}.kdump`));
  for (const [i, [startPfn, endPfn]] of ranges.entries()) {
    await writeKdumpFile(input, parts[i]!, { codec: loadCodec('zlib'), zeroPages: true, split: { startPfn, endPfn } });
  }

  test('each part holds its range; headers record it; data starts where the full dump does', () => {
    const dataStarts = new Set<number>();
    for (const [i, [a, b]] of ranges.entries()) {
      const r = KdumpReader.open(parts[i]!);
      expect(r.kdump.split).toEqual({ startPfn: a, endPfn: b });
      expect(r.subHeader.split).toBe(1);
      expect(r.subHeader.startPfn).toBe(BigInt(a));
      expect(r.subHeader.endPfn).toBe(BigInt(b));
      expect(r.maxMapnr).toBe(MAX);
      // dumpable: only this part's pfns; bitmap2: the whole dump's 2nd bitmap.
      expect(r.dumpable.count()).toBe(input.dumpable.count(a, b));
      expect(r.bitmap2.count()).toBe(input.dumpable.count());
      const mine: number[] = [];
      for (let p = a; p < b; p++) if (input.dumpable.get(p)) mine.push(p);
      expect(readAll(r, mine)).toEqual([]);
      const other = a > 0 ? a - 1 : b;
      if (input.dumpable.get(other)) expect(() => r.readPages(other, 1, new Uint8Array(PAGE))).toThrowError(/another split part/);
      const first = mine.find((p) => pageKind(p) === 'zero')!;
      dataStarts.add(r.pageDescriptors(first, 1)[0]!.offset);
      r.close();
    }
    const f = KdumpReader.open(full);
    const firstZero = [...Array(MAX).keys()].find((p) => input.dumpable.get(p) && pageKind(p) === 'zero')!;
    expect(dataStarts).toEqual(new Set([f.pageDescriptors(firstZero, 1)[0]!.offset]));
    f.close();
  });

  test('makedumpfile --reassemble of our parts equals our unsplit dump, byte for byte', (ctx) => {
    needPeer('makedumpfile', ctx);
    const out = path.join(dir, 'split-reassembled.kdump');
    const r = spawnSync('makedumpfile', ['--reassemble', ...parts, out], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(full))).toBe(true);
  });
});

/** A sink that fails with ENOSPC once the file would grow past `limit` bytes. */
class FullDisk implements DumpSink {
  readonly flattened = false;
  constructor(
    private readonly inner: FileSink,
    private readonly limit: number,
  ) {}
  get path() {
    return this.inner.path;
  }
  get bytesWritten() {
    return this.inner.bytesWritten;
  }
  async write(pos: number, data: Uint8Array) {
    if (pos + data.length > this.limit) {
      // Like write(2) on a full disk: what fits is written, then ENOSPC.
      if (pos < this.limit) await this.inner.write(pos, data.subarray(0, this.limit - pos));
      throw outputError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }), this.path, Math.max(pos, this.limit));
    }
    await this.inner.write(pos, data);
  }
  finish() {
    return this.inner.finish();
  }
}

describe('write errors', () => {
  test('ENOSPC: E_NO_SPACE, header marked incomplete, saved pages readable, lost pages reported', async () => {
    const input = synthInput({ ...spec, maxMapnr: MAX });
    const file = path.join(dir, 'enospc.kdump');
    const err = await writeKdump(input, new FullDisk(FileSink.open(file), 4_000_000), { codec: null, zeroPages: true }).catch((e) => e);
    expect(err).toBeInstanceOf(VmcoreError);
    expect(err.code).toBe('E_NO_SPACE');
    expect(err.data.path).toBe(file);
    expect(err.data.incomplete).toBe(true);
    const r = KdumpReader.open(file);
    expect(r.kdump.incomplete).toBe(true);
    expect(r.header.status & 8).toBe(8);
    expect(err.data.stats.incomplete).toBe(true);
    expect(err.data.stats.pages).toBeGreaterThan(1024);
    expect(readAll(r, [1, 2])).toEqual([]);
    const last = [...Array(MAX).keys()].filter((p) => input.dumpable.get(p) && pageKind(p) !== 'zero').pop()!;
    expect(() => r.readPages(last, 1, new Uint8Array(PAGE))).toThrowError(/was not saved|past the end/);
    r.close();
  });

  test('other write errors: E_OUTPUT_IO with the path', async () => {
    const input = synthInput({ maxMapnr: 64, present: [[0, 64]] });
    const sink = new FileSink(9999, '/nonexistent/fd');
    const err = await writeKdump(input, sink, { zeroPages: false }).catch((e) => e);
    expect(err.code).toBe('E_OUTPUT_IO');
    expect(err.message).toContain('/nonexistent/fd');
  });
});

describe('reader validation', async () => {
  const input = synthInput({ maxMapnr: 256, present: [[0, 256]] });
  const file = path.join(dir, 'valid.kdump');
  await writeKdumpFile(input, file, { codec: loadCodec('zlib'), zeroPages: true });
  const good = fs.readFileSync(file);
  const open = (b: Buffer) => new KdumpReader(new BufferSource(b, 'mutant'));
  const mutate = (f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };

  test('the unmodified file opens', () => {
    expect(open(good).maxMapnr).toBe(256);
  });
  test.each([
    ['signature', (b: Buffer) => b.write('KDUMPX  ', 0, 'latin1'), /signature/],
    ['old diskdump', (b: Buffer) => b.write('DISKDUMP', 0, 'latin1'), /diskdump/],
    ['header_version 0', (b: Buffer) => b.writeInt32LE(0, 8), /header_version/],
    ['block_size 3000', (b: Buffer) => b.writeInt32LE(3000, 428), /block_size/],
    ['block_size big-endian', (b: Buffer) => b.writeInt32BE(4096, 428), /big-endian/],
    ['block_size 128', (b: Buffer) => b.writeInt32LE(128, 428), /block_size/],
    ['sub_hdr_size 0', (b: Buffer) => b.writeInt32LE(0, 432), /sub_hdr_size/],
    ['sub_hdr_size huge', (b: Buffer) => b.writeInt32LE(1 << 30, 432), /sub_hdr_size/],
    ['bitmap too small', (b: Buffer) => b.writeBigUInt64LE(1n << 20n, PAGE + 96), /bitmap_blocks|max_mapnr/],
    ['max_mapnr_64 over the limit', (b: Buffer) => b.writeBigUInt64LE(1n << 50n, PAGE + 96), /limit|max_mapnr/],
    ['bitmap_blocks past EOF', (b: Buffer) => b.writeUInt32LE(1000, 436), /past the end/],
    ['notes outside the file', (b: Buffer) => b.writeBigUInt64LE(1n << 40n, PAGE + 56), /limit|outside/],
    ['vmcoreinfo outside the file', (b: Buffer) => b.writeBigInt64LE(1n << 40n, PAGE + 32), /outside/],
    ['split range inverted', (b: Buffer) => (b.writeInt32LE(1, PAGE + 12), b.writeBigUInt64LE(10n, PAGE + 80), b.writeBigUInt64LE(5n, PAGE + 88)), /split range/],
  ])('%s is refused', (_name, f, re) => {
    expect(() => open(mutate(f))).toThrowError(re);
  });
  test('truncated file: E_TRUNCATED or E_FORMAT, never a crash', () => {
    for (const len of [0, 100, 464, PAGE, PAGE + 104, 3 * PAGE]) {
      expect(() => open(good.subarray(0, len))).toThrowError(VmcoreError);
    }
  });

  const h = DiskDumpHeader.decode(good);
  const pd = (1 + h.subHdrSize + h.bitmapBlocks) * PAGE;
  const descOf = (pfn: number) => pd + 24 * pfn; // every pfn is dumpable here
  const nonZero = [...Array(256).keys()].filter((p) => pageKind(p) === 'text')[0]!;
  test.each([
    ['offset before the data area', (b: Buffer) => b.writeBigInt64LE(100n, descOf(nonZero)), /outside the data area/],
    ['offset past EOF', (b: Buffer) => b.writeBigInt64LE(BigInt(good.length + 10), descOf(nonZero)), /outside the data area|past the end/],
    ['size 0', (b: Buffer) => b.writeUInt32LE(0, descOf(nonZero) + 8), /size 0/],
    ['size > block_size', (b: Buffer) => b.writeUInt32LE(5000, descOf(nonZero) + 8), /size 5000/],
    ['unknown flags', (b: Buffer) => b.writeUInt32LE(0x40, descOf(nonZero) + 12), /unknown flags/],
    ['raw page of the wrong size', (b: Buffer) => b.writeUInt32LE(0, descOf(nonZero) + 12), /raw page/],
    ['empty descriptor (incomplete)', (b: Buffer) => b.fill(0, descOf(nonZero), descOf(nonZero) + 24), /was not saved/],
  ])('page_desc with %s is refused when read', (_name, f, re) => {
    const r = open(mutate(f));
    expect(() => r.readPages(nonZero, 1, new Uint8Array(PAGE))).toThrowError(re);
  });
  test('corrupt compressed data: E_CORRUPT_PAGE naming the pfn', () => {
    const d = PageDesc.decode(good, descOf(nonZero));
    const r = open(mutate((b) => b.fill(0xee, Number(d.offset), Number(d.offset) + d.size)));
    expect(() => r.readPages(nonZero, 1, new Uint8Array(PAGE))).toThrowError(
      expect.objectContaining({ code: 'E_CORRUPT_PAGE', data: expect.objectContaining({ pfn: nonZero }) }),
    );
  });
  test('page decoding to the wrong size: E_CORRUPT_PAGE', () => {
    const d = PageDesc.decode(good, descOf(nonZero));
    const short = deflateSync(Buffer.alloc(100, 1), { level: 1 });
    const r = open(mutate((b) => (short.copy(b, Number(d.offset)), b.writeUInt32LE(short.length, descOf(nonZero) + 8))));
    expect(() => r.readPages(nonZero, 1, new Uint8Array(PAGE))).toThrowError(/decodes to 100 bytes/);
  });
});

describe('probeKdump', () => {
  test('kdump and flattened kdump are mine; ELF and junk are not', async () => {
    const file = path.join(dir, 'valid2.kdump');
    await writeKdumpFile(synthInput({ maxMapnr: 64, present: [[0, 64]] }), file, { zeroPages: false });
    const src = new FileSource(file);
    expect(probeKdump(src)).toBe('mine');
    src.close();
    expect(probeKdump(new BufferSource(Buffer.from('\x7fELF\x02\x01\x01'.padEnd(64, '\0'), 'latin1')))).toBe('not-mine');
    expect(probeKdump(new BufferSource(Buffer.alloc(10)))).toBe('not-mine');
  });
});
