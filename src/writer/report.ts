import { CLASS_NAMES, type PageClassName } from '../filter/classes.js';

/**
 * The filter's report: what it decided and wrote. This is the `--json` output, schema
 * `vmcore-filter/report@1` (documented in README and schema/report.schema.json). Fields are
 * only ever added within one schema version.
 */

/** A report class: a classifier class (holes are reported apart) or `zero`, found by content. */
export type PageClass = Exclude<PageClassName, 'hole'> | 'zero';

/** Report classes, in report order: the classifier's, with `zero` after the always-excluded ones. */
export const PAGE_CLASSES: readonly PageClass[] = (() => {
  const cls = CLASS_NAMES.filter((c): c is Exclude<PageClassName, 'hole'> => c !== 'hole');
  const at = cls.indexOf('hwpoison') + 1;
  return [...cls.slice(0, at), 'zero' as const, ...cls.slice(at)];
})();

export interface FilterReport {
  schema: 'vmcore-filter/report@1';
  input: { path: string; format: string; bytes: number; osrelease: string | null };
  output: { path: string; format: 'kdump' | 'elf'; codec: string; flattened: boolean; bytes: number };
  dumpLevel: number;
  pageTypes: {
    scheme: string;
    decidedBy: string[];
    /** How hinted (reported) free pages are recognised in this dump. */
    hinted: string;
    /**
     * How the PG_reported (= PG_uptodate) bit was decided: from the exported NUMBER(PG_*)
     * layout, from `--reported-bit`, or not (with why, naming the keys). Added within report@1.
     */
    reported: {
      bit: number | null;
      by: 'vmcoreinfo' | 'option' | 'unknown' | 'none';
      /** vmcoreinfo: `NUMBER(PG_lru)=5` style; unknown: the keys missing or not matching. */
      keys: string[];
      description: string;
    };
    /**
     * Hinted pages found (present pages) by each rule, null where the rule does not apply
     * (no BUDDY&OFFLINE encoding; no PG_reported bit); a block matching both counts in both.
     * Added within report@1.
     */
    hintedBy: { combined: number | null; reported: number | null };
  };
  pages: {
    /** max_mapnr: pfns the dump spans. */
    total: number;
    /** Pfns with no data in the input (memory holes). */
    hole: number;
    /** Pages present in the input. */
    original: number;
    excluded: number;
    remaining: number;
  };
  /** Pages of each class found in the input (present pages only). */
  classes: Record<PageClass, number>;
  /** Pages of each class excluded from the output. */
  excluded: Record<PageClass, number>;
  /** Pages kept because they could not be decided, by reason. */
  undecided: Record<string, number>;
  warnings: string[];
  elapsedMs: number;
}

export function emptyClassCounts(): Record<PageClass, number> {
  return Object.fromEntries(PAGE_CLASSES.map((c) => [c, 0])) as Record<PageClass, number>;
}
