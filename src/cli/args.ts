/** Argument parsers shared by commands; each throws a one-line E_USAGE error. */
import { VmcoreError } from '../errors.js';

/** "512M", "1G", "1GiB", "4096" → bytes. */
export function parseSize(s: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?$/.exec(s.trim());
  if (!m) throw new VmcoreError('E_USAGE', `${option}: "${s}" is not a size (e.g. 512M, 4G)`, { option });
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()]!;
  const v = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(v)) throw new VmcoreError('E_USAGE', `${option}: "${s}" is too large`, { option });
  return v;
}

/** A non-negative integer option. */
export function parseIntOption(s: string, option: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(s.trim())) throw new VmcoreError('E_USAGE', `${option}: "${s}" is not a number`, { option });
  const v = Number(s);
  if (v < min || v > max) throw new VmcoreError('E_USAGE', `${option}: ${v} is out of range ${min}..${max}`, { option });
  return v;
}

/** Help text of `--reported-bit` (filter, info, stats, map). */
export const REPORTED_BIT_HELP =
  'page->flags bit of PG_reported (hinted free pages), overriding the bit decided from VMCOREINFO; "none": do not test it';

/**
 * `--reported-bit N|none`: undefined (decide PG_uptodate from VMCOREINFO) when absent, null for
 * `none`, else a page->flags bit 0..63.
 */
export function parseReportedBit(s: string | undefined): number | null | undefined {
  if (s === undefined) return undefined;
  if (s.trim() === 'none') return null;
  return parseIntOption(s, '--reported-bit', 0, 63);
}

/** makedumpfile's `-d N[,N...]`: the first level, then retry levels. */
export function parseDumpLevels(s: string): number[] {
  const parts = s.split(',');
  const levels = parts.map((p) => {
    if (!/^\d+$/.test(p.trim())) throw new VmcoreError('E_USAGE', `-d: dump level "${p}" is not a number 0..31`, { option: '-d' });
    const v = Number(p);
    if (v > 31) throw new VmcoreError('E_USAGE', `-d: dump level ${v} is invalid (0..31)`, { option: '-d' });
    return v;
  });
  if (levels.length === 0 || levels.length > 8) throw new VmcoreError('E_USAGE', `-d: give 1 to 8 dump levels`, { option: '-d' });
  return levels;
}
