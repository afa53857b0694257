/**
 * fast-check arbitraries of hostile cases over the base images of harness.ts, and the loop that
 * runs them (in-process, with a sample through the binary), collecting every failure rather
 * than stopping at the first, so one run reports each class of bug once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  judge,
  libkdumpfileCheck,
  patchFor,
  regionNames,
  runBinary,
  runInProcess,
  WorkingCopy,
  writeRegression,
  type BaseImage,
  type BaseKind,
  type Bases,
  type CaseSpec,
  type Mutation,
  type Outcome,
} from './harness.js';

const INTERESTING = ['0x0', '0x1', '0xffffffffffffffff', '0x7fffffff', '0x80000000', '0xffffffff', '0x100000000', '0x10000000000', '0x8000000000000000', '0x1000', '0xfff'];
const VALUES = ['0', '-1', '1', 'ffffffffffffffff', '18446744073709551615', 'zz', '', '99999999999999999999999', '-129', '0x40', '4096', '64', '9223372036854775807'];

function keysOf(b: BaseImage): string[] {
  if (!b.vmcoreinfo) return ['OSRELEASE'];
  const t = b.bytes.subarray(b.vmcoreinfo.offset, b.vmcoreinfo.offset + b.vmcoreinfo.size).toString('latin1');
  return t
    .split('\n')
    .map((l) => l.split('=')[0]!)
    .filter((k) => k && !k.includes('\0'));
}

/** Mutations that make sense for base `b`. */
export function mutationArb(b: BaseImage): fc.Arbitrary<Mutation> {
  const regions = regionNames(b);
  const keys = keysOf(b);
  const arbs: fc.Arbitrary<Mutation>[] = [
    fc.record({ op: fc.constant('flip' as const), region: fc.constantFrom(...regions), index: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      op: fc.constant('set' as const),
      region: fc.constantFrom(...regions),
      index: fc.nat(),
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => '0x' + v.toString(16))),
    }),
    fc.record({ op: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
    fc.record({ op: fc.constant('vmcoreinfo-delete' as const), key: fc.constantFrom(...keys) }),
    fc.record({
      op: fc.constant('vmcoreinfo-set' as const),
      key: fc.constantFrom(...keys),
      value: fc.oneof(fc.constantFrom(...VALUES), fc.integer().map(String), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v.toString(16))),
    }),
  ];
  if (b.phdrs) arbs.push(fc.record({ op: fc.constant('shuffle-phdrs' as const), seed: fc.nat() }));
  return fc.oneof(...arbs);
}

export function caseArb(b: BaseImage): fc.Arbitrary<CaseSpec> {
  return fc.record({
    base: fc.constant(b.kind),
    mutations: fc.array(mutationArb(b), { minLength: 1, maxLength: 4 }),
    level: fc.constantFrom(0, 1, 16, 31, 31, 31),
    // Compressing output costs more than the rest of a case: one case in eight.
    codec: fc.constantFrom(undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'zlib' as const),
  }) as fc.Arbitrary<CaseSpec>;
}

export interface Failure {
  spec: CaseSpec;
  problem: string;
  fixture?: string;
}

export interface RunStats {
  cases: number;
  byOutcome: Record<string, number>;
  binaryRuns: number;
  maxRssKb: number;
  maxMs: number;
  libkdumpfileChecked: number;
  failures: Failure[];
}

export interface RunOptions {
  seed: number;
  /** Cases to run (per base), or until `untilMs`. */
  numRuns: number;
  untilMs?: number;
  /** Every n-th case also runs through the binary (peak RSS measured). */
  binaryEvery: number;
  /** Every n-th successful case is opened with libkdumpfile. */
  libkdumpfileEvery: number;
  /** Write failures as regression fixtures. */
  record: boolean;
  simSeed: number;
}

