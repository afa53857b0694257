/**
 * Golden fixtures of every kernel generation (`npm run fixtures`): for each profile, simulate
 * a small image (96 MiB, fixed seed), classify it with the filter, and write
 * `fixtures/generations/<profile>.txt`: the detected encoding and the keys that decided it,
 * the ground truth's pages per class, the filter's pages per class, and the pages excluded at
 * each dump level 0..31 (truth and filter). Binaries are made at run time, never committed; the
 * test in test/generations regenerates the text and compares it with the committed file.
 *
 * An entry point like the CLI commands: it joins the simulator and the filter, which import
 * nothing of each other.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulate } from './index.js';
import { describeReportedBit } from '../mm/pageflags.js';
import { PROFILES, PROFILE_NAMES } from '../mm/profiles.js';
import { openDump } from '../formats/probe.js';
import { classifyDump, excludedClasses, CLASS_NAMES, type Classification } from '../filter/index.js';
import type { GroundTruth } from './truth.js';

/** Image size and seed of the fixtures. */
export const FIXTURE_MEM = 96 << 20;
export const FIXTURE_SEED = 7;

/** The arm64 fixture rows: Linux 6.12 at each granule, named `arm64-<size>`. */
export const ARM64_FIXTURES: Record<string, { kernel: string; pageSize: number; memBytes: number; vaBits?: number }> = {
  'arm64-4k': { kernel: 'linux-6.12', pageSize: 4096, memBytes: FIXTURE_MEM },
  'arm64-16k': { kernel: 'linux-6.12', pageSize: 16384, memBytes: FIXTURE_MEM },
  // order-9 blocks are 32 MiB here: a larger machine, so hugetlb and hinted blocks exist
  'arm64-64k': { kernel: 'linux-6.12', pageSize: 65536, memBytes: 512 << 20 },
  // VA_BITS 52 in use, as Debian's 6.12 arm64 kernels on a CPU with LPA2 / 52-bit PA
  'arm64-4k-va52': { kernel: 'linux-6.12', pageSize: 4096, memBytes: FIXTURE_MEM, vaBits: 52 },
  'arm64-16k-va52': { kernel: 'linux-6.12', pageSize: 16384, memBytes: 256 << 20, vaBits: 52 },
  'arm64-64k-va52': { kernel: 'linux-6.12', pageSize: 65536, memBytes: 512 << 20, vaBits: 52 },
};

/**
 * Simulate `kernel` (or an arm64 row of {@link ARM64_FIXTURES}), classify it, and render the
 * golden text. `dir` holds the temporary image.
 */
