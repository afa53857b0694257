#!/usr/bin/env node
/**
 * Byte-identity check of the filter's outputs across a change: filters a spread of inputs (sims
 * of several kernel generations, a kdump-compressed refilter, optionally the real QEMU dumps) at
 * several dump levels, codecs and formats, and records the sha256 of every output and its --json
 * report (without timings and paths).
 *
 *   node scripts/check-identical.mjs --save     # before the change: write DIR/ref.json
 *   node scripts/check-identical.mjs            # after: compare with DIR/ref.json (exit 1 on a difference)
 *
 * Options: --dir DIR (default /tmp/wt12-ref), --real (add /work/main/.cache/real/{6.1,6.12}/vmcore.elf,
 * or VMCF_REAL_CACHE), --only SUBSTR (cases whose name contains it), --extra ARGS (appended to
 * every filter command, e.g. "--cyclic-buffer 4" to check that a small window changes nothing; the
 * flattened stream's record order then differs, so only the file it reassembles to is compared),
 * --bin PATH (another build's bin/vmcore-filter.js).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
// --bin: another build's launcher (e.g. a copy of the start commit's bin/ + dist/).
const bin = opt('--bin', path.join(here, '..', 'bin', 'vmcore-filter.js'));
const save = args.includes('--save');
const dir = opt('--dir', '/tmp/wt12-ref');
const only = opt('--only', '');
const extra = (opt('--extra', '') || '').split(/\s+/).filter(Boolean);
const realCache = process.env.VMCF_REAL_CACHE ?? '/work/main/.cache/real';
fs.mkdirSync(path.join(dir, 'in'), { recursive: true });
const out = path.join(dir, 'out');
fs.mkdirSync(out, { recursive: true });

function run(argv, opts = {}) {
  const r = spawnSync(process.execPath, [bin, ...argv], { maxBuffer: 1 << 28, ...opts });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

// Inputs: built once (the simulator is deterministic), kept across runs.
const sims = [
  ['g60-256M', ['--kernel', 'linux-6.0', '--mem', '256M']],
  ['g414-128M', ['--kernel', 'linux-4.14', '--mem', '128M', '--seed', '3']],
  ['nobuddy-256M', ['--kernel', 'no-buddy-export', '--mem', '256M', '--seed', '5']],
  ['g612-l5-kaslr-256M', ['--kernel', 'linux-6.12', '--mem', '256M', '--l5', '--kaslr', '--seed', '7']],
  ['g616-pgrep-192M', ['--kernel', 'linux-6.16', '--mem', '192M', '--hinted-style', 'pg-reported', '--seed', '9']],
  ['g54-zero-1G', ['--kernel', 'linux-5.4', '--mem', '1G', '--free-content', 'zero', '--seed', '11']],
  ['g68-64M', ['--kernel', 'linux-6.8', '--mem', '64M', '--seed', '13']],
];
const inputs = [];
for (const [name, sargs] of sims) {
  const p = path.join(dir, 'in', `${name}.elf`);
  if (!fs.existsSync(p)) {
    const r = run(['sim', ...sargs, p]);
    if (r.status !== 0) throw new Error(`sim ${name}: ${r.stderr}`);
  }
  inputs.push([name, p]);
}
// A kdump-compressed input (refilter): written by this very tool, so made once, by the reference run.
const kin = path.join(dir, 'in', 'g60-256M.d0.kdump');
if (!fs.existsSync(kin)) {
  const r = run(['filter', '-d', '0', '-c', '--num-threads', '1', path.join(dir, 'in', 'g60-256M.elf'), kin]);
  if (r.status !== 0) throw new Error(`kdump input: ${r.stderr}`);
}
inputs.push(['g60-256M-kdump', kin]);
if (args.includes('--real')) {
  for (const v of ['6.1', '6.12']) {
    const p = path.join(realCache, v, 'vmcore.elf');
    if (fs.existsSync(p)) inputs.push([`real-${v}`, p]);
  }
}

const variants = [
  ['d0-raw', ['-d', '0']],
  ['d1-zlib', ['-d', '1', '-c', '--num-threads', '1']],
  ['d16-lzo', ['-d', '16', '-l']],
  ['d31-snappy', ['-d', '31', '-p', '--num-threads', '1']],
  ['d31-zstd', ['-d', '31', '-z']],
  ['d31-zlib', ['-d', '31', '-c']],
  ['d31-elf', ['-d', '31', '-E']],
  ['d1-elf', ['-d', '1', '-E']],
  ['d0-elf', ['-d', '0', '-E']],
];
const realVariants = new Set(['d31-zlib', 'd31-elf', 'd1-zlib']);

const sha = (b) => createHash('sha256').update(b).digest('hex');
const shaFile = (p) => {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.alloc(1 << 22);
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  return h.digest('hex');
};
const cleanReport = (txt) => {
  const j = JSON.parse(txt);
  delete j.elapsedMs;
  if (j.input) delete j.input.path;
  if (j.output) delete j.output.path;
  return j;
};

const results = {};
for (const [iname, ipath] of inputs) {
  for (const [vname, vargs] of variants) {
    if (iname.startsWith('real-') && !realVariants.has(vname)) continue;
    const name = `${iname}/${vname}`;
    if (only && !name.includes(only)) continue;
    const o = path.join(out, 'o.dump');
    const r = run(['filter', '-f', '--json', ...vargs, ...extra, ipath, o]);
    results[name] = r.status === 0 ? { sha256: shaFile(o), report: cleanReport(r.stdout.toString()) } : { status: r.status, stderr: r.stderr };
    fs.rmSync(o, { force: true });
  }
  if (iname.startsWith('real-')) continue;
  const name = `${iname}`;
  if (only && !name.includes(only)) continue;
  // Flattened stream to stdout.
  {
    const r = run(['filter', '-F', '-d', '31', '-c', ...extra, ipath, '-']);
    // The stream's record order follows the windows; the file it reassembles to must not.
    const o = path.join(out, 'r.dump');
    const f = path.join(out, 'f.flat');
    fs.writeFileSync(f, r.stdout);
    const fd = fs.openSync(f, 'r');
    const rr = r.status === 0 ? run(['makedumpfile', '-R', o], { stdio: [fd, 'pipe', 'pipe'] }) : null;
    fs.closeSync(fd);
    fs.rmSync(f, { force: true });
    results[`${name}/d31-flattened-reassembled`] = rr?.status === 0 ? { sha256: shaFile(o) } : { status: rr?.status ?? r.status, stderr: (rr ?? r).stderr };
    if (!extra.length) results[`${name}/d31-flattened`] = r.status === 0 ? { sha256: sha(r.stdout) } : { status: r.status, stderr: r.stderr };
    fs.rmSync(o, { force: true });
  }
  // --split into three parts.
  {
    const parts = [0, 1, 2].map((i) => path.join(out, `s${i}.dump`));
    const r = run(['filter', '-f', '--split', '-d', '31', '-z', ...extra, ipath, ...parts]);
    results[`${name}/d31-split`] = r.status === 0 ? { sha256: parts.map(shaFile) } : { status: r.status, stderr: r.stderr };
    for (const p of parts) fs.rmSync(p, { force: true });
  }
  // makedumpfile's command line.
  {
    const o = path.join(out, 'm.dump');
    const r = run(['makedumpfile', '-f', '-c', '-d', '31', ...extra, ipath, o]);
    results[`${name}/makedumpfile-c-d31`] = r.status === 0 ? { sha256: shaFile(o), stdout: r.stdout.toString() } : { status: r.status, stderr: r.stderr };
    fs.rmSync(o, { force: true });
  }
}

const refPath = path.join(dir, 'ref.json');
if (save) {
  const prev = fs.existsSync(refPath) ? JSON.parse(fs.readFileSync(refPath, 'utf8')) : {};
  fs.writeFileSync(refPath, JSON.stringify({ ...prev, ...results }, null, 1));
  console.log(`saved ${Object.keys(results).length} cases to ${refPath}`);
  process.exit(0);
}
const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
let bad = 0;
for (const [k, v] of Object.entries(results)) {
  if (!(k in ref)) {
    console.log(`NEW   ${k}`);
    continue;
  }
  const a = JSON.stringify(ref[k]);
  const b = JSON.stringify(v);
  if (a === b) console.log(`same  ${k}`);
  else {
    bad++;
    console.log(`DIFF  ${k}\n  ref: ${a.slice(0, 600)}\n  now: ${b.slice(0, 600)}`);
  }
}
console.log(`${Object.keys(results).length - bad} identical, ${bad} different`);
process.exit(bad ? 1 : 0);
