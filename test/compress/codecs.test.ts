/**
 * Contract suite for every page codec: round trips, the "not smaller → 0" rule, corrupt input,
 * and interoperability with the real C libraries (zlib, liblzo2, libsnappy, libzstd) both ways,
 * plus kdump files per codec read back by libkdumpfile.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { CODEC_NAMES, codecCapabilities, codecLoadError, loadCodec, type CodecName } from '../../src/compress/index.js';
import { lzoCodec } from '../../src/compress/lzo.js';
import { deflateSync, inflateSync } from 'node:zlib';
import { createZlibCodec, zlibInflateImplementation } from '../../src/compress/zlib.js';
import { lzo1xCompress, lzo1xDecompress, lzoBound } from '../../src/compress/lzo.js';
import { compressBatch } from '../../src/compress/batch.js';
import { VmcoreError } from '../../src/errors.js';
import { writeKdump } from '../../src/formats/kdump/writer.js';
import { FileSink } from '../../src/formats/kdump/sink.js';
import { pageContent, pageKind, sha1, synthInput } from '../formats/synth.js';
import { needPeer, runPythonJson } from '../formats/helpers.js';

const PAGE = 4096;
const here = path.dirname(new URL(import.meta.url).pathname);
const INTEROP = path.join(here, 'py', 'codec_interop.py');
const READ_DUMP = path.join(here, '..', 'formats', 'py', 'read_dump.py');

function textPage(): Uint8Array {
  const s = 'kernel: BUG: unable to handle page fault for address: ffffffffc0a01234\n'.repeat(60);
  return Buffer.from(s.slice(0, PAGE), 'latin1');
}

/** Named sample pages: what every codec must round-trip. */
function samples(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [
    ['zero', new Uint8Array(PAGE)],
    ['random', randomBytes(PAGE)],
    ['text', textPage()],
    ['ones', new Uint8Array(PAGE).fill(0xff)],
  ];
  for (const pfn of [1, 3, 4, 7, 12, 20, 30, 41]) out.push([`synth${pfn}-${pageKind(pfn)}`, pageContent(pfn)]);
  const mixed = randomBytes(PAGE);
  mixed.fill(0, 200, 3000);
  mixed.copy(mixed, 3300, 0, 700);
  out.push(['mixed', mixed]);
  // Short period repeats exercise overlapping matches.
  for (const period of [1, 2, 3, 5, 17, 250]) {
    const b = new Uint8Array(PAGE);
    const pat = randomBytes(period);
    for (let i = 0; i < PAGE; i++) b[i] = pat[i % period]!;
    out.push([`period${period}`, b]);
  }
  return out;
}

test('codecCapabilities reports every codec, and all four load here', () => {
  const caps = codecCapabilities();
  expect(caps.map((c) => c.name)).toEqual(['zlib', 'lzo', 'snappy', 'zstd']);
  for (const c of caps) expect(c.available, `${c.name}: ${c.reason}`).toBe(true);
  expect(caps.map((c) => c.flag)).toEqual([1, 2, 4, 0x20]);
});

test('zlib: the reused stream writes the same bytes as a fresh stream per page (makedumpfile -c)', () => {
  const reused = createZlibCodec();
  // Node 20's zlib handle is what the fast path drives; if a Node release changes it the
  // codec falls back, and this test says so rather than passing on the fallback.
  expect(reused.implementation).toBe('node:zlib (one stream, reset per page)');
  const pages = samples().map(([, p]) => p);
  for (let pfn = 0; pfn < 300; pfn++) pages.push(pageContent(pfn));
  const a = new Uint8Array(PAGE);
  /** A fresh stream per page, as makedumpfile's compress2(); empty when it would not shrink the page. */
  const fresh = (p: Uint8Array) => {
    const c = deflateSync(p, { level: 1 });
    return c.length < p.length ? c : Buffer.alloc(0);
  };
  // Twice over, interleaved: no state may leak from one page into the next.
  for (const p of [...pages, ...pages.reverse()]) {
    const n = reused.compress(p, a);
    expect(Buffer.compare(a.subarray(0, n), fresh(p))).toBe(0);
  }
  // A page that does not shrink is stored raw (0), and the stream still works after it.
  expect(reused.compress(randomBytes(PAGE), a)).toBe(0);
  const t = textPage();
  const n = reused.compress(t, a);
  expect(n).toBeGreaterThan(0);
  expect(Buffer.compare(a.subarray(0, n), fresh(t))).toBe(0);
});

