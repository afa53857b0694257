// Simulator images for the benchmark: built once per directory and reused while their
// parameters match (a <image>.params.json beside each records them).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simulate } from '../dist/sim/index.js';

const GiB = 2 ** 30;

/** A mostly free 64 GiB machine: free pages zero, so the image is a sparse file. */
export const SPARSE_SCENARIO = {
  kernel: 0.004,
  kernelZero: 0.001,
  slab: 0.004,
  cache: 0.015,
  anon: 0.01,
  hugetlb: 0,
  balloon: 0.001,
  virtioMem: 0.002,
  churn: 0.05,
};

/** The images, by name: default workload at 1 and 4 GiB; the sparse mostly-free 64 GiB one. */
export const IMAGES = {
  '1G': { memBytes: 1 * GiB, seed: 1 },
  '4G': { memBytes: 4 * GiB, seed: 1 },
  '64G': { memBytes: 64 * GiB, seed: 1, freeContent: 'zero', scenario: SPARSE_SCENARIO },
};

/** Build (or reuse) image `name` in `dir`; returns its path and ground truth summary. */
export async function ensureImage(dir, name, log = () => {}) {
  const opts = IMAGES[name];
  if (!opts) throw new Error(`unknown image ${name}`);
  const file = path.join(dir, `vmcore-${name}.img`);
  const paramsFile = file + '.params.json';
  const want = JSON.stringify(opts);
  if (fs.existsSync(file) && fs.existsSync(paramsFile) && fs.readFileSync(paramsFile, 'utf8') === want) {
    return { file, truth: JSON.parse(fs.readFileSync(file + '.truth.json', 'utf8')), built: false };
  }
  log(`building ${name} image ${file} ...`);
  const t0 = Date.now();
  // Run lists would make the 64 GiB truth ~700 MiB; the benchmark needs only the counts.
  const r = await simulate(file, opts, { truthRuns: false });
  fs.writeFileSync(paramsFile, want);
  log(`  built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(r.bytesWritten / GiB).toFixed(1)} GiB apparent)`);
  return { file, truth: r.truth, built: true };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [dir, ...names] = process.argv.slice(2);
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) await ensureImage(dir, n, console.log);
}
