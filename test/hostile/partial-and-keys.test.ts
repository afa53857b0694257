/**
 * Truncated input (an interrupted copy of /proc/vmcore): what is there is filtered, the missing
 * pages are absent, a warning names them, and the exit code is 8 (partial). A kernel whose
 * VMCOREINFO lacks a key the decoder needs keeps its pages and says which key is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KdumpReader } from '../../src/formats/kdump/reader.js';
import { DiskDumpHeader, DUMP_DH_COMPRESSED_INCOMPLETE } from '../../src/formats/kdump/layout.js';
import { BufferSource } from '../../src/io/file.js';
import { requirePeer } from '../helpers/peers.js';
import { getBases, libkdumpfileCheck, patchFor, removeBases, type Bases } from '../fuzz/harness.js';

const BIN = path.resolve('bin/vmcore-filter.js');
let bases: Bases;
let dir = '';
beforeAll(async () => {
  bases = await getBases(1);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-partial-'));
}, 300_000);
afterAll(() => {
  removeBases(bases);
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** Write base `kind` with `muts` applied to a new file. */
function mutated(name: string, muts: Parameters<typeof patchFor>[1], kind: 'elf' | 'kdump' = 'elf'): string {
  const b = bases[kind];
  const p = patchFor(b, muts);
  const buf = Buffer.from(b.bytes.subarray(0, p.truncateTo ?? b.bytes.length));
  for (const w of p.writes) if (w.offset < buf.length) w.data.copy(buf, w.offset, 0, Math.min(w.data.length, buf.length - w.offset));
  const f = path.join(dir, name);
  fs.writeFileSync(f, buf);
  return f;
}

