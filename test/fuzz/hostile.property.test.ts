/**
 * Property: for any mutation of a simulator vmcore or of our own kdump / flattened outputs
 * (bit flips and odd values in headers and tables, changed and deleted VMCOREINFO lines,
 * truncation, shuffled PT_LOADs, corrupt compressed pages), the filter exits with a documented
 * code and one clear line naming what is wrong and where, or succeeds (partial for truncated
 * input) with an output libkdumpfile reads; never an internal error, never past the time bound;
 * binary runs also stay under the peak-RSS bound.
 *
 * CI: a fixed seed and a case budget (VF_FUZZ_CASES scales it). `npm run fuzz -- --minutes N`
 * sets VF_FUZZ_MS, a random VF_FUZZ_SEED and VF_FUZZ_RECORD=1: failures become fixtures in
 * fixtures/regressions/ that regressions.test.ts replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBases, removeBases, type BaseKind, type Bases } from './harness.js';
import { emptyStats, runCases, type RunStats } from './cases.js';

const SEED = Number(process.env.VF_FUZZ_SEED ?? 20250607);
const SCALE = Number(process.env.VF_FUZZ_CASES ?? 1);
const UNTIL = process.env.VF_FUZZ_MS ? Date.now() + Number(process.env.VF_FUZZ_MS) : undefined;
const RECORD = process.env.VF_FUZZ_RECORD === '1';
/** Cases per base in CI. */
export const CI_BUDGET: Record<BaseKind, number> = { elf: 100, kdump: 30, 'kdump-zlib': 30, flattened: 30 };

let bases: Bases;
const stats: RunStats = emptyStats();
beforeAll(async () => {
  bases = await getBases(1);
});
afterAll(() => {
  if (bases && !process.env.KEEP_TEST_FILES) removeBases(bases);
  // One line per outcome, for the README table and the CI log.
  console.log(`hostile property run (seed ${SEED}): ${stats.cases} cases, ${stats.binaryRuns} through the binary (peak RSS ≤ ${stats.maxRssKb} KiB), ` +
    `${stats.libkdumpfileChecked} outputs opened with libkdumpfile, slowest ${Math.round(stats.maxMs)} ms\n` +
    Object.entries(stats.byOutcome).sort().map(([k, v]) => `  ${k}: ${v}`).join('\n'));
});

describe('hostile inputs never crash, hang or exhaust memory', () => {
  const kinds: BaseKind[] = ['elf', 'kdump', 'kdump-zlib', 'flattened'];
  for (const kind of kinds) {
    it(`mutated ${kind} images`, async () => {
      const before = stats.failures.length;
      // With a time budget, split it evenly between the bases still to run.
      const idx = kinds.indexOf(kind);
      const until = UNTIL === undefined ? undefined : Date.now() + (UNTIL - Date.now()) / (kinds.length - idx);
      await runCases(bases, kind, {
        seed: SEED + idx,
        numRuns: Math.max(1, Math.round(CI_BUDGET[kind] * SCALE)),
        untilMs: until,
        binaryEvery: 10,
        libkdumpfileEvery: 8,
        record: RECORD,
        simSeed: 1,
      }, stats);
      const mine = stats.failures.slice(before);
      expect(mine.map((f) => `${f.problem.slice(0, 400)}\n  case: ${JSON.stringify(f.spec)}${f.fixture ? `\n  fixture: ${f.fixture}` : ''}`)).toEqual([]);
    }, 3_600_000);
  }
});