/** Run hostile cases over one base; returns what happened. */
export async function runCases(bases: Bases, kind: BaseKind, opts: RunOptions, stats: RunStats): Promise<void> {
  const base = bases[kind];
  const work = new WorkingCopy(base, bases.dir);
  const keepDir = path.join(bases.dir, `ok-${kind}`);
  fs.mkdirSync(keepDir, { recursive: true });
  const toCheck = new Map<string, CaseSpec>();
  const seen = new Set<string>();
  const arb = caseArb(base);
  let okCount = 0;
  for (let chunk = 0; ; chunk++) {
    const specs = fc.sample(arb, { seed: opts.seed + chunk * 7919, numRuns: 25 });
    let stop = false;
    for (const spec of specs) {
      if (opts.untilMs === undefined && caseCount(stats, kind) >= opts.numRuns) {
        stop = true;
        break;
      }
      if (opts.untilMs !== undefined && Date.now() >= opts.untilMs) {
        stop = true;
        break;
      }
      bump(stats, kind);
      const n = caseCount(stats, kind);
      const output = path.join(bases.dir, `out-${kind}.dump`);
      const patch = patchFor(base, spec.mutations);
      const binary = n % opts.binaryEvery === 0;
      const o: Outcome = await work.with(patch, async (file) => (binary ? runBinary(file, output, spec) : runInProcess(file, output, spec)));
      if (binary) {
        stats.binaryRuns++;
        stats.maxRssKb = Math.max(stats.maxRssKb, o.rssKb ?? 0);
      }
      stats.maxMs = Math.max(stats.maxMs, o.ms);
      const label = o.code === 0 ? 'success' : o.code === 8 ? 'partial' : `exit ${o.code}`;
      stats.byOutcome[`${kind}: ${label}`] = (stats.byOutcome[`${kind}: ${label}`] ?? 0) + 1;
      const problem = judge(o, { checkRss: binary });
      if (problem) fail(stats, seen, opts, spec, problem);
      else if (o.code === 0 || o.code === 8) {
        okCount++;
        if (okCount % opts.libkdumpfileEvery === 0) {
          const keep = path.join(keepDir, `${n}.dump`);
          fs.renameSync(output, keep);
          toCheck.set(keep, spec);
        }
      }
      fs.rmSync(output, { force: true });
    }
    if (stop) break;
  }
  const results = libkdumpfileCheck([...toCheck.keys()]);
  for (const [file, problem] of Object.entries(results)) {
    stats.libkdumpfileChecked++;
    if (problem) fail(stats, seen, opts, toCheck.get(file)!, `libkdumpfile cannot read our output: ${problem}`);
  }
  fs.rmSync(keepDir, { recursive: true, force: true });
  fs.rmSync(work.file, { force: true });
}

const counts = new WeakMap<RunStats, Map<string, number>>();
function bump(s: RunStats, k: string): void {
  let m = counts.get(s);
  if (!m) counts.set(s, (m = new Map()));
  m.set(k, (m.get(k) ?? 0) + 1);
  s.cases++;
}
function caseCount(s: RunStats, k: string): number {
  return counts.get(s)?.get(k) ?? 0;
}

function fail(stats: RunStats, seen: Set<string>, opts: RunOptions, spec: CaseSpec, problem: string): void {
  // One fixture per kind of problem: numbers and paths vary between instances of the same bug.
  const sig = `${spec.base}:` + problem.replace(/0x[0-9a-f]+|\d+|\/[^\s:]+/g, '#').slice(0, 120);
  const f: Failure = { spec, problem };
  if (opts.record && !seen.has(sig)) {
    f.fixture = writeRegression({ simSeed: opts.simSeed, found: { seed: opts.seed, date: new Date().toISOString() }, case: spec, problem: problem.slice(0, 500) });
  }
  seen.add(sig);
  stats.failures.push(f);
}

export function emptyStats(): RunStats {
  return { cases: 0, byOutcome: {}, binaryRuns: 0, maxRssKb: 0, maxMs: 0, libkdumpfileChecked: 0, failures: [] };
}
