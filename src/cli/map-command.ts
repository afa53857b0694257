/**
 * `vmcore-filter map DUMP -o map.svg [-d N] [--zero]`: an SVG picture of physical memory
 * coloured by page class (src/map). Page data is read only to find zero pages (`--zero`, or a
 * dump level with bit 1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { EXIT, VmcoreError } from '../errors.js';
import { openDump } from '../formats/probe.js';
import { classifyDump } from '../filter/index.js';
import { buildMemoryMap, detectZeroPages, renderMapSvg } from '../map/index.js';
import { AtomicOutput } from '../writer/atomic.js';
import { parseIntOption } from './args.js';

interface MapCliOpts {
  output?: string;
  d?: string;
  zero?: boolean;
  columns: string;
  force?: boolean;
  reportedBit?: string;
  vmcoreinfoText?: string;
}

export function registerMap(program: Command, setExit: (c: number) => void): void {
  program
    .command('map')
    .description('draw physical memory as an SVG, one cell per range of pages, coloured by page class')
    .argument('<dump>', 'vmcore (ELF, kdump-compressed or flattened)')
    .option('-o, --output <file>', 'SVG file to write')
    .option('-d <level>', 'hatch the classes dump level 0..31 excludes (bit 1 also finds zero pages)')
    .option('--zero', 'read page data to find zero-filled pages')
    .option('--columns <n>', 'cells per row', '64')
    .option('-f, --force', 'overwrite an existing output')
    .option('--reported-bit <n>', 'page->flags bit marking reported (hinted) free pages')
    .action((dump: string, o: MapCliOpts) => {
      if (!o.output) throw new VmcoreError('E_USAGE', 'map: give the SVG file to write with -o FILE', { option: '-o' });
      const level = o.d === undefined ? null : parseIntOption(o.d, '-d', 0, 31);
      const columns = parseIntOption(o.columns, '--columns', 1, 1024);
      const reportedBit = o.reportedBit === undefined ? undefined : parseIntOption(o.reportedBit, '--reported-bit', 0, 63);
      const reader = openDump(dump, { vmcoreinfo: o.vmcoreinfoText });
      let svg: string;
      let summary: string;
      try {
        // free lists are walked whatever the level: the picture shows free pages in any case
        const c = classifyDump(reader, { dumpLevel: level ?? 0, reportedBit, alwaysWalkFreeLists: true });
        const zero = o.zero || (level !== null && level & 1) ? detectZeroPages(reader, c.classOf, level) : null;
        const map = buildMemoryMap(c.classOf, c.maxMapnr, {
          source: path.basename(dump),
          release: reader.info.utsname.release || null,
          pageSize: reader.info.pageSize,
          columns,
          zero,
          dumpLevel: level,
        });
        svg = renderMapSvg(map);
        summary = `${map.rows}×${map.columns} cells of ${map.pagesPerCell} page${map.pagesPerCell > 1 ? 's' : ''}`;
        for (const w of c.warnings) process.stderr.write(`vmcore-filter: warning: ${w}\n`);
      } finally {
        reader.close();
      }
      const out = AtomicOutput.open(o.output, { force: !!o.force, inputPath: dump });
      try {
        fs.writeSync(out.fd, svg);
        out.commit();
      } catch (e) {
        out.abort();
        throw e;
      }
      process.stdout.write(`wrote ${o.output}: ${summary}\n`);
      setExit(EXIT.OK);
    });
}
