import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { VmcoreError } from '../errors.js';
import { parseIntOption, parseSize } from './args.js';
import { colours, renderFilterReport } from './render.js';
import { simulate, type SimOptions } from '../sim/index.js';
import { PROFILES, PROFILE_NAMES } from '../mm/profiles.js';
import { filterDump } from '../writer/pipeline.js';
import { checkOutputPath } from '../writer/atomic.js';

interface SimCliOpts {
  seed: string;
  mem: string;
  truth?: string;
  l5?: boolean;
  kaslr?: boolean;
  hintedStyle: string;
  cpus: string;
  freeContent: string;
  kernel: string;
  printk?: string;
  arch?: string;
  pageSize?: string;
  vaBits?: string;
  highMem?: string;
  force?: boolean;
  json?: boolean;
}

function simOptions(o: SimCliOpts): Partial<SimOptions> {
  if (o.hintedStyle !== 'combined' && o.hintedStyle !== 'pg-reported') {
    throw new VmcoreError('E_USAGE', `--hinted-style: "${o.hintedStyle}" is not combined or pg-reported`, { option: '--hinted-style' });
  }
  if (o.freeContent !== 'stale' && o.freeContent !== 'zero') {
    throw new VmcoreError('E_USAGE', `--free-content: "${o.freeContent}" is not stale or zero`, { option: '--free-content' });
  }
  if (!PROFILES[o.kernel]) {
    throw new VmcoreError('E_USAGE', `--kernel: "${o.kernel}" is not a kernel profile (${PROFILE_NAMES.join(', ')})`, { option: '--kernel' });
  }
  if (o.printk !== undefined && o.printk !== 'lockless' && o.printk !== 'log_buf') {
    throw new VmcoreError('E_USAGE', `--printk: "${o.printk}" is not lockless or log_buf`, { option: '--printk' });
  }
  const arch = o.arch ?? 'x86_64';
  if (arch !== 'x86_64' && arch !== 'arm64') throw new VmcoreError('E_USAGE', `--arch: "${arch}" is not x86_64 or arm64`, { option: '--arch' });
  const pageSizes: Record<string, number> = { '4k': 4096, '16k': 16384, '64k': 65536 };
  const pageSize = o.pageSize === undefined ? undefined : pageSizes[o.pageSize.toLowerCase()];
  if (o.pageSize !== undefined && (pageSize === undefined || (arch === 'x86_64' && pageSize !== 4096))) {
    throw new VmcoreError('E_USAGE', `--page-size: "${o.pageSize}" is not ${arch === 'arm64' ? '4k, 16k or 64k' : '4k (x86_64)'}`, { option: '--page-size' });
  }
  const vaBits = o.vaBits === undefined ? undefined : parseIntOption(o.vaBits, '--va-bits', 48, 52);
  if (vaBits !== undefined && (arch !== 'arm64' || (vaBits !== 48 && vaBits !== 52))) {
    throw new VmcoreError('E_USAGE', `--va-bits: ${o.vaBits} is not 48 or 52 with --arch arm64`, { option: '--va-bits' });
  }
  const highMem = o.highMem === undefined ? undefined : parseHighMem(o.highMem);
  if (highMem && arch !== 'x86_64') throw new VmcoreError('E_USAGE', '--high-mem is an x86_64 option', { option: '--high-mem' });
  const memBytes = parseSize(o.mem, '--mem');
  if (memBytes < 64 * 2 ** 20 || memBytes > 64 * 2 ** 30 || memBytes % (2 * 2 ** 20) !== 0) {
    throw new VmcoreError('E_USAGE', `--mem: ${o.mem} must be a multiple of 2 MiB between 64M and 64G`, { option: '--mem' });
  }
  return {
    seed: parseIntOption(o.seed, '--seed', 0, 2 ** 32 - 1),
    memBytes,
    l5: !!o.l5,
    kaslr: !!o.kaslr,
    hintedStyle: o.hintedStyle,
    cpus: parseIntOption(o.cpus, '--cpus', 1, 512),
    freeContent: o.freeContent,
    kernel: o.kernel,
    // undefined: the profile's own format (log_buf before 5.10, the lockless ring from 5.10)
    printk: o.printk,
    // only when asked: x86_64 truths carry no arch/pageSize keys (their goldens stay as they were)
    ...(arch === 'arm64' ? { arch, pageSize: pageSize ?? 4096, ...(vaBits ? { vaBits } : {}) } : {}),
    // only when asked, so other truths keep their option keys
    ...(highMem ? { highMem } : {}),
  };
}

