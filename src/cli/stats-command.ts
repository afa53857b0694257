/** `vmcore-filter stats DUMP [-d N] [--json]`: classes, zones, and what each dump level × codec would write (src/triage/stats.ts). */
import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import { EXIT } from '../errors.js';
import { REPORTED_BIT_HELP, parseDumpLevels, parseIntOption, parseReportedBit } from './args.js';
import { colours } from './render.js';
import { dumpStatsFile, type DumpStats } from '../triage/stats.js';
import { isNoVmcoreinfoWarning, noVmcoreinfoMessage } from '../vmcoreinfo/missing.js';
import { eachDump } from './each-dump.js';

interface StatsCliOpts {
  d?: string;
  json?: boolean;
  reportedBit?: string;
  sample?: string;
  vmcoreinfoText?: string;
}

const ORDER = ['free', 'hinted', 'offline', 'hwpoison', 'cache', 'cache_private', 'user', 'hugetlb', 'slab', 'kernel', 'unknown', 'no_struct_page'] as const;

function mib(n: number | null): string {
  if (n === null) return '-';
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** The stats report as text. */
export function renderStats(s: DumpStats, c: ChalkInstance): string {
  const o: string[] = [];
  o.push(c.bold(`vmcore-filter stats: ${s.path}`));
  o.push(`  ${s.format}, kernel ${s.kernel ?? '(unknown)'}, page size ${s.pageSize}`);
  o.push(`  ${s.pages.total} pfns: ${s.pages.present} present, ${s.pages.hole} hole${s.pages.stored !== s.pages.present ? `, ${s.pages.stored} stored` : ''}`);
  o.push('');
  const zs = s.zones;
  o.push(c.bold(`  ${'class'.padEnd(14)} ${'pages'.padStart(10)}${zs.map((z) => z.name.padStart(10)).join('')}`));
  for (const k of ORDER) {
    if (s.classes[k] === 0) continue;
    o.push(`  ${k.padEnd(14)} ${String(s.classes[k]).padStart(10)}${zs.map((z) => String(z.classes[k]).padStart(10)).join('')}`);
  }
  if (s.pages.stored !== s.pages.present) {
    // A refiltered dump: pfns an earlier filter excluded are present but hold no data.
    const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    o.push(`  ${'not stored'.padEnd(14)} ${String(s.pages.present - s.pages.stored).padStart(10)}${zs.map((z) => String(z.pages - sum(z.classes)).padStart(10)).join('')}`);
  }
  o.push(`  ${'present'.padEnd(14)} ${String(s.pages.present).padStart(10)}${zs.map((z) => String(z.pages).padStart(10)).join('')}`);
  o.push('');
  o.push(c.bold(`  memory ranges`));
  for (const r of s.ranges) {
    const parts = ORDER.filter((k) => r.classes[k] > 0).map((k) => `${k} ${r.classes[k]}`);
    o.push(`  ${r.name.padStart(4)} ${`[${r.start}, ${r.end})`.padEnd(30)} ${String(r.pages).padStart(9)} pages: ${parts.join(', ')}`);
  }
  if (s.rangesTruncated) o.push(c.yellow('       (more ranges not listed)'));
  o.push('');
  const codecs = s.sample.codecs;
  o.push(c.bold(`  ${'-d'.padStart(3)}  ${'kept pages'.padStart(11)}  ${codecs.map((x) => x.codec.padStart(10)).join(' ')}   excludes`));
  for (const l of s.levels) {
    const kept = `${l.exact || l.zeroPages === null ? '' : '~'}${l.kept}`;
    o.push(`  ${String(l.level).padStart(3)}  ${kept.padStart(11)}  ${l.estimates.map((e) => mib(e.bytes).padStart(10)).join(' ')}   ${l.excludes.join(' ')}`);
  }
  o.push(`  ${s.sample.note}${s.levels.some((l) => !l.exact && l.zeroPages !== null) ? '; ~ marks page counts that depend on the sampled zero pages' : ''}`);
  for (const x of codecs) if (!x.available) o.push(c.yellow(`  ${x.codec}: not available (${x.reason})`));
  for (const [reason, n] of Object.entries(s.undecided)) o.push(c.yellow(`  ${n} undecided page(s) are always kept: ${reason}`));
  for (const w of s.warnings) o.push(c.yellow(`  warning: ${w}`));
  return o.join('\n') + '\n';
}

export function registerStats(program: Command, setExit: (c: number) => void): void {
  program
    .command('stats')
    .description('classify dumps without writing them: pages per class, zone and range, and what each dump level and codec would write')
    .argument('<dump...>', 'dumps of any supported format (ELF, kdump-compressed, flattened); one report each')
    .option('-d <level>', 'also report this dump level (N or N,M…); 0, 1, 16 and 31 are always reported')
    .option('--sample <n>', 'compress one stored page in n to estimate bytes (default 64, capped at 4096 pages; 1 = exact)')
    .option('--json', 'print one JSON object per dump, one per line (schema vmcore-filter/stats@1, schema/stats.schema.json)')
    .option('--reported-bit <n>', REPORTED_BIT_HELP)
    .action((dumps: string[], o: StatsCliOpts) => {
      const opts = {
        dumpLevels: o.d === undefined ? [] : parseDumpLevels(o.d),
        sampleEvery: o.sample === undefined ? undefined : parseIntOption(o.sample, '--sample', 1, 2 ** 31),
        reportedBit: parseReportedBit(o.reportedBit),
        vmcoreinfoOverride: o.vmcoreinfoText,
      };
      const c = colours(!!process.stdout.isTTY && !process.env.NO_COLOR);
      setExit(
        eachDump(dumps, (dump, index) => {
          const stats = dumpStatsFile(dump, opts);
          if (o.json) process.stdout.write(JSON.stringify(stats) + '\n');
          else process.stdout.write((index > 0 ? '\n' : '') + renderStats(stats, c));
          if (stats.warnings.some(isNoVmcoreinfoWarning)) {
            process.stderr.write(`vmcore-filter: error: ${dump}: ${noVmcoreinfoMessage('no page can be classified (all are counted as unknown)')}\n`);
            return EXIT.VMCOREINFO;
          }
          return EXIT.OK;
        }),
      );
    });
}
