/** `vmcore-filter info DUMP [--json]`: what a dump is (src/triage/info.ts), rendered for people or as JSON. */
import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import { EXIT } from '../errors.js';
import { REPORTED_BIT_HELP, parseReportedBit } from './args.js';
import { colours } from './render.js';
import { describeDumpFile, type DumpInfo } from '../triage/info.js';

interface InfoCliOpts {
  json?: boolean;
  reportedBit?: string;
  /** Set by main's --vmcoreinfo hook: the checked text of the file. */
  vmcoreinfoText?: string;
}

const CLASS_LABEL: Record<string, string> = {
  free: 'free',
  hinted: 'hinted free',
  offline: 'offline',
  hwpoison: 'hwpoison',
  zero: 'zero-filled',
  cache: 'page cache',
  cache_private: 'cache+private',
  user: 'user data',
  hugetlb: 'hugetlb',
  slab: 'slab',
  kernel: 'kernel',
};

const yesno = (b: boolean) => (b ? 'yes' : 'no');

/**
 * What the dump says about hinted pages: the pages each rule found (BUDDY&OFFLINE in the page
 * type, PG_reported on buddy heads), or why a rule does not apply.
 */
function hintedLine(i: DumpInfo): string {
  const pt = i.pageTypes;
  const parts: string[] = [];
  if (i.reported.bit !== null) parts.push(`${i.hinted.byReported} by PG_reported (bit ${i.reported.bit})`);
  if (pt.hintedEncodable) parts.push(`${i.hinted.byCombined} by BUDDY & OFFLINE (${pt.hintedValue})`);
  const notes: string[] = [];
  if (!pt.hintedEncodable) notes.push('BUDDY & OFFLINE not encodable in this scheme');
  if (i.reported.bit === null) notes.push(i.reported.by === 'unknown' ? 'PG_reported not tested (PG_uptodate position unknown; --reported-bit N gives it)' : 'PG_reported not tested');
  const found = parts.length ? `${i.hinted.pages} pages: ${parts.join(', ')}` : 'undecidable';
  return [found, ...notes].join('; ');
}

