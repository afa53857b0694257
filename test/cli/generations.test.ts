/**
 * Every triage command, run as the built binary on simulator images of several kernel
 * generations (src/mm/profiles.ts): 4.14 (sentinel page types, the old log_buf), 6.4 (folio
 * offsets), 6.10 (slab and hugetlb as page types), 6.12 (the top-byte scheme, where hinted
 * pages are told apart by PG_reported = PG_uptodate, bit 3 decided from the exported
 * NUMBER(PG_*) layout; `--reported-bit none` turns the test off) and 6.16
 * (unaccepted memory). One 64 MiB image per generation, reused by every command:
 * - golden text of `info`, `stats --sample 64`, `dmesg` (its ends and summary), the filter
 *   report (`-d 31`, uncompressed: codecs are tested elsewhere and cost CPU here) and the
 *   makedumpfile drop-in's report, in test/cli/golden/gen-*;
 * - `--json` of info, stats, dmesg and the filter validated against schema/*.schema.json, and
 *   agreeing with each other on the class counts;
 * - `map`: a summary of the SVG (title, legend entries and counts, cells per colour), not the SVG;
 * - the drop-in writes the same dump bytes as the equivalent vmcore-filter command, and its
 *   `--dump-dmesg VMCORE LOGFILE` the same log as `dmesg` and as the real makedumpfile.
 * Commands run two or three at a time (async spawns), so the file stays well under a minute.
 * Regenerate goldens with `npm run golden` and review the diff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { requirePeer } from '../helpers/peers.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const GOLDEN = path.resolve('test/cli/golden');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-cli-gen-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A generation under test: its name in goldens, the profile it simulates, extra classify options. */
interface Gen {
  name: string;
  kernel: string;
  /** Options for info, stats, filter and map (not dmesg: the log does not depend on them). */
  extra: string[];
  /** A variant reusing another generation's image (no sim, dmesg or drop-in of its own). */
  variantOf?: string;
  /** arm64 rows: the page size given to `sim --arch arm64 --page-size`. */
  arm64PageSize?: '4k' | '16k' | '64k';
}