describe('truncated input → partial (exit 8)', () => {
  for (const fraction of [0.35, 0.7, 0.97]) {
    it(`an ELF vmcore cut at ${fraction * 100}% is filtered up to the cut, the rest absent`, (ctx) => {
      const input = mutated(`cut-${fraction}.img`, [{ op: 'truncate', fraction }]);
      const out = path.join(dir, `cut-${fraction}.dump`);
      const r = cli(['-d', '31', '--json', input, out]);
      expect(r.code, r.stderr).toBe(8);
      const rep = JSON.parse(r.stdout);
      expect(rep.warnings.join('\n')).toMatch(/^truncated input: PT_LOAD #\d+ needs data up to file offset 0x[0-9a-f]+ but the file ends at 0x[0-9a-f]+; pfns from 0x[0-9a-f]+ are missing/);
      // Missing pages are absent in the output (not in its 1st bitmap); present ones are kept.
      const k = KdumpReader.open(out);
      const size = fs.statSync(input).size;
      expect(k.present.count()).toBeLessThan(bases.elf.bytes.length / 4096);
      expect(k.present.count() * 4096).toBeLessThanOrEqual(size);
      k.close();
      // The text report says so too.
      const t = cli(['-d', '31', '-f', input, out]);
      expect(t.code).toBe(8);
      expect(t.stdout + t.stderr).toMatch(/missing/);
      if (!requirePeer('kdumpfile')) return ctx.skip();
      expect(libkdumpfileCheck([out])[out]).toBe(null);
    });
  }
  for (const fraction of [0.6, 0.95]) {
    it(`a kdump input cut at ${fraction * 100}% is refiltered up to the cut: every page still there kept, byte for byte (exit 8)`, (ctx) => {
      const input = mutated(`cut-${fraction}.kdump`, [{ op: 'truncate', fraction }], 'kdump');
      const out = path.join(dir, `cutk-${fraction}.dump`);
      const r = cli(['-d', '31', '--json', input, out]);
      expect(r.code, r.stderr).toBe(8);
      const rep = JSON.parse(r.stdout);
      expect(rep.warnings.join('\n')).toMatch(/truncated input: \d+ of \d+ stored pages are not in .* \(from pfn 0x[0-9a-f]+; the file ends at 0x[0-9a-f]+\): they are left out, the rest is kept/);
      // The pages whose data is in the cut file are all in the output, with the same bytes;
      // the lost ones are not.
      const whole = new KdumpReader(new BufferSource(bases.kdump.bytes, 'whole.kdump'));
      const cut = KdumpReader.open(input);
      const o = KdumpReader.open(out);
      const lost = cut.warnings[0]!;
      expect(lost.lostPages).toBeGreaterThan(0);
      expect(o.dumpable.count()).toBe(cut.dumpable.count());
      expect(cut.dumpable.count() + lost.lostPages).toBe(whole.dumpable.count());
      const a = new Uint8Array(4096);
      const b = new Uint8Array(4096);
      let checked = 0;
      for (let pfn = cut.dumpable.nextSet(0); pfn >= 0; pfn = cut.dumpable.nextSet(pfn + 1)) {
        whole.readPages(pfn, 1, a);
        o.readPages(pfn, 1, b);
        expect(Buffer.compare(a, b), `pfn ${pfn}`).toBe(0);
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      expect(o.isStored(lost.firstLostPfn)).toBe(false);
      for (const k of [whole, cut, o]) k.close();
      if (!requirePeer('kdumpfile')) return ctx.skip();
      expect(libkdumpfileCheck([out])[out]).toBe(null);
    });
  }
  it('a kdump input whose header says incomplete (a full disk) is refiltered to the pages it holds (exit 8)', () => {
    // Cut the dump, then mark it as the writers do on a full disk.
    const input = mutated('incomplete.kdump', [{ op: 'truncate', fraction: 0.5 }], 'kdump');
    const fd = fs.openSync(input, 'r+');
    const h = Buffer.alloc(4096);
    fs.readSync(fd, h, 0, 4096, 0);
    const status = DiskDumpHeader.decode(h).status;
    const enc = Buffer.alloc(4096);
    DiskDumpHeader.encode({ ...DiskDumpHeader.decode(h), status: status | DUMP_DH_COMPRESSED_INCOMPLETE }, enc, 0);
    fs.writeSync(fd, enc, 0, DiskDumpHeader.size, 0);
    fs.closeSync(fd);
    const r = cli(['-d', '31', '--json', input, path.join(dir, 'incomplete.out')]);
    expect(r.code, r.stderr).toBe(8);
    expect(JSON.parse(r.stdout).warnings.join('\n')).toMatch(/stored pages are not in .* the header says the dump is incomplete/);
  });
});

describe('missing VMCOREINFO keys: pages kept, the key named', () => {
  // PAGE_BUDDY alone is not enough to lose free pages (the zones' free lists are walked
  // instead); without a key of that walk too, free pages cannot be found and are kept.
  const cases: [string[], RegExp, string][] = [
    [['NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'OFFSET(zone.free_area)'], /free pages cannot be found: .*OFFSET\(zone\.free_area\)/, 'free'],
    [['OFFSET(page._mapcount)'], /OFFSET\(page\._mapcount\)/, 'all'],
    [['SYMBOL(mem_section)'], /SYMBOL\(mem_section\)/, 'all'],
  ];
  for (const [keys, says, kept] of cases) {
    const key = keys.join('+');
    it(`without ${key}`, () => {
      const input = mutated(`no-${key.replace(/\W/g, '_')}.img`, keys.map((k) => ({ op: 'vmcoreinfo-delete' as const, key: k })));
      // -d 30: every level but zero pages (which are found by content, not by struct page).
      const r = cli(['-d', '30', '--json', input, path.join(dir, `no-${key.replace(/\W/g, '_')}.dump`)]);
      expect(r.code, r.stderr).toBe(0);
      const rep = JSON.parse(r.stdout);
      const text = rep.warnings.join('\n') + JSON.stringify(rep.pageTypes);
      expect(text).toMatch(says);
      if (kept === 'all') {
        // Nothing can be decided: every present page is kept.
        expect(rep.pages.excluded).toBe(0);
        expect(rep.pages.remaining).toBe(rep.pages.original);
      } else {
        // Free pages cannot be found; none is excluded on a guess.
        expect(rep.excluded.free).toBe(0);
      }
    });
  }
});
