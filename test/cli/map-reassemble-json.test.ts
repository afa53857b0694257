/**
 * `map --json` and `reassemble --json`, run as the built binary: each object validated against
 * its schema (schema/map.schema.json, schema/reassemble.schema.json) and checked against the
 * numbers other commands and the files themselves give.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';

const BIN = path.resolve('bin/vmcore-filter.js');
let dir = '';
const p = (f: string) => path.join(dir, f);

function cli(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'buffer', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20, input });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateMap = ajv.compile(JSON.parse(fs.readFileSync('schema/map.schema.json', 'utf8')));
const validateReassemble = ajv.compile(JSON.parse(fs.readFileSync('schema/reassemble.schema.json', 'utf8')));
const validateStats = ajv.compile(JSON.parse(fs.readFileSync('schema/stats.schema.json', 'utf8')));

const STATS_CLASSES = ['free', 'hinted', 'offline', 'hwpoison', 'cache', 'cache_private', 'user', 'hugetlb', 'slab', 'kernel', 'unknown'];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-json-cli-'));
  const r = cli(['sim', p('a.img'), '--mem', '64M', '--seed', '7']);
  expect(r.code, r.stderr).toBe(0);
  const k = cli(['-d', '31', '-l', p('a.img'), p('a.dump')]);
  expect(k.code, k.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('map --json', () => {
  it.for(['a.img', 'a.dump'])('%s: per-class pages equal stats --json, cells and pages add up', (img) => {
    const r = cli(['map', '--json', p(img)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const m = JSON.parse(r.stdout);
    expect(validateMap(m), JSON.stringify(validateMap.errors)).toBe(true);
    const s = JSON.parse(cli(['stats', '--json', p(img)]).stdout);
    expect(validateStats(s), JSON.stringify(validateStats.errors)).toBe(true);
    expect(m.output).toBe(null);
    expect(m.input).toEqual({ path: p(img), format: s.format });
    expect(m.kernel).toBe(s.kernel);
    expect(m.maxMapnr).toBe(s.pages.total);
    for (const k of STATS_CLASSES) expect(m.pages[k], k).toBe(s.classes[k]);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    // Pfns with no data are holes to both; on a refiltered dump that includes the pages an
    // earlier filter dropped (present in the 1st bitmap, not stored).
    expect(m.pages.hole).toBe(s.pages.total - sum(s.classes));
    expect(m.pages.hole).toBe(img === 'a.img' ? s.pages.hole : s.pages.total - s.pages.stored);
    expect(m.pages.zero).toBe(0);
    expect(m.zeroDetected).toBe(false);
    expect(sum(m.pages)).toBe(m.maxMapnr);
    expect(m.cellsUsed).toBe(Math.ceil(m.maxMapnr / m.pagesPerCell));
    expect(sum(m.cells)).toBe(m.cellsUsed);
    expect(m.rows).toBe(Math.ceil(m.cellsUsed / m.columns));
    // the legend lists exactly the classes with pages, with their share of maxMapnr
    expect(m.legend.map((l: { class: string }) => l.class).sort()).toEqual(Object.keys(m.pages).filter((k) => m.pages[k] > 0).sort());
    for (const l of m.legend) expect(l.share).toBeCloseTo(m.pages[l.class] / m.maxMapnr, 12);
  });

  it('-d 31 -o: writes the SVG, hatches what level 31 excludes, counts zero pages like the filter', () => {
    const r = cli(['map', p('a.img'), '-d', '31', '--columns', '32', '-o', p('a.svg'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(validateMap(m), JSON.stringify(validateMap.errors)).toBe(true);
    expect(m.output).toBe(p('a.svg'));
    expect(fs.readFileSync(p('a.svg'), 'utf8')).toMatch(/^<svg /);
    expect(m.columns).toBe(32);
    expect(m.dumpLevel).toBe(31);
    expect(m.zeroDetected).toBe(true);
    expect([...m.excluded].sort()).toEqual(['cache', 'cache_private', 'free', 'hinted', 'hugetlb', 'hwpoison', 'no_struct_page', 'offline', 'user', 'zero']);
    for (const l of m.legend) expect(l.excluded, l.class).toBe(m.excluded.includes(l.class));
    // the filter at -d 31 finds the same zero pages among the pages it keeps
    const f = JSON.parse(cli(['-d', '31', '--json', p('a.img'), p('a31.dump')]).stdout);
    expect(m.pages.zero).toBe(f.classes.zero);
    // the report counts zero pages on top of their classes; the map takes them out of them
    expect(m.pages.kernel + m.pages.slab + m.pages.unknown + m.pages.zero).toBe(f.classes.kernel + f.classes.slab + f.classes.unknown);
  });

  it('errors: no -o and no --json → 2; an existing -o without -f → 6 before any work', () => {
    const a = cli(['map', p('a.img')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/give the SVG file to write with -o FILE \(or --json\)/);
    fs.writeFileSync(p('exists.svg'), 'keep');
    const b = cli(['map', '--json', p('a.img'), '-o', p('exists.svg')]);
    expect(b.code).toBe(6);
    expect(b.stdout).toBe('');
    expect(fs.readFileSync(p('exists.svg'), 'utf8')).toBe('keep');
  });
});

describe('reassemble --json', () => {
  it('split parts: parts read with their ranges and pages, pages and bytes written, byte-identical to the unsplit dump', () => {
    const s = cli(['--split', '-l', '-d', '31', p('a.img'), p('part1'), p('part2'), p('part3')]);
    expect(s.code, s.stderr).toBe(0);
    const r = cli(['reassemble', '--json', p('part1'), p('part2'), p('part3'), p('joined.dump')]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(validateReassemble(j), JSON.stringify(validateReassemble.errors)).toBe(true);
    expect(fs.readFileSync(p('joined.dump')).equals(fs.readFileSync(p('a.dump')))).toBe(true);
    expect(j.source).toBe('split');
    expect(j.inputs.map((i: { path: string }) => i.path)).toEqual([p('part1'), p('part2'), p('part3')]);
    // the ranges tile [0, max_mapnr) and the parts' pages add up to the dump's
    const info = JSON.parse(cli(['info', '--json', p('a.dump')]).stdout);
    expect(j.inputs[0].startPfn).toBe(0);
    for (let i = 1; i < 3; i++) expect(j.inputs[i].startPfn).toBe(j.inputs[i - 1].endPfn);
    expect(j.inputs[2].endPfn).toBe(JSON.parse(cli(['map', '--json', p('a.dump')]).stdout).maxMapnr);
    for (const i of j.inputs) {
      expect(i.bytes).toBe(fs.statSync(i.path).size);
      expect(i.records).toBe(null);
      expect(i.pages).toBeGreaterThan(0);
    }
    const f = JSON.parse(cli(['-l', '-d', '31', '--json', '-f', p('a.img'), p('a.dump')]).stdout);
    // stored pfns: the pages kept plus the zero pages, which point at the shared zero page
    expect(j.output).toEqual({ path: p('joined.dump'), format: 'kdump', codec: 'lzo', bytes: fs.statSync(p('a.dump')).size, pages: f.pages.remaining + f.classes.zero });
    expect(j.inputs.reduce((a: number, i: { pages: number }) => a + i.pages, 0)).toBe(j.output.pages);
    expect(j.bytesWritten).toBe(f.output.bytes);
    expect(info.format).toBe('kdump');
  });

  it('flattened file and stdin: records, bytes read, pages, byte-identical result', () => {
    const flat = cli(['-F', '-l', '-d', '31', p('a.img'), '-']);
    expect(flat.code, flat.stderr).toBe(0);
    fs.writeFileSync(p('a.flat'), flat.raw);
    const a = cli(['reassemble', '--json', p('a.flat'), p('from-file.dump')]);
    const b = cli(['reassemble', '--json', '-', p('from-stdin.dump')], flat.raw);
    for (const [r, out, inPath] of [[a, 'from-file.dump', p('a.flat')], [b, 'from-stdin.dump', '-']] as const) {
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(validateReassemble(j), JSON.stringify(validateReassemble.errors)).toBe(true);
      expect(fs.readFileSync(p(out)).equals(fs.readFileSync(p('a.dump')))).toBe(true);
      expect(j.source).toBe('flattened');
      expect(j.inputs).toHaveLength(1);
      expect(j.inputs[0]).toMatchObject({ path: inPath, bytes: flat.raw.length, startPfn: null, endPfn: null, pages: null });
      expect(j.inputs[0].records).toBeGreaterThan(0);
      expect(j.output).toMatchObject({ path: p(out), format: 'kdump', codec: 'lzo', bytes: fs.statSync(p('a.dump')).size });
      expect(j.bytesWritten).toBe(fs.statSync(p('a.dump')).size); // no record rewrote another here
    }
    expect(JSON.parse(a.stdout).output.pages).toBe(JSON.parse(cli(['stats', '--json', p('a.dump')]).stdout).pages.stored);
  });

  it('an ELF flattened stream reassembles to an ELF file: codec null', () => {
    const flat = cli(['-F', '-E', '-d', '31', p('a.img'), '-']);
    expect(flat.code, flat.stderr).toBe(0);
    const r = cli(['reassemble', '--json', '-', p('elf.out')], flat.raw);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(validateReassemble(j), JSON.stringify(validateReassemble.errors)).toBe(true);
    expect(j.output).toMatchObject({ format: 'elf', codec: null });
    const e = cli(['-E', '-d', '31', p('a.img'), p('elf.direct')]);
    expect(e.code, e.stderr).toBe(0);
    expect(fs.readFileSync(p('elf.out')).equals(fs.readFileSync(p('elf.direct')))).toBe(true);
  });

  it('without --json the line is makedumpfile\'s; a bad part is one line, exit 4', () => {
    const r = cli(['reassemble', p('part1'), p('part2'), p('part3'), p('plain.dump')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`The dumpfile is saved to ${p('plain.dump')}.\n`);
    const bad = cli(['reassemble', '--json', p('a.dump'), p('part2'), p('bad.dump')]);
    expect(bad.code).toBe(4);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/not a --split part/);
    expect(fs.existsSync(p('bad.dump'))).toBe(false);
  });
});
