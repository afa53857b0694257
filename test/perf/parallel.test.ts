/**
 * The parallel compression path (worker threads, `--num-threads`): correctness, not speed.
 * Output is byte-identical whatever the thread count, for every codec; batches outstanding stay
 * within the pool's capacity (memory stays flat); a codec a worker cannot load gives the same
 * E_CODEC_UNAVAILABLE as in process; ENOSPC still leaves a readable, incomplete dump.
 * The workers run the compiled dist/ (npm test builds first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { CODEC_NAMES, loadCodec, type CodecName } from '../../src/compress/index.js';
import type { BatchCompressor } from '../../src/compress/batch.js';
import { writeKdump } from '../../src/formats/kdump/writer.js';
import { FileSink, outputError, type DumpSink } from '../../src/formats/kdump/sink.js';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { CompressPool } from '../../src/writer/workers/pool.js';
import { filterDump } from '../../src/writer/pipeline.js';
import { simulate } from '../../src/sim/index.js';
import { VmcoreError } from '../../src/errors.js';
import { PAGE, pageContent, sha1, synthInput } from '../formats/synth.js';
import { tempDir } from '../formats/helpers.js';

const dir = tempDir('perf-parallel-');
const MAX = 3000;
const spec = { maxMapnr: MAX, present: [[0, 1400], [1500, 2990]] as [number, number][], dumpable: (p: number) => p % 13 !== 4 && (p < 1700 || p > 1900) };

function available(name: CodecName): boolean {
  try {
    loadCodec(name);
    return true;
  } catch {
    return false;
  }
}

async function writeWith(file: string, codec: CodecName, threads: number): Promise<void> {
  const pool = threads > 1 ? CompressPool.start(codec, { threads, maxPages: 256, pageSize: PAGE }) : null;
  try {
    await pool?.ready;
    await writeKdump(synthInput(spec), FileSink.open(file), { codec: loadCodec(codec), zeroPages: true, compressor: pool });
  } finally {
    await pool?.close();
  }
}

describe('byte-identical output whatever the thread count', () => {
  test.for(CODEC_NAMES.map((c) => [c]))('%s: 1, 2 and 3 threads', async ([codec], ctx) => {
    if (!available(codec as CodecName)) ctx.skip(`${codec} unavailable`);
    const files = [1, 2, 3].map((n) => path.join(dir, `${codec}-${n}.kdump`));
    for (const [i, f] of files.entries()) await writeWith(f, codec as CodecName, i + 1);
    const ref = fs.readFileSync(files[0]!);
    for (const f of files.slice(1)) expect(fs.readFileSync(f).equals(ref), f).toBe(true);
    // And the pages read back.
    const r = KdumpReader.open(files[2]!);
    const buf = new Uint8Array(PAGE);
    try {
      for (const pfn of [0, 1, 2, 3, 17, 1399, 1500, 2000, 2989]) {
        if (!spec.dumpable(pfn)) continue;
        r.readPages(pfn, 1, buf);
        expect(sha1(buf), `pfn ${pfn}`).toBe(sha1(pageContent(pfn)));
      }
    } finally {
      r.close();
    }
  });

  test('filterDump on a simulated image: --num-threads 1, 2, 3 give the same file (lzo, zlib)', async () => {
    const img = path.join(dir, 'sim.img');
    await simulate(img, { memBytes: 128 * 2 ** 20, seed: 3 });
    for (const codec of ['lzo', 'zlib'] as const) {
      const outs: Buffer[] = [];
      for (const n of [1, 2, 3]) {
        const out = path.join(dir, `sim-${codec}-${n}.kdump`);
        const rep = await filterDump(img, out, { dumpLevels: [31], format: 'kdump', codec, force: true, numThreads: n });
        expect(rep.output.codec).toBe(codec);
        outs.push(fs.readFileSync(out));
      }
      expect(outs[1]!.equals(outs[0]!)).toBe(true);
      expect(outs[2]!.equals(outs[0]!)).toBe(true);
    }
  });

  test('workers reading the dump themselves (pfn runs) give the same result as pages sent to them', async () => {
    const img = path.join(dir, 'sim.img');
    if (!fs.existsSync(img)) await simulate(img, { memBytes: 128 * 2 ** 20, seed: 3 });
    const byPages = CompressPool.start('zlib', { threads: 2, maxPages: 256, pageSize: PAGE });
    const byRuns = CompressPool.start('zlib', { threads: 2, maxPages: 256, pageSize: PAGE, source: { path: img } });
    const { openDump } = await import('../../src/formats/probe.js');
    const reader = openDump(img);
    try {
      await Promise.all([byPages.ready, byRuns.ready]);
      expect(byPages.compressRuns).toBeUndefined();
      // Runs across a batch, with gaps: 3 + 100 + 1 + 152 pages.
      const first = reader.present.nextSet(1000);
      const runs = [first, 3, first + 10, 100, first + 200, 1, first + 300, 152];
      const pages = new Uint8Array(256 * PAGE);
      for (let i = 0, at = 0; i < runs.length; i += 2) {
        reader.readPages(runs[i]!, runs[i + 1]!, pages, at * PAGE);
        at += runs[i + 1]!;
      }
      const a = await byPages.compress(pages, 256, PAGE, true);
      const b = await byRuns.compressRuns!(runs, 256, true);
      expect(b.count).toBe(256);
      expect(b.dataLen).toBe(a.result.dataLen);
      expect(Buffer.from(b.sizes).equals(Buffer.from(a.result.sizes))).toBe(true);
      expect(Buffer.from(b.zero).equals(Buffer.from(a.result.zero))).toBe(true);
      expect(Buffer.from(b.data.subarray(0, b.dataLen)).equals(Buffer.from(a.result.data.subarray(0, a.result.dataLen)))).toBe(true);
      // A pfn the dump does not hold: the worker's reader refuses it as the main thread's would.
      const hole = reader.present.nextClear(0);
      const err = await byRuns.compressRuns!([hole, 1], 1, true).catch((e) => e);
      expect(err).toBeInstanceOf(VmcoreError);
      expect(err.code).toBe('E_FORMAT');
      expect(err.message).toMatch(/is not in the dump/);
    } finally {
      reader.close();
      await byPages.close();
      await byRuns.close();
    }
  });
});

describe('the main thread as a compressor (local)', () => {
  test('its share of the batches is stored exactly as a worker stores it; with one thread, no worker starts', async () => {
    const img = path.join(dir, 'sim.img');
    if (!fs.existsSync(img)) await simulate(img, { memBytes: 128 * 2 ** 20, seed: 3 });
    const { openDump } = await import('../../src/formats/probe.js');
    const reader = openDump(img);
    const local = { codec: loadCodec('zlib'), readPages: (p: number, n: number, b: Uint8Array, o: number) => reader.readPages(p, n, b, o) };
    const workersOnly = CompressPool.start('zlib', { threads: 2, maxPages: 256, pageSize: PAGE, source: { path: img } });
    const mixed = CompressPool.start('zlib', { threads: 2, maxPages: 256, pageSize: PAGE, source: { path: img }, local });
    const alone = CompressPool.start('zlib', { threads: 1, maxPages: 256, pageSize: PAGE, source: { path: img }, local });
    try {
      await Promise.all([workersOnly.ready, mixed.ready, alone.ready]);
      const first = reader.present.nextSet(1000);
      const batches = [0, 1, 2, 3].map((k) => [first + 256 * k, 200, first + 256 * k + 210, 56]);
      const stored = async (pool: CompressPool) =>
        Promise.all(batches.map((runs) => pool.compressRuns!(runs, 256, true))).then((rs) => rs.map((r) => Buffer.from(r.data.subarray(0, r.dataLen)).toString('hex')));
      const ref = await stored(workersOnly);
      expect(await stored(mixed)).toEqual(ref);
      expect(await stored(alone)).toEqual(ref);
      // One of mixed's two compressors is this thread: a single worker; alone has none.
      expect((mixed as unknown as { workers: unknown[] }).workers.length).toBe(1);
      expect((alone as unknown as { workers: unknown[] }).workers.length).toBe(0);
      const hole = reader.present.nextClear(0);
      const err = await alone.compressRuns!([hole, 1], 1, true).catch((e) => e);
      expect(err).toBeInstanceOf(VmcoreError);
      expect(err.code).toBe('E_FORMAT');
    } finally {
      reader.close();
      await Promise.all([workersOnly.close(), mixed.close(), alone.close()]);
    }
  });
});

describe('bounded queues', () => {
  test('never more batches outstanding than the compressor capacity', async () => {
    const pool = CompressPool.start('lzo', { threads: 2, maxPages: 256, pageSize: PAGE, depth: 2 });
    let out = 0;
    let peak = 0;
    const counting: BatchCompressor = {
      codec: pool.codec,
      capacity: pool.capacity,
      compress: async (...a) => {
        out++;
        peak = Math.max(peak, out);
        try {
          return await pool.compress(...a);
        } finally {
          out--;
        }
      },
      release: (r) => pool.release(r),
    };
    try {
      await pool.ready;
      const big = synthInput({ maxMapnr: 20000, present: [[0, 20000]], dumpable: () => true });
      await writeKdump(big, FileSink.open(path.join(dir, 'bounded.kdump')), { codec: loadCodec('lzo'), zeroPages: true, compressor: counting });
    } finally {
      await pool.close();
    }
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(pool.capacity);
  });
});

describe('errors', () => {
  test('a codec a worker cannot load: E_CODEC_UNAVAILABLE from pool.ready', async () => {
    const pool = CompressPool.start('no-such-codec' as CodecName, { threads: 2, maxPages: 256, pageSize: PAGE });
    try {
      const err = await pool.ready.catch((e) => e);
      expect(err).toBeInstanceOf(VmcoreError);
      expect(err.code).toBe('E_CODEC_UNAVAILABLE');
      expect(err.message).toMatch(/codec/);
    } finally {
      await pool.close();
    }
  });

  test('ENOSPC with workers: E_NO_SPACE, incomplete flag, early pages readable', async () => {
    const file = path.join(dir, 'enospc.kdump');
    const inner = FileSink.open(file);
    const limit = 3_000_000;
    const full: DumpSink = {
      flattened: false,
      get path() {
        return inner.path;
      },
      get bytesWritten() {
        return inner.bytesWritten;
      },
      async write(pos, data) {
        if (pos + data.length > limit) {
          if (pos < limit) await inner.write(pos, data.subarray(0, limit - pos));
          throw outputError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }), inner.path, Math.max(pos, limit));
        }
        await inner.write(pos, data);
      },
      finish: () => inner.finish(),
    };
    const pool = CompressPool.start('zlib', { threads: 2, maxPages: 256, pageSize: PAGE });
    const input = synthInput({ maxMapnr: 20000, present: [[0, 20000]], dumpable: (p) => p % 3 !== 0 });
    try {
      await pool.ready;
      const err = await writeKdump(input, full, { codec: loadCodec('zlib'), zeroPages: true, compressor: pool }).catch((e) => e);
      expect(err).toBeInstanceOf(VmcoreError);
      expect(err.code).toBe('E_NO_SPACE');
      expect(err.data.incomplete).toBe(true);
    } finally {
      await pool.close();
    }
    const r = KdumpReader.open(file);
    try {
      expect(r.kdump.incomplete).toBe(true);
      const buf = new Uint8Array(PAGE);
      r.readPages(1, 1, buf);
      expect(sha1(buf)).toBe(sha1(pageContent(1)));
    } finally {
      r.close();
    }
  });
});
