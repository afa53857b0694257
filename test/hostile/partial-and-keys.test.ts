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
  it('a kdump input cut short is a clear error naming the pfn and offset (exit 4)', () => {
    const input = mutated('cut.kdump', [{ op: 'truncate', fraction: 0.6 }], 'kdump');
    const r = cli(['-d', '31', input, path.join(dir, 'cutk.dump')]);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/pfn 0x[0-9a-f]+ .*past the end of the file/);
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
