/**
 * The simulator: a seeded, deterministic x86_64 Linux 6.0 machine written as an ELF64 vmcore
 * exactly like /proc/vmcore, plus its ground truth. Same options ⇒ byte-identical image and truth.
 */
import * as fs from 'node:fs';
import { VmcoreError } from '../errors.js';
import { writeImage } from './image.js';
import { buildMachine as build, checkMachine, type Machine } from './machine.js';
import { resolveOptions, type SimOptions } from './options.js';
import { classifyPfns, computeTruth, type GroundTruth } from './truth.js';

export type { SimOptions, Workload, HintedStyle } from './options.js';
export { DEFAULT_OPTIONS, DEFAULT_WORKLOAD, resolveOptions } from './options.js';
export type { GroundTruth, PageClass, MakedumpfileStats, Run } from './truth.js';
export { CLASSES, CLASS_CODE, truthPfnClass, truthClassArray, computeTruth, classifyPfns } from './truth.js';
export type { Machine } from './machine.js';
export { KIND } from './machine.js';

export interface SimResult {
  truth: GroundTruth;
  imagePath: string;
  /** Size of the image file (bytes; zero runs may be sparse holes). */
  bytesWritten: number;
  elapsedMs: number;
  /** Where the ground truth JSON was written (`<out>.truth.json`). */
  truthPath: string;
}

/** Build the machine state only (no I/O). Options are completed with defaults. */
export function buildMachine(opts: SimOptions): Machine {
  return build(resolveOptions(opts));
}

/**
 * Simulate a machine and write its vmcore to `out` (via `out.tmp` and a rename) and its ground
 * truth to `out.truth.json`. `extra.truthRuns: false` leaves the truth's run lists empty (counts
 * and per-level statistics stay), for big images where the lists would dominate memory.
 */
export async function simulate(out: string, opts: Partial<SimOptions>, extra: { truthRuns?: boolean } = {}): Promise<SimResult> {
  const t0 = performance.now();
  const options = resolveOptions(opts);
  const m = build(options);
  checkMachine(m);
  const cls = classifyPfns(m);
  const truth = computeTruth(m, cls, { runs: extra.truthRuns });
  const tmp = out + '.tmp';
  let size: number;
  try {
    size = writeImage(m, cls, tmp);
    fs.renameSync(tmp, out);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  const truthPath = out + '.truth.json';
  try {
    fs.writeFileSync(truthPath, JSON.stringify(truth));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new VmcoreError('E_OUTPUT_IO', `cannot write ${truthPath}: ${err.code ?? err.message}`, { path: truthPath });
  }
  return { truth, imagePath: out, bytesWritten: size, elapsedMs: performance.now() - t0, truthPath };
}