const GENS: Gen[] = [
  { name: 'linux-4.14', kernel: 'linux-4.14', extra: [] },
  { name: 'linux-6.4', kernel: 'linux-6.4', extra: [] },
  { name: 'linux-6.10', kernel: 'linux-6.10', extra: [] },
  { name: 'linux-6.12', kernel: 'linux-6.12', extra: [] },
  { name: 'linux-6.12-rbnone', kernel: 'linux-6.12', extra: ['--reported-bit', 'none'], variantOf: 'linux-6.12' },
  { name: 'linux-6.16', kernel: 'linux-6.16', extra: [] },
  // arm64 (6.12 layout and exports, RAM from 1 GiB): every command on 4, 16 and 64 KiB pages
  { name: 'arm64-4k', kernel: 'linux-6.12', extra: [], arm64PageSize: '4k' },
  { name: 'arm64-16k', kernel: 'linux-6.12', extra: [], arm64PageSize: '16k' },
  { name: 'arm64-64k', kernel: 'linux-6.12', extra: [], arm64PageSize: '64k' },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// A small pool: the CLI is mostly one synchronous process per command, so 3 at a time keeps
// 2 cores busy without thrashing.
const POOL = 3;
let active = 0;
const waiting: Array<() => void> = [];
async function cli(args: string[]): Promise<Run> {
  if (active >= POOL) await new Promise<void>((r) => waiting.push(r));
  active++;
  try {
    return await new Promise<Run>((resolve, reject) => {
      const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      c.stdout.on('data', (b: Buffer) => out.push(b));
      c.stderr.on('data', (b: Buffer) => err.push(b));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    });
  } finally {
    active--;
    waiting.shift()?.();
  }
}

const img = (g: Gen) => path.join(dir, `${g.variantOf ?? g.name}.img`);
const out = (g: Gen, what: string) => path.join(dir, `${g.name}.${what}`);

/** Temp paths and timings change from run to run. */
function normalise(s: string): string {
  return s
    .split(dir)
    .join('<tmp>')
    .replace(/^(\s*Elapsed\s+)\d+(\.\d+)? s$/gm, '$1<elapsed>');
}

/** Everything each generation's tests look at, produced up front in parallel. */
interface Results {
  sim?: Run;
  info: Run;
  infoJson: Run;
  stats: Run;
  statsJson: Run;
  dmesg?: Run;
  dmesgJson?: Run;
  filter: Run;
  filterJson: Run;
  map: Run;
  mdf?: Run;
  mdfDmesg?: Run;
}
const results = new Map<string, Results>();

async function runGeneration(g: Gen): Promise<void> {
  const i = img(g);
  const x = g.extra;
  const jobs: Record<string, Promise<Run>> = {
    info: cli(['info', ...x, i]),
    infoJson: cli(['info', '--json', ...x, i]),
    stats: cli(['stats', '--sample', '64', ...x, i]),
    statsJson: cli(['stats', '--json', '--sample', '64', ...x, i]),
    filter: cli(['-d', '31', ...x, i, out(g, 'dump')]),
    filterJson: cli(['-d', '31', '--json', ...x, i, out(g, 'json.dump')]),
    map: cli(['map', ...x, i, '-o', out(g, 'svg')]),
  };
  if (!g.variantOf) {
    jobs.dmesg = cli(['dmesg', i]);
    jobs.dmesgJson = cli(['dmesg', '--json', i]);
    jobs.mdf = cli(['makedumpfile', '--message-level', '31', '-d', '31', i, out(g, 'mdf.dump')]);
    jobs.mdfDmesg = cli(['makedumpfile', '--dump-dmesg', i, out(g, 'dmesg.log')]);
  }
  const done = Object.fromEntries(await Promise.all(Object.entries(jobs).map(async ([k, p]) => [k, await p] as const)));
  results.set(g.name, { ...results.get(g.name), ...(done as unknown as Results) });
}

beforeAll(async () => {
  // Images first (each gates its generation's commands), then every command, all through the pool.
  await Promise.all(
    GENS.filter((g) => !g.variantOf).map(async (g) => {
      const arch = g.arm64PageSize ? ['--arch', 'arm64', '--page-size', g.arm64PageSize] : [];
      const sim = await cli(['sim', img(g), '--kernel', g.kernel, '--mem', '64M', '--seed', '1', '--json', ...arch]);
      results.set(g.name, { sim } as Results);
      if (sim.code !== 0) return;
      await Promise.all([runGeneration(g), ...GENS.filter((v) => v.variantOf === g.name).map(runGeneration)]);
    }),
  );
}, 240_000);

const ajv = new Ajv({ allErrors: true, strict: false });
const schema = (name: string) => ajv.compile(JSON.parse(fs.readFileSync(`schema/${name}.schema.json`, 'utf8')));
const validate = { info: schema('info'), stats: schema('stats'), dmesg: schema('dmesg'), report: schema('report') };

/** Parse a command's JSON and check it against its schema. */
function json(r: Run | undefined, v: keyof typeof validate): Record<string, any> {
  expect(r, 'command did not run (did sim fail?)').toBeDefined();
  expect(r!.code, r!.stderr).toBe(0);
  const j = JSON.parse(r!.stdout);
  expect(validate[v](j), JSON.stringify(validate[v].errors)).toBe(true);
  return j;
}

function ok(r: Run | undefined): Run {
  expect(r, 'command did not run (did sim fail?)').toBeDefined();
  expect(r!.code, r!.stderr).toBe(0);
  return r!;
}

/**
 * The SVG, summarised: its title lines, the legend (colour, label, count), the notes under it,
 * and how many grid cells each colour fills — enough to see a class appear, vanish or move
 * between generations without snapshotting 2000 rectangles.
 */
function summariseSvg(svg: string): string {
  const lines: string[] = [];
  const texts = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].map((m) => ({ attrs: m[1]!, text: m[2]! }));
  const frame = /<rect x="[\d.]+" y="[\d.]+" width="(\d+)" height="(\d+)" fill="none" stroke=/.exec(svg);
  expect(frame, 'grid frame').not.toBeNull();
  lines.push(`title: ${/<title>([^<]*)<\/title>/.exec(svg)?.[1]}`);
  for (const t of texts.slice(0, 2)) lines.push(`heading: ${t.text}`);
  // the legend: swatch rect, label text, count text, in order
  const legend = [...svg.matchAll(/<rect x="(\d+)" y="\d+" width="16" height="16" fill="(#[0-9a-f]{6})"[^>]*\/>\n(?:<rect [^>]*url\(#hatch\)[^>]*\/>\n)?<text [^>]*>([^<]*)<\/text>\n(?:<text [^>]*>([^<]*)<\/text>)?/g)];
  const labelOf = new Map<string, string>();
  lines.push('legend:');
  for (const m of legend) {
    labelOf.set(m[2]!, m[3]!);
    lines.push(`  ${m[3]!.padEnd(32)} ${m[2]}  ${m[4] ?? ''}`.trimEnd());
  }
  const grid = /<g shape-rendering="crispEdges">\n([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
  const cells = new Map<string, number>();
  let hatched = 0;
  for (const m of grid.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="([\d.]+)" fill="([^"]+)"\/>/g)) {
    const area = Number(m[1]) * Number(m[2]);
    if (m[3] === 'url(#hatch)') hatched += area;
    else cells.set(m[3]!, (cells.get(m[3]!) ?? 0) + area);
  }
  // the frame is the grid plus a pixel: every cell has exactly one colour
  const total = [...cells.values()].reduce((a, b) => a + b, 0);
  const frameArea = (Number(frame![1]) - 1) * (Number(frame![2]) - 1);
  expect(total, 'the grid is covered exactly once').toBe(frameArea);
  lines.push('cells (share of the grid):');
  for (const [fill, area] of [...cells].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    lines.push(`  ${(labelOf.get(fill) ?? `unlabelled ${fill}`).padEnd(32)} ${((area * 100) / frameArea).toFixed(2).padStart(6)}%`);
  }
  if (hatched) lines.push(`hatched: ${((hatched * 100) / frameArea).toFixed(2)}%`);
  lines.push('notes:');
  for (const t of texts.filter((t) => /font-size="11" fill="#333333"/.test(t.attrs) && !/rotate/.test(t.attrs))) lines.push(`  ${t.text}`);
  return lines.join('\n') + '\n';
}

/** The first lines of a log (where it starts after wrapping) and its end from the "sysrq: Trigger a crash" line on. */
function logEnds(log: string, head = 5): string {
  const l = log.trimEnd().split('\n');
  const crash = l.findIndex((x) => /\] sysrq: Trigger a crash$/.test(x));
  expect(crash, 'the crash is in the log').toBeGreaterThan(head);
  return [...l.slice(0, head), `… ${crash - head} lines …`, ...l.slice(crash)].join('\n') + '\n';
}

describe.each(GENS)('$name', (g) => {
  const R = () => results.get(g.name)!;
  const golden = (what: string) => path.join(GOLDEN, `gen-${g.name}.${what}`);
  // Tests of the image itself exist only for generations with their own image (not variants
  // that reuse one), declared conditionally so nothing shows up as skipped.
  const ownImage = ((name: string, fn: () => unknown) => {
    if (!g.variantOf) it(name, fn);
  }) as (name: string, fn: () => unknown) => void;

  ownImage('sim --kernel writes the image', () => {
    const s = JSON.parse(ok(R().sim).stdout);
    expect(s.bytes).toBe(fs.statSync(img(g)).size);
    // 64 MiB of 4 KiB pages; arm64: pfns from 0 to the end of RAM at 1 GiB + 64 MiB
    const pfns = g.arm64PageSize ? (2 ** 30 + 2 ** 26) / ({ '4k': 4096, '16k': 16384, '64k': 65536 } as const)[g.arm64PageSize] : 16384;
    expect(s.counts.hole + Object.values(s.counts as Record<string, number>).reduce((a, b) => a + b, 0) - s.counts.hole).toBe(pfns);
  });

  it('info: text golden; --json valid', async () => {
    await expect(normalise(ok(R().info).stdout)).toMatchFileSnapshot(golden('info.txt'));
    const j = json(R().infoJson, 'info');
    expect(j.kernel?.release ?? JSON.stringify(j)).toContain(g.kernel.replace('linux-', ''));
  });

  it('stats --sample 64: text golden; --json valid and agreeing with the filter', async () => {
    await expect(normalise(ok(R().stats).stdout)).toMatchFileSnapshot(golden('stats.txt'));
    const s = json(R().statsJson, 'stats');
    const f = json(R().filterJson, 'report');
    for (const [k, v] of Object.entries(s.classes as Record<string, number>)) expect(f.classes[k], k).toBe(v);
    const l31 = (s.levels as Array<{ level: number; kept: number; exact?: boolean }>).find((x) => x.level === 31)!;
    // the sample decides zero pages only approximately; the non-zero part must agree exactly
    expect(Math.abs(l31.kept - f.pages.remaining)).toBeLessThanOrEqual(f.excluded.zero);
  });

  ownImage('dmesg: the log\'s ends and summary golden; --json valid; the drop-in\'s --dump-dmesg writes the same log', async () => {
    const d = ok(R().dmesg);
    await expect(logEnds(d.stdout) + '--- stderr\n' + normalise(d.stderr)).toMatchFileSnapshot(golden('dmesg.txt'));
    expect(d.stdout).toContain('Kernel panic - not syncing: sysrq triggered crash');
    const j = json(R().dmesgJson, 'dmesg');
    expect(j.buffer.format).toBe(g.kernel === 'linux-4.14' ? 'log_buf' : 'lockless');
    expect(j.records.length).toBe(d.stdout.match(/^\[/gm)!.length);
    const m = ok(R().mdfDmesg);
    expect(m.stdout).toBe(`\nThe dmesg log is saved to ${out(g, 'dmesg.log')}.\n\nmakedumpfile Completed.\n`);
    expect(fs.readFileSync(out(g, 'dmesg.log'), 'latin1')).toBe(d.stdout);
  });

  ownImage('makedumpfile --dump-dmesg (the real one, 1.7.2) writes the same log file', () => {
    // Debian's amd64 makedumpfile is built for x86_64 and cannot read an arm64 dump
    if (g.arm64PageSize || !requirePeer('makedumpfile')) return;
    const theirs = out(g, 'real-dmesg.log');
    const r = spawnSync('/usr/bin/makedumpfile', ['--dump-dmesg', img(g), theirs], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`The dmesg log is saved to ${theirs}.`);
    expect(fs.readFileSync(out(g, 'dmesg.log')).equals(fs.readFileSync(theirs))).toBe(true);
  });

  it('filter -d 31: report golden; --json valid', async () => {
    await expect(normalise(ok(R().filter).stdout)).toMatchFileSnapshot(golden('filter-d31.txt'));
    const f = json(R().filterJson, 'report');
    expect(f.dumpLevel).toBe(31);
    expect(fs.readFileSync(out(g, 'dump')).equals(fs.readFileSync(out(g, 'json.dump'))), '--json does not change the dump').toBe(true);
  });

  ownImage('makedumpfile --message-level 31 -d 31: report golden, same bytes as vmcore-filter -d 31', async () => {
    const m = ok(R().mdf);
    await expect(normalise(m.stdout)).toMatchFileSnapshot(golden('makedumpfile-ml31-d31.txt'));
    expect(fs.readFileSync(out(g, 'mdf.dump')).equals(fs.readFileSync(out(g, 'dump')))).toBe(true);
  });

  it('map: SVG summary golden', async () => {
    const m = ok(R().map);
    expect(normalise(m.stdout)).toMatch(/^wrote <tmp>\/[\w.-]+\.svg: \d+×\d+ cells of \d+ pages?\n$/);
    const svg = fs.readFileSync(out(g, 'svg'), 'utf8');
    await expect(normalise(m.stdout) + summariseSvg(svg)).toMatchFileSnapshot(golden('map.txt'));
  });
});

describe('what tells the generations apart, across commands', () => {
  it('linux-6.12: hinted pages by PG_reported (bit 3 from the exports) by default, free with --reported-bit none (the sim\'s truth)', () => {
    const truth = JSON.parse(ok(results.get('linux-6.12')!.sim).stdout).counts;
    expect(truth.hinted).toBeGreaterThan(0);
    const plain = json(results.get('linux-6.12')!.filterJson, 'report');
    const none = json(results.get('linux-6.12-rbnone')!.filterJson, 'report');
    expect(plain.classes.hinted).toBe(truth.hinted);
    expect(plain.excluded.hinted).toBe(truth.hinted);
    expect(plain.pageTypes.reported).toMatchObject({ bit: 3, by: 'vmcoreinfo' });
    expect(plain.pageTypes.reported.keys).toContain('NUMBER(PG_lru)=5');
    expect(plain.pageTypes.hintedBy).toEqual({ combined: null, reported: truth.hinted });
    expect(none.classes.hinted).toBe(0);
    expect(none.classes.free).toBe(plain.classes.free + plain.classes.hinted);
    expect(none.pageTypes.reported).toMatchObject({ bit: null, by: 'option' });
    const info = json(results.get('linux-6.12')!.infoJson, 'info');
    const infoNone = json(results.get('linux-6.12-rbnone')!.infoJson, 'info');
    expect(info.reported).toMatchObject({ bit: 3, by: 'vmcoreinfo', layouts: ['6.12+'] });
    expect(info.hinted).toEqual({ pages: truth.hinted, byCombined: 0, byReported: truth.hinted });
    expect(info.classes.hinted.decidable).toBe(true);
    expect(infoNone.reported).toMatchObject({ bit: null, by: 'option', description: 'PG_reported not tested (--reported-bit none)' });
    expect(infoNone.classes.hinted).toMatchObject({ decidable: false });
  });
  it('linux-6.16: unaccepted memory is excluded with the free pages (bit 16)', () => {
    const truth = JSON.parse(ok(results.get('linux-6.16')!.sim).stdout).counts;
    expect(truth.unaccepted).toBeGreaterThan(0);
    const f = json(results.get('linux-6.16')!.filterJson, 'report');
    expect(f.classes.free).toBe(truth.free + truth.unaccepted);
  });
  it('linux-4.14: the log comes from log_buf, 6.x from the lockless ring', () => {
    expect(ok(results.get('linux-4.14')!.dmesg).stderr).toMatch(/from the log_buf/);
    expect(ok(results.get('linux-6.16')!.dmesg).stderr).toMatch(/from the lockless printk ring buffer/);
  });
});

describe('makedumpfile --dump-dmesg, as kdump-tools runs it', () => {
  it('an existing LOGFILE is kept and makedumpfile "Failed." (exit 6); -F writes the log to stdout and the messages to stderr', async () => {
    const g = GENS.find((x) => x.name === 'linux-6.12')!;
    const log = out(g, 'dmesg.log'); // written by the drop-in above
    const before = fs.readFileSync(log, 'latin1');
    const again = await cli(['makedumpfile', '--dump-dmesg', img(g), log]);
    expect(again.code, again.stderr).toBe(6);
    expect(again.stdout).toBe('\nmakedumpfile Failed.\n');
    expect(again.stderr).toMatch(/^vmcore-filter: error: output .*dmesg\.log exists \(use -f to overwrite\)\n$/);
    expect(fs.readFileSync(log, 'latin1')).toBe(before);
    const f = await cli(['makedumpfile', '-F', '--dump-dmesg', img(g)]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toBe(before);
    expect(f.stderr).toBe('\nThe dmesg log is saved to STDOUT.\n\nmakedumpfile Completed.\n');
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), 'no temporaries left').toEqual([]);
  });
});