test('zlib: the reused inflate stream decodes what a fresh stream does, and survives bad pages', () => {
  expect(zlibInflateImplementation()).toBe('one stream, reset per page');
  const codec = createZlibCodec();
  const fresh = (src: Uint8Array): string => {
    try {
      const d = inflateSync(src, { maxOutputLength: PAGE + 1 });
      return d.length > PAGE ? 'bad' : d.toString('base64');
    } catch {
      return 'bad'; // corrupt, or longer than maxOutputLength
    }
  };
  const ours = (src: Uint8Array): string => {
    const out = new Uint8Array(PAGE);
    try {
      return Buffer.from(out.subarray(0, codec.decompress(src, out))).toString('base64');
    } catch (e) {
      // Which of two faults is named first may differ (a stream both too long and corrupt).
      expect((e as VmcoreError).code).toBe('E_CORRUPT_PAGE');
      return 'bad';
    }
  };
  const good = samples().map(([, p]) => deflateSync(p, { level: 1 }));
  const bomb = deflateSync(new Uint8Array(PAGE + 1), { level: 1 });
  const exact = deflateSync(randomBytes(PAGE), { level: 1 });
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom(...good, bomb, exact),
          fc.uint8Array({ minLength: 1, maxLength: 200 }),
          // A valid stream with one byte flipped or cut short: a bad adler32, a bad block, a truncation.
          fc.tuple(fc.constantFrom(...good), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean()).map(([g, at, x, cut]) => {
            const b = Uint8Array.from(g);
            if (cut) return b.subarray(0, at % b.length);
            b[at % b.length] ^= x;
            return b;
          }),
        ),
        { minLength: 1, maxLength: 12 },
      ),
      (srcs) => {
        // In sequence: an error on one page must not leak into the next.
        for (const s of srcs) expect(ours(s) === fresh(s)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
});

test('a codec whose package fails to load is E_CODEC_UNAVAILABLE naming option, package and cause', () => {
  const e = codecLoadError('zstd', new Error("Cannot find module 'zstd-napi'\nRequire stack: ..."));
  expect(e.code).toBe('E_CODEC_UNAVAILABLE');
  expect(e.message).toBe("option -z needs package zstd-napi, which failed to load: Cannot find module 'zstd-napi'");
  expect(e.data).toMatchObject({ option: '-z', key: 'zstd-napi' });
});

