/**
 * Replays every fixture in fixtures/regressions/ (written by `npm run fuzz` or by hand): the case
 * is applied to a freshly simulated image and must satisfy the hostile-input property (and the
 * exit code the fixture expects, if it names one).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { getBases, judge, loadRegressions, patchFor, removeBases, runInProcess, WorkingCopy, type Bases } from './harness.js';

const fixtures = loadRegressions();
const made: Bases[] = [];
afterAll(() => made.forEach(removeBases));

describe('regression fixtures', () => {
  it('there are fixtures to replay', () => expect(fixtures.length).toBeGreaterThan(0));
  for (const { name, fx } of fixtures) {
    it(name, async () => {
      const bases = await getBases(fx.simSeed);
      if (!made.includes(bases)) made.push(bases);
      const base = bases[fx.case.base];
      const work = new WorkingCopy(base, bases.dir);
      const out = path.join(bases.dir, `regress-${name}.dump`);
      const o = await work.with(patchFor(base, fx.case.mutations), (file) => runInProcess(file, out, fx.case));
      expect(judge(o), `${fx.problem}\n${o.line}`).toBe(null);
      const want = (fx as { expectCode?: number }).expectCode;
      if (want !== undefined) expect(o.code, o.line).toBe(want);
    }, 120_000);
  }
});
