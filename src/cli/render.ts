/** Text renderings of library results, for people. Colour only when the caller says so. */
import { Chalk, type ChalkInstance } from 'chalk';
import { PAGE_CLASSES, type FilterReport } from '../writer/report.js';

const LABEL: Record<string, string> = {
  free: 'Free pages',
  hinted: 'Hinted free pages (reported to the hypervisor)',
  offline: 'Offline pages (balloon, virtio-mem)',
  hwpoison: 'Hwpoison pages',
  zero: 'Pages filled with zero',
  cache: 'Page cache without private',
  cache_private: 'Page cache with private',
  user: 'User process data (anon)',
  hugetlb: 'Hugetlb pages',
  slab: 'Slab pages',
  kernel: 'Kernel data',
  unknown: 'Undecided (kept)',
  no_struct_page: 'No struct page (not RAM)',
};

export function colours(enabled: boolean): ChalkInstance {
  return new Chalk({ level: enabled ? 1 : 0 });
}

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) v /= 1024, i++;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

/** The filter report as a table. */
export function renderFilterReport(r: FilterReport, c: ChalkInstance): string {
  const out: string[] = [];
  const pct = (n: number) => (r.pages.original ? ((100 * n) / r.pages.original).toFixed(1) + '%' : '-');
  out.push(c.bold(`vmcore-filter: ${r.input.path} -> ${r.output.path}`));
  out.push(
    `  kernel ${r.input.osrelease ?? '(unknown)'}, dump level ${r.dumpLevel}, ` +
      `${r.output.format}${r.output.format === 'kdump' ? ` (${r.output.codec})` : ''}${r.output.flattened ? ', flattened' : ''}`,
  );
  out.push(`  page types: ${r.pageTypes.scheme} (${r.pageTypes.decidedBy.join(', ') || 'no exports'}); hinted: ${r.pageTypes.hinted}`);
  const hb = r.pageTypes.hintedBy;
  const byRule = [
    ...(hb.reported !== null ? [`${hb.reported} by PG_reported`] : []),
    ...(hb.combined !== null ? [`${hb.combined} by BUDDY & OFFLINE`] : []),
  ];
  out.push(`  PG_reported: ${r.pageTypes.reported.description}${byRule.length ? `; hinted pages ${byRule.join(', ')}` : ''}`);
  out.push('');
  out.push(c.bold(`  ${'class'.padEnd(48)} ${'pages'.padStart(10)} ${'excluded'.padStart(10)}`));
  for (const k of PAGE_CLASSES) {
    const n = r.classes[k];
    const x = r.excluded[k];
    if (n === 0 && x === 0) continue;
    const line = `  ${LABEL[k]!.padEnd(48)} ${String(n).padStart(10)} ${String(x).padStart(10)}`;
    out.push(x > 0 ? c.green(line) : line);
  }
  out.push('');
  out.push(`  Original pages   ${String(r.pages.original).padStart(10)}`);
  out.push(`  Excluded pages   ${String(r.pages.excluded).padStart(10)}  (${pct(r.pages.excluded)})`);
  out.push(`  Remaining pages  ${String(r.pages.remaining).padStart(10)}  (${pct(r.pages.remaining)})`);
  out.push(`  Memory hole      ${String(r.pages.hole).padStart(10)}`);
  out.push(`  Total pages      ${String(r.pages.total).padStart(10)}`);
  out.push(`  Bytes written    ${String(r.output.bytes).padStart(10)}  (${fmtBytes(r.output.bytes)})`);
  out.push(`  Elapsed          ${(r.elapsedMs / 1000).toFixed(2)} s`);
  for (const [reason, n] of Object.entries(r.undecided)) out.push(c.yellow(`  kept ${n} undecided page(s): ${reason}`));
  for (const w of r.warnings) out.push(c.yellow(`  warning: ${w}`));
  return out.join('\n') + '\n';
}

/**
 * The one stderr line of a partial run (exit 8): the input ended before its headers said, so
 * what was there is in the output and the rest is marked absent. The first truncation warning
 * names where; the report (stdout) has them all.
 */
export function truncationLine(input: string, output: string, warnings: readonly string[]): string | null {
  const t = warnings.filter((w) => w.startsWith('truncated'));
  if (t.length === 0) return null;
  const first = t[0]!.replace(/^truncated input: /, '');
  const more = t.length > 1 ? ` (and ${t.length - 1} more)` : '';
  return `vmcore-filter: partial: ${input} is truncated: ${first}${more}; ${output} holds what was there, the rest marked absent\n`;
}