/** The info report as text. */
export function renderInfo(i: DumpInfo, c: ChalkInstance): string {
  const o: string[] = [];
  const row = (k: string, v: string) => o.push(`  ${k.padEnd(14)} ${v}`);
  o.push(c.bold(`vmcore-filter info: ${i.path}`));
  row('format', `${i.format}${i.codec !== null ? ` (codec ${i.codec})` : ''}, ${i.bytes} bytes`);
  row('kernel', `${i.kernel.release ?? '(unknown)'}${i.kernel.machine ? ` ${i.kernel.machine}` : ''}`);
  if (i.kernel.version) row('version', i.kernel.version);
  if (i.kernel.nodename) row('nodename', i.kernel.nodename);
  if (i.kernel.buildId) row('build id', i.kernel.buildId);
  row('crash time', i.crashTime ?? '(unknown)');
  row('CPUs', String(i.cpus));
  row('page size', String(i.pageSize));
  if (i.arm64) {
    const a = i.arm64;
    const g = `${i.pageSize / 1024} KiB granule`;
    row('addrxlat', a.error ? c.yellow(`arm64: ${a.error}`) : `arm64 ${a.layout} layout, ${g}, VA_BITS ${a.vaBits}${a.vaBitsActual !== a.vaBits ? ` (${a.vaBitsActual} in use)` : ''}, ${a.levels} levels${a.pa52 ? `, 52-bit PA (${a.pa52})` : ''}`);
    if (!a.error) row('', `PAGE_OFFSET ${a.pageOffset}, PHYS_OFFSET ${a.physOffset ?? '(not exported)'}, kimage_voffset ${a.kimageVoffset}, swapper_pg_dir at ${a.swapperPgDir}`);
  } else row('phys_base', i.physBase);
  row('VMCOREINFO', i.vmcoreinfo.source === 'none' ? c.yellow('none') : `${i.vmcoreinfo.source === 'file' ? 'from --vmcoreinfo' : 'in the dump'}, ${i.vmcoreinfo.keys} keys${i.vmcoreinfo.error ? c.yellow(` (unusable: ${i.vmcoreinfo.error})`) : ''}`);
  row('complete', i.complete ? c.green('yes') : c.red(`no: ${i.incomplete.join('; ')}`));

  if (i.kdump) {
    const k = i.kdump;
    o.push('', c.bold('  kdump header'));
    row('header_version', String(k.headerVersion));
    row('block_size', String(k.blockSize));
    row('sub_hdr_size', `${k.subHdrSize} blocks`);
    row('bitmap_blocks', String(k.bitmapBlocks));
    row('max_mapnr', `${k.maxMapnr} (0x${k.maxMapnr.toString(16)})`);
    row('status', `0x${k.status.toString(16)}${k.statusFlags.length ? ` (${k.statusFlags.join(', ')})` : ''}`);
    row('dump_level', String(k.dumpLevel));
    row('split', k.split ? `pfns [0x${k.split.startPfn.toString(16)}, 0x${k.split.endPfn.toString(16)})` : 'no');
    row('phys_base', k.physBase);
    row('dumpable', `${k.dumpablePages} pages`);
    if (k.eraseinfoBytes) row('eraseinfo', `${k.eraseinfoBytes} bytes`);
  }
  if (i.elf) {
    o.push('', c.bold(`  ELF program headers: ${i.elf.loads.length} PT_LOAD, ${i.elf.notesBytes} bytes of notes`));
    o.push(`  ${'#'.padStart(3)} ${'paddr'.padStart(18)} ${'vaddr'.padStart(18)} ${'offset'.padStart(12)} ${'filesz'.padStart(12)} ${'memsz'.padStart(12)}`);
    for (const p of i.elf.loads) {
      o.push(`  ${String(p.index).padStart(3)} ${p.paddr.padStart(18)} ${p.vaddr.padStart(18)} ${('0x' + p.offset.toString(16)).padStart(12)} ${('0x' + p.filesz.toString(16)).padStart(12)} ${('0x' + p.memsz.toString(16)).padStart(12)}`);
    }
  }
  const m = i.memory;
  o.push('', c.bold(`  memory: ${m.maxMapnr} pfns, ${m.presentPages} present, ${m.holePages} hole${m.storedPages !== m.presentPages ? `, ${m.storedPages} stored` : ''}`));
  for (const r of m.ranges) o.push(`    ${`[${r.start}, ${r.end})`.padEnd(34)} ${String(r.pages).padStart(10)} pages`);
  if (m.rangesTruncated) o.push(c.yellow(`    (more ranges not listed)`));

  const pt = i.pageTypes;
  o.push('', c.bold('  page types'));
  row('scheme', `${pt.scheme}${pt.decidedBy.length ? `, decided by ${pt.decidedBy.join(', ')}` : ''}`);
  if (Object.keys(pt.values).length) row('values', Object.entries(pt.values).map(([k, v]) => `${k} ${v}`).join(', '));
  row('hinted', hintedLine(i));
  row('PG_reported', i.reported.description);
  row('free pages by', i.freePagesBy);
  if (i.memMap) row('mem_map', `${i.memMap.model}, ${i.memMap.sections} sections${i.memMap.unusableSections ? `, ${i.memMap.unusableSections} unusable` : ''}`);

  o.push('', c.bold(`  ${'class'.padEnd(14)} ${'decidable'.padEnd(10)} decided by / missing`));
  for (const [k, d] of Object.entries(i.classes)) {
    const line = `  ${(CLASS_LABEL[k] ?? k).padEnd(14)} ${yesno(d.decidable).padEnd(10)} ${d.decidable ? d.keys.join(', ') : d.missing ?? ''}`;
    o.push(d.decidable ? line : c.yellow(line));
  }
  for (const w of i.warnings) o.push(c.yellow(`  warning: ${w}`));
  return o.join('\n') + '\n';
}

export function registerInfo(program: Command, setExit: (c: number) => void): void {
  program
    .command('info')
    .description('describe a dump: format, header, kernel, crash time, memory, page-type encoding, decidable classes, completeness')
    .argument('<dump>', 'a dump of any supported format (ELF, kdump-compressed, flattened)')
    .option('--json', 'print one JSON object (schema vmcore-filter/info@1, schema/info.schema.json)')
    .option('--reported-bit <n>', REPORTED_BIT_HELP)
    .action((dump: string, o: InfoCliOpts) => {
      const info = describeDumpFile(dump, {
        reportedBit: parseReportedBit(o.reportedBit),
        vmcoreinfoOverride: o.vmcoreinfoText,
      });
      if (o.json) process.stdout.write(JSON.stringify(info) + '\n');
      else process.stdout.write(renderInfo(info, colours(!!process.stdout.isTTY && !process.env.NO_COLOR)));
      setExit(EXIT.OK);
    });
}