describe.each(CODEC_NAMES.map((n) => [n]))('codec %s', (name: CodecName) => {
  const codec = loadCodec(name);

  test('round-trips every sample page; incompressible pages give 0', () => {
    for (const [label, page] of samples()) {
      const out = new Uint8Array(PAGE);
      const n = codec.compress(page, out);
      if (label === 'random' || label.endsWith('-random')) {
        expect(n, label).toBe(0);
        continue;
      }
      expect(n, label).toBeGreaterThan(0);
      expect(n, label).toBeLessThan(PAGE);
      const back = new Uint8Array(PAGE);
      expect(codec.decompress(out.subarray(0, n), back), label).toBe(PAGE);
      expect(Buffer.compare(back, page), label).toBe(0);
    }
  });

  test('zero page compresses to a small block', () => {
    const out = new Uint8Array(PAGE);
    const n = codec.compress(new Uint8Array(PAGE), out);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(256); // snappy: 4096/64 copies of 3 bytes
  });

  test('corrupt or oversized input throws E_CORRUPT_PAGE', () => {
    const out = new Uint8Array(PAGE);
    const n = codec.compress(textPage(), out);
    const stored = out.slice(0, n);
    const back = new Uint8Array(PAGE);
    // Truncated.
    expect(() => codec.decompress(stored.subarray(0, Math.max(1, n >> 1)), back)).toThrowError(
      expect.objectContaining({ code: 'E_CORRUPT_PAGE' }),
    );
    // Does not fit a smaller output buffer.
    expect(() => codec.decompress(stored, new Uint8Array(PAGE / 2))).toThrowError(expect.objectContaining({ code: 'E_CORRUPT_PAGE' }));
  });

  test('random garbage never crashes: it decodes or throws E_CORRUPT_PAGE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (junk) => {
        try {
          codec.decompress(junk, new Uint8Array(PAGE));
        } catch (e) {
          expect(e).toBeInstanceOf(VmcoreError);
          expect((e as VmcoreError).code).toBe('E_CORRUPT_PAGE');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('LZO1X (TypeScript) properties', () => {
  test('round-trips arbitrary structured buffers of any size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(new Uint8Array(300), new Uint8Array(70000).fill(7))), {
          maxLength: 30,
        }),
        fc.nat(5),
        (parts, rep) => {
          const chunks: Uint8Array[] = [];
          for (const p of parts) for (let i = 0; i <= rep; i++) chunks.push(p);
          const src = Buffer.concat(chunks);
          const dst = new Uint8Array(lzoBound(src.length));
          const n = lzo1xCompress(src, dst);
          const back = new Uint8Array(src.length);
          expect(lzo1xDecompress(dst.subarray(0, n), back)).toBe(src.length);
          expect(Buffer.compare(back, src)).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('uses far matches (> 16 KiB) correctly', () => {
    // Runs of one byte in between keep the hash slots of `block` from being overwritten, so
    // the repeats are found at distances that need the 3-byte (≤ 16 KiB) and 4-byte (≤ 48 KiB) forms.
    const block = randomBytes(1000);
    const src = Buffer.concat([block, Buffer.alloc(10000, 0x41), block, Buffer.alloc(30000, 0x42), block]);
    const dst = new Uint8Array(lzoBound(src.length));
    const n = lzo1xCompress(src, dst);
    expect(n).toBeLessThan(1300);
    const back = new Uint8Array(src.length);
    lzo1xDecompress(dst.subarray(0, n), back);
    expect(Buffer.compare(back, src)).toBe(0);
  });
});

test('compressBatch: zero detection, raw fallback, per-page flags', () => {
  const zlib = loadCodec('zlib');
  const pages = Buffer.concat([new Uint8Array(PAGE), randomBytes(PAGE), textPage()]);
  const r = compressBatch(pages, 3, PAGE, zlib, true);
  expect(Array.from(r.zero)).toEqual([1, 0, 0]);
  expect(r.flags[1]).toBe(0);
  expect(r.sizes[1]).toBe(PAGE);
  expect(r.flags[2]).toBe(1);
  expect(r.dataLen).toBe(PAGE + r.sizes[2]!);
  const noZero = compressBatch(pages, 3, PAGE, null, false);
  expect(Array.from(noZero.flags)).toEqual([0, 0, 0]);
  expect(noZero.dataLen).toBe(3 * PAGE);
});

describe('interop with the C libraries', () => {
  test('our compressed pages decode with zlib, liblzo2, libsnappy, libzstd', (ctx) => {
    needPeer('kdumpfile', ctx); // brings liblzo2, libsnappy, libzstd
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-ours-'));
    let files = 0;
    for (const [label, page] of samples()) {
      fs.writeFileSync(path.join(dir, `${label}.raw`), page);
      for (const name of CODEC_NAMES) {
        const out = new Uint8Array(PAGE);
        const n = loadCodec(name).compress(page, out);
        if (n > 0) {
          fs.writeFileSync(path.join(dir, `${label}.${name}`), out.subarray(0, n));
          files++;
        }
      }
    }
    const res = runPythonJson<Record<string, string>>(INTEROP, ['decode', dir]);
    expect(Object.keys(res).length).toBe(files);
    const bad = Object.entries(res).filter(([, v]) => v !== 'ok');
    expect(bad).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });

  test('the TypeScript LZO1X-1 fallback (used when the native lzo module cannot load) decodes with liblzo2', (ctx) => {
    needPeer('kdumpfile', ctx);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-tslzo-'));
    let files = 0;
    for (const [label, page] of samples()) {
      fs.writeFileSync(path.join(dir, `${label}.raw`), page);
      const out = new Uint8Array(PAGE);
      const n = lzoCodec.compress(page, out);
      if (n > 0) {
        fs.writeFileSync(path.join(dir, `${label}.lzo`), out.subarray(0, n));
        files++;
      }
    }
    expect(files).toBeGreaterThan(5);
    const res = runPythonJson<Record<string, string>>(INTEROP, ['decode', dir]);
    expect(Object.keys(res).length).toBe(files);
    expect(Object.entries(res).filter(([, v]) => v !== 'ok')).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });

  test('pages compressed by the C libraries decode with our codecs', (ctx) => {
    needPeer('kdumpfile', ctx); // brings liblzo2, libsnappy, libzstd
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-theirs-'));
    const pages = new Map(samples());
    for (const [label, page] of pages) fs.writeFileSync(path.join(dir, `${label}.raw`), page);
    runPythonJson(INTEROP, ['encode', dir, CODEC_NAMES.join(',')]);
    let checked = 0;
    for (const [label, page] of pages) {
      for (const name of CODEC_NAMES) {
        const stored = fs.readFileSync(path.join(dir, `${label}.${name}.c`));
        const back = new Uint8Array(PAGE);
        expect(loadCodec(name).decompress(stored, back), `${label}.${name}`).toBe(PAGE);
        expect(Buffer.compare(back, page), `${label}.${name}`).toBe(0);
        checked++;
      }
    }
    expect(checked).toBe(pages.size * 4);
    fs.rmSync(dir, { recursive: true });
  });

  test.for(CODEC_NAMES)('kdump file compressed with %s reads back identically in libkdumpfile', async (name, ctx) => {
    needPeer('kdumpfile', ctx);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-kdump-'));
    const file = path.join(dir, `${name}.kdump`);
    const input = synthInput({ maxMapnr: 600, present: [[0, 250], [300, 600]], dumpable: (p) => p % 13 !== 4 });
    const stats = await writeKdump(input, FileSink.open(file), { codec: loadCodec(name), zeroPages: true });
    expect(stats.byFlag[loadCodec(name).flag]).toBeGreaterThan(100);
    expect(stats.rawPages).toBeGreaterThan(0);
    const seen = runPythonJson<{ pages: Record<string, string>; pagemap: number[] }>(READ_DUMP, [file]);
    const mismatches: string[] = [];
    for (let pfn = 0; pfn < 600; pfn++) {
      const want = input.dumpable.get(pfn) ? sha1(pageContent(pfn)) : 'excluded';
      if (seen.pages[pfn] !== want) mismatches.push(`pfn ${pfn}: ${seen.pages[pfn]} != ${want}`);
    }
    expect(mismatches).toEqual([]);
    expect(seen.pagemap.length).toBe(input.dumpable.count());
    fs.rmSync(dir, { recursive: true });
  });
});
