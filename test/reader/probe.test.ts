/** The format registry: ELF, kdump-compressed and flattened inputs all open through openDump. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDump, dumpFormats } from '../../src/formats/probe.js';
import { writeKdump } from '../../src/formats/kdump/writer.js';
import { FileSink } from '../../src/formats/kdump/sink.js';
import { FlattenedSink } from '../../src/formats/flattened/sink.js';
import { buildDumpableBitmap, classifyDump, CLASS_NAMES } from '../../src/filter/index.js';
import type { DumpReader } from '../../src/formats/dump.js';
import { Synth } from '../filter/synth.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function machine(): Synth {
  const s = new Synth({ ram: [[0, 16 << 20], [20 << 20, 32 << 20]] });
  // Away from the kernel image (pfns 512..1023) and the vmemmap backing (1024..1535).
  s.buddy(2048, 4);
  s.buddy(2064, 2, { hinted: true });
  s.anon(2100);
  s.cache(2101);
  s.compound(2560, 9, 'thp');
  s.offline(3000);
  return s;
}

async function writeOut(r: DumpReader, level: number, out: string, flattened: boolean): Promise<void> {
  const c = classifyDump(r, { dumpLevel: level });
  const input = {
    info: r.info,
    maxMapnr: r.maxMapnr,
    present: r.present,
    dumpable: buildDumpableBitmap(c, level),
    dumpLevel: level,
    readPages: (pfn: number, n: number, b: Uint8Array, o?: number) => r.readPages(pfn, n, b, o),
  };
  if (flattened) {
    const ws = fs.createWriteStream(out);
    const sink = new FlattenedSink(ws, out);
    await writeKdump(input, sink, { zeroPages: false, flattened: true });
    await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
  } else {
    const sink = FileSink.open(out);
    await writeKdump(input, sink, { zeroPages: false });
  }
}

describe('openDump registry', () => {
  it('lists ELF, kdump and flattened-ELF probes', () => {
    expect(dumpFormats().map((f) => f.name)).toEqual(['elf', 'kdump', 'flattened-elf']);
  });

  it.each([false, true])('re-reads its own kdump output (flattened: %s) and classifies it the same', async (flat) => {
    const s = machine();
    const elfPath = path.join(dir, `in-${flat}.elf`);
    fs.writeFileSync(elfPath, s.elf());
    const r = openDump(elfPath);
    const c = classifyDump(r, { dumpLevel: 31 });
    const out = path.join(dir, `out-${flat}.kdump`);
    await writeOut(r, 31, out, flat);
    const k = openDump(out);
    try {
      expect(k.format).toBe(flat ? 'flattened' : 'kdump');
      expect(k.maxMapnr).toBe(r.maxMapnr);
      expect(k.vmcoreinfoText).toBe(r.vmcoreinfoText);
      expect(k.info.utsname).toEqual(s.uts);
      const c2 = classifyDump(k, { dumpLevel: 31 });
      let compared = 0;
      for (let p = 0; p < k.maxMapnr; p++) {
        if (!k.present.get(p)) continue;
        const dumpable = (k as unknown as { dumpable?: { get(i: number): boolean } }).dumpable?.get(p) ?? true;
        if (!dumpable) continue;
        expect(CLASS_NAMES[c2.classOf[p]!], `pfn ${p}`).toBe(CLASS_NAMES[c.classOf[p]!]);
        compared++;
      }
      expect(compared).toBeGreaterThan(5000);
      // Pages the first pass excluded have no data in the kdump file: they are holes now.
      expect(CLASS_NAMES[c2.classOf[2048]!]).toBe('hole');
      expect(CLASS_NAMES[c2.classOf[3000]!]).toBe('hole');
      expect(c2.counts.free + c2.counts.hinted + c2.counts.offline + c2.counts.user + c2.counts.cache).toBe(0);
    } finally {
      k.close();
      r.close();
    }
  });
});