export async function generationFixture(name: string, dir: string): Promise<{ text: string; truth: GroundTruth; classification: Classification }> {
  const arm = ARM64_FIXTURES[name];
  const kernel = arm?.kernel ?? name;
  const profile = PROFILES[kernel];
  if (!profile) throw new Error(`unknown profile ${kernel}`);
  const img = path.join(dir, `${name}.vmcore`);
  const extra = arm ? { arch: 'arm64' as const, pageSize: arm.pageSize, ...(arm.vaBits ? { vaBits: arm.vaBits } : {}) } : {};
  const { truth } = await simulate(img, { kernel, seed: FIXTURE_SEED, memBytes: arm?.memBytes ?? FIXTURE_MEM, ...extra });
  const r = openDump(img);
  let c: Classification;
  let zeroKept: number[];
  try {
    // No reported bit given: PG_uptodate is decided from the exported NUMBER(PG_*) layout.
    c = classifyDump(r, { dumpLevel: 31, alwaysWalkFreeLists: true });
    zeroKept = zeroPagesKept(r, c);
  } finally {
    r.close();
    fs.rmSync(img, { force: true });
    fs.rmSync(img + '.truth.json', { force: true });
  }
  const lines: string[] = [];
  lines.push(`# vmcore-filter generation fixture: ${name} (${truth.layout.maxMapnr} pfns, seed ${FIXTURE_SEED}); regenerate with npm run fixtures`);
  lines.push(`osrelease ${profile.osrelease}`);
  if (arm) lines.push(`arch arm64 page-size ${arm.pageSize}${arm.vaBits ? ` va-bits ${arm.vaBits}` : ''} pt-levels ${truth.layout.ptLevels}`);
  const pt = c.pageTypes;
  lines.push(`encoding ${pt?.scheme ?? 'none'}${pt?.base !== undefined ? ` base 0x${pt.base.toString(16)}` : ''}`);
  lines.push(`encoding-keys ${pt?.decidedBy.join(' ') || '-'}`);
  lines.push(`free-pages-by ${c.freePagesBy}`);
  lines.push(`hinted-by ${truth.hintedStyle}`);
  lines.push(`pg-reported ${c.reported ? describeReportedBit(c.reported) : '-'}`);
  for (const n of CLASS_NAMES) {
    if (n === 'hole' || n === 'unknown') continue;
    const keys = c.decidedBy[n];
    lines.push(`decides ${n.padEnd(13)} ${c.decidable[n] ? (keys?.join(' ') ?? '') : `no: ${c.undecidable[n] ?? ''}`}`);
  }
  lines.push('truth-pages');
  for (const [k, v] of Object.entries(truth.counts)) lines.push(`  ${k.padEnd(13)} ${v}`);
  lines.push('filter-pages');
  for (const n of CLASS_NAMES) lines.push(`  ${n.padEnd(13)} ${c.counts[n]}`);
  lines.push('excluded-by-level level truth filter');
  for (let level = 0; level <= 31; level++) {
    let ex = 0;
    for (const n of excludedClasses(level)) ex += c.counts[n];
    if (level & 1) ex += zeroKept[level]!;
    lines.push(`  ${String(level).padStart(2)} ${truth.excludeByLevel[level]} ${ex}`);
  }
  return { text: lines.join('\n') + '\n', truth, classification: c };
}

/** Zero-filled pages each level keeps by class (bit 1 drops them by content), per level. */
function zeroPagesKept(r: ReturnType<typeof openDump>, c: Classification): number[] {
  const byClass = new Float64Array(CLASS_NAMES.length);
  const batch = 256;
  const ps = r.info.pageSize;
  const buf = Buffer.alloc(batch * ps);
  const zero = Buffer.alloc(ps);
  for (let p = r.present.nextSet(0); p >= 0; ) {
    const end = Math.min(p + batch, r.present.nextClear(p) < 0 ? r.maxMapnr : r.present.nextClear(p));
    r.readPages(p, end - p, buf);
    for (let q = p; q < end; q++) if (buf.compare(zero, 0, ps, (q - p) * ps, (q - p + 1) * ps) === 0) byClass[c.classOf[q]!]!++;
    p = end >= r.maxMapnr ? -1 : r.present.nextSet(end);
  }
  const out: number[] = [];
  for (let level = 0; level <= 31; level++) {
    const ex = excludedClasses(level);
    let z = 0;
    CLASS_NAMES.forEach((n, i) => {
      if (n !== 'hole' && !ex.has(n)) z += byClass[i]!;
    });
    out.push(z);
  }
  return out;
}

/** Write every profile's fixture under `outDir`. */
export async function writeGenerationFixtures(outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcore-filter-fixtures-'));
  const written: string[] = [];
  try {
    for (const name of [...PROFILE_NAMES, ...Object.keys(ARM64_FIXTURES)]) {
      const { text } = await generationFixture(name, tmp);
      const file = path.join(outDir, `${name}.txt`);
      fs.writeFileSync(file, text);
      written.push(file);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = process.argv[2] ?? path.join(process.cwd(), 'fixtures', 'generations');
  writeGenerationFixtures(out).then(
    (files) => process.stdout.write(files.map((f) => `wrote ${f}\n`).join('')),
    (e: unknown) => {
      process.stderr.write(`fixtures: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