/** `--high-mem SIZE@ADDR`, e.g. 64M@60T (the layout checks alignment and MAX_PHYSMEM_BITS). */
function parseHighMem(s: string): { start: number; bytes: number } {
  const at = s.indexOf('@');
  if (at < 0) throw new VmcoreError('E_USAGE', `--high-mem: "${s}" is not SIZE@ADDRESS (e.g. 64M@60T)`, { option: '--high-mem' });
  return { bytes: parseSize(s.slice(0, at), '--high-mem'), start: parseSize(s.slice(at + 1), '--high-mem') };
}

function addSimOptions(cmd: Command, defaultMem: string): Command {
  return cmd
    .option('--seed <n>', 'random seed (same arguments, same bytes)', '1')
    .option('--mem <size>', 'RAM size (64M..64G)', defaultMem)
    .option('--l5', '5-level page tables')
    .option('--arch <arch>', 'x86_64 or arm64 (arm64: Linux 6.x layout, VA_BITS 48, RAM from 1 GiB)', 'x86_64')
    .option('--page-size <size>', 'page size: 4k (x86_64), 4k, 16k or 64k (arm64)')
    .option('--va-bits <n>', 'arm64 VA_BITS, all in use: 48 (default) or 52 (LPA2 with 4k/16k pages, 52-bit PA with 64k)')
    .option('--high-mem <size@addr>', 'x86_64: more RAM at a high physical address, e.g. 64M@60T (present sections with struct pages, free to the buddy allocator; max_mapnr = addr+size in pages)')
    .option('--kaslr', 'randomised kernel and direct-map bases')
    .option('--hinted-style <style>', 'how reported free pages are marked: combined (BUDDY&OFFLINE) or pg-reported', 'combined')
    .option('--cpus <n>', 'CPUs (NT_PRSTATUS notes)', '2')
    .option('--free-content <kind>', 'content of free pages: stale or zero (zero writes a sparse file)', 'stale')
    .option('--kernel <profile>', `kernel generation: ${PROFILE_NAMES.join(', ')}`, 'linux-6.0')
    .option('--printk <format>', "kernel log format: lockless (5.10+ ring buffer) or log_buf (3.5-5.9); default: the kernel's own");
}

export function registerSim(program: Command, setExit: (c: number) => void): void {
  addSimOptions(program.command('sim').argument('<out>', 'image to write (ELF64 vmcore)'), '512M')
    .description('simulate an x86_64 (or --arch arm64) Linux machine of one kernel generation (--kernel); write its vmcore to <out> and its ground truth to <out>.truth.json')
    .option('--truth <file>', 'also write the ground-truth JSON here, indented')
    .option('-f, --force', 'overwrite an existing <out>, <out>.truth.json or --truth file')
    .option('--json', 'print the result as JSON')
    .action(async (out: string, o: SimCliOpts) => {
      checkOutputPath(out, { force: !!o.force });
      // simulate() writes <out>.truth.json beside the image: refused without -f like the image.
      checkOutputPath(`${out}.truth.json`, { force: !!o.force });
      if (o.truth) checkOutputPath(o.truth, { force: !!o.force });
      const r = await simulate(out, simOptions(o));
      if (o.truth) fs.writeFileSync(o.truth, JSON.stringify(r.truth, null, 2) + '\n');
      if (o.json) {
        process.stdout.write(JSON.stringify({ image: out, bytes: r.bytesWritten, elapsedMs: r.elapsedMs, counts: r.truth.counts }) + '\n');
      } else {
        process.stdout.write(`wrote ${out} (${r.bytesWritten} bytes) in ${(r.elapsedMs / 1000).toFixed(2)} s\n`);
        for (const [k, v] of Object.entries(r.truth.counts)) process.stdout.write(`  ${k.padEnd(14)} ${v}\n`);
      }
      setExit(0);
    });
}

export function registerDemo(program: Command, setExit: (c: number) => void): void {
  addSimOptions(program.command('demo'), '512M')
    .description('simulate a default machine, filter its vmcore at the default level, and print the report')
    .option('--keep <dir>', 'keep the image and the dump in this directory')
    .option('--json', 'print the filter report as JSON')
    .action(async (o: SimCliOpts & { keep?: string }) => {
      const dir = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vmcore-filter-demo-'));
      fs.mkdirSync(dir, { recursive: true });
      const image = path.join(dir, 'vmcore.img');
      const dump = path.join(dir, 'vmcore.dump');
      try {
        const sim = await simulate(image, simOptions(o));
        const report = await filterDump(image, dump, { dumpLevels: [16], format: 'kdump', force: true });
        if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
        else {
          process.stdout.write(`simulated ${sim.truth.options.memBytes / 2 ** 20} MiB machine (seed ${sim.truth.options.seed}) in ${(sim.elapsedMs / 1000).toFixed(2)} s\n\n`);
          process.stdout.write(renderFilterReport(report, colours(!!process.stdout.isTTY && !process.env.NO_COLOR)));
        }
      } finally {
        if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
      }
      setExit(0);
    });
}
