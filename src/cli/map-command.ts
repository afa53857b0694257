/**
 * `vmcore-filter map DUMP -o map.svg [-d N] [--zero] [--json]`: an SVG picture of physical memory
 * coloured by page class (src/map). Page data is read only to find zero pages (`--zero`, or a
 * dump level with bit 1). `--json` prints the binning and the legend's numbers
 * (schema/map.schema.json); with `--json`, `-o` may be left out to write no picture.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { EXIT, VmcoreError } from '../errors.js';
import { openDump } from '../formats/probe.js';
import { mapDump, renderMapSvg, MAP_CLASS_NAMES, MAP_LEGEND_ORDER, MAP_COLOURS, MAP_LABELS, type MemoryMap, type MapClassName } from '../map/index.js';
import { AtomicOutput, checkOutputPath } from '../writer/atomic.js';
import { isNoVmcoreinfoWarning, noVmcoreinfoMessage } from '../vmcoreinfo/missing.js';
import { REPORTED_BIT_HELP, parseIntOption, parseReportedBit } from './args.js';

interface MapCliOpts {
  output?: string;
  d?: string;
  zero?: boolean;
  columns: string;
  force?: boolean;
  reportedBit?: string;
  json?: boolean;
  vmcoreinfoText?: string;
}

/** `map --json` (schema vmcore-filter/map@1, schema/map.schema.json). */
export interface MapJson {
  schema: 'vmcore-filter/map@1';
  input: { path: string; format: 'elf' | 'kdump' | 'flattened' };
  /** The SVG written, or null when `--json` ran without `-o`. */
  output: string | null;
  kernel: string | null;
  pageSize: number;
  /** Pfns drawn: [0, maxMapnr). */
  maxMapnr: number;
  pagesPerCell: number;
  columns: number;
  rows: number;
  /** Cells that hold pfns (the last row may be partly empty). */
  cellsUsed: number;
  dumpLevel: number | null;
  zeroDetected: boolean;
  /** Pages per map class, every class listed (zero pages, when looked for, are counted only as `zero`). */
  pages: Record<MapClassName, number>;
  /** Cells whose dominant class each class is. */
  cells: Record<MapClassName, number>;
  /** The legend as drawn, in its order: classes with pages (and `zero` when looked for). */
  legend: Array<{ class: MapClassName; label: string; colour: string; pages: number; cells: number; share: number; excluded: boolean }>;
  /** Classes the dump level excludes (hatched), [] without `-d`. */
  excluded: MapClassName[];
  warnings: string[];
}

/** The JSON view of a built map: the numbers the SVG draws. */
export function mapJson(map: MemoryMap, input: MapJson['input'], output: string | null, warnings: string[]): MapJson {
  const ex = new Set(map.excluded);
  const ordered = <T>(f: (n: MapClassName) => T) => Object.fromEntries(MAP_CLASS_NAMES.map((n) => [n, f(n)])) as Record<MapClassName, T>;
  return {
    schema: 'vmcore-filter/map@1',
    input,
    output,
    kernel: map.release,
    pageSize: map.pageSize,
    maxMapnr: map.maxMapnr,
    pagesPerCell: map.pagesPerCell,
    columns: map.columns,
    rows: map.rows,
    cellsUsed: Math.ceil(map.maxMapnr / map.pagesPerCell),
    dumpLevel: map.dumpLevel,
    zeroDetected: map.zeroDetected,
    pages: ordered((n) => map.pages[n]),
    cells: ordered((n) => map.cellsByClass[n]),
    // the same selection and share as the SVG legend (src/map/svg.ts)
    legend: MAP_LEGEND_ORDER.filter((n) => map.pages[n] > 0 || (n === 'zero' && map.zeroDetected)).map((n) => ({
      class: n,
      label: MAP_LABELS[n],
      colour: MAP_COLOURS[n],
      pages: map.pages[n],
      cells: map.cellsByClass[n],
      share: map.maxMapnr ? map.pages[n] / map.maxMapnr : 0,
      excluded: ex.has(n),
    })),
    excluded: [...map.excluded],
    warnings,
  };
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
    .option('--reported-bit <n>', REPORTED_BIT_HELP)
    .option('--json', 'print the binning and per-class counts as one JSON object (schema vmcore-filter/map@1); -o is then optional')
    .action((dump: string, o: MapCliOpts) => {
      if (!o.output && !o.json) throw new VmcoreError('E_USAGE', 'map: give the SVG file to write with -o FILE (or --json)', { option: '-o' });
      // Refuse an existing output before the classification, not after it.
      if (o.output) checkOutputPath(o.output, { force: !!o.force, inputPath: dump });
      const level = o.d === undefined ? null : parseIntOption(o.d, '-d', 0, 31);
      const columns = parseIntOption(o.columns, '--columns', 1, 1024);
      const reportedBit = parseReportedBit(o.reportedBit);
      const reader = openDump(dump, { vmcoreinfo: o.vmcoreinfoText });
      let svg: string | null = null;
      let summary: string;
      let json: MapJson;
      try {
        const { map, summary: c } = mapDump(reader, {
          source: path.basename(dump),
          release: reader.info.utsname.release || null,
          pageSize: reader.info.pageSize,
          columns,
          zero: !!o.zero,
          dumpLevel: level,
          reportedBit,
        });
        if (o.output) svg = renderMapSvg(map);
        summary = `${map.rows}×${map.columns} cells of ${map.pagesPerCell} page${map.pagesPerCell > 1 ? 's' : ''}`;
        json = mapJson(map, { path: dump, format: reader.format }, o.output ?? null, [...c.warnings]);
        // With --json the warnings are in the object; stderr stays quiet.
        if (!o.json) for (const w of c.warnings) if (!isNoVmcoreinfoWarning(w)) process.stderr.write(`vmcore-filter: warning: ${w}\n`);
      } finally {
        reader.close();
      }
      if (o.output && svg !== null) {
        AtomicOutput.writeFile(o.output, Buffer.from(svg, 'utf8'), { force: !!o.force, inputPath: dump });
      }
      if (o.json) process.stdout.write(JSON.stringify(json) + '\n');
      else process.stdout.write(`wrote ${o.output}: ${summary}\n`);
      if (json.warnings.some(isNoVmcoreinfoWarning)) {
        process.stderr.write(`vmcore-filter: error: ${dump}: ${noVmcoreinfoMessage('no page can be classified (the map shows them undecided)')}\n`);
        setExit(EXIT.VMCOREINFO);
        return;
      }
      setExit(EXIT.OK);
    });
}
