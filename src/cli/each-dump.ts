/** Run a per-dump report over several dumps (fleet triage): one bad dump does not stop the rest. */
import { VmcoreError } from '../errors.js';
import { reportError } from './report-error.js';

/**
 * Call `report` for each dump in order. A dump that fails is its one error line on stderr (a
 * usage error — the same for every dump — stops at once); the exit code is that of the first dump
 * that did not succeed, 0 if all did.
 */
export function eachDump(dumps: readonly string[], report: (dump: string, index: number) => number): number {
  let code = 0;
  dumps.forEach((dump, i) => {
    let c: number;
    try {
      c = report(dump, i);
    } catch (e) {
      if (e instanceof VmcoreError && e.code === 'E_USAGE') throw e;
      c = reportError(e);
    }
    if (code === 0) code = c;
  });
  return code;
}
