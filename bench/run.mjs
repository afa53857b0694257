#!/usr/bin/env node
// `npm run bench`: vmcore-filter against Debian's makedumpfile on the same simulator images,
// interleaved, several runs each; prints median wall time, CPU time (user+sys of the child,
// all its threads) and peak RSS per tool, and the ratio vmcore-filter / makedumpfile. zstd and
// snappy (which Debian's makedumpfile lacks) are compared with `cat image > /dev/null` instead.
// Writes the table into BENCHMARKS.md between the bench markers (the text around them is kept).
// A report, not a test: nothing here fails on a slow run.
//
//   node bench/run.mjs [--dir DIR] [--runs N] [--images 1G,4G,64G,1G-zlib,real-6.1,real-6.12] [--no-write]
//
// real-6.1 / real-6.12 are the QEMU dumps of Debian's kernels (scripts/real/build.mjs, cached
// in .cache/real): vmcore-filter reads QEMU's ELF, makedumpfile the copy whose program headers
// sit at offset 64 (the same bytes otherwise; 1.7.2 cannot read QEMU's layout).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureImage } from './images.mjs';
import { buildReal } from '../scripts/real/build.mjs';

/** A simulator image, or a real-kernel dump (`real-<kernel>`): the file each tool reads. */
async function imageFor(dir, name, log) {
  const zlib = /^(.+)-zlib$/.exec(name);
  if (zlib) return zlibImage(dir, zlib[1], log);
  const real = /^real-(.+)$/.exec(name);
  if (!real) {
    const r = await ensureImage(dir, name, log);
    return { ...r, mdfFile: r.file };
  }
  // Dumps already in the cache are only read: the benchmark needs no boot, download or key check
  // (and may then point VMCF_REAL_CACHE at a cache it must not write to).
  const cache = process.env.VMCF_REAL_CACHE ? path.resolve(process.env.VMCF_REAL_CACHE) : path.join(root, '.cache', 'real');
  const mfile = path.join(cache, real[1], 'manifest.json');
  const cached = fs.existsSync(mfile) ? { ...JSON.parse(fs.readFileSync(mfile, 'utf8')), dir: path.dirname(mfile) } : null;
  const have = (m) => m?.dumps?.files && fs.existsSync(path.join(m.dir, m.dumps.files.elf)) && fs.existsSync(path.join(m.dir, m.dumps.files.elfPhdr64));
  const m = have(cached) ? cached : (await buildReal({ kernels: [real[1]], capture: false, debug: false }))[real[1]];
  return { file: path.join(m.dir, m.dumps.files.elf), mdfFile: path.join(m.dir, m.dumps.files.elfPhdr64), truth: {} };
}

/**
 * `<image>-zlib`: the simulator image as `vmcore-filter -d 31 -c` writes it (kdump-compressed,
 * zlib), the input of a refilter, read by both tools. Written afresh every run: it is this
 * build's output.
 */
async function zlibImage(dir, base, log) {
  const { file } = await ensureImage(dir, base, log);
  const out = path.join(dir, `vmcore-${base}-zlib.kdump`);
  fs.rmSync(out, { force: true });
  const r = spawnSync('node', [BIN, '-d', '31', '-c', file, out], { env: CLEAN_ENV, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`writing ${out} failed (${r.status}): ${r.stderr}`);
  return { file: out, mdfFile: out, truth: {} };
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const dir = path.resolve(arg('--dir', path.join(os.tmpdir(), 'vmcore-filter-bench')));
const runs = Number(arg('--runs', '5'));
const images = arg('--images', '1G,4G,64G,1G-zlib,real-6.1,real-6.12').split(',');
const writeMd = !args.includes('--no-write');
const log = (s) => process.stderr.write(s + '\n');

const BIN = path.join(root, 'bin', 'vmcore-filter.js');
const MDF = '/usr/bin/makedumpfile';
const TIME = '/usr/bin/time';
if (!fs.existsSync(TIME)) throw new Error('/usr/bin/time is missing: apt-get install time');
const haveMdf = fs.existsSync(MDF);

// Both tools run with the environment minus what changes Node's start-up: NODE_OPTIONS, and
// NODE_EXTRA_CA_CERTS, which this sandbox sets for npm's proxy and which makes every Node
// process parse a CA bundle before running anything (measured below as the start-up row).
const CLEAN_ENV = { ...process.env };
delete CLEAN_ENV.NODE_OPTIONS;
delete CLEAN_ENV.NODE_EXTRA_CA_CERTS;

// Rows: [label, our args, makedumpfile args (null: compare with the cat floor), dump level].
const ROWS = [
  ['-d 31', ['-d', '31'], ['-d', '31'], 31],
  ['-d 31 -l', ['-d', '31', '-l'], ['-d', '31', '-l'], 31],
  ['-d 31 -c', ['-d', '31', '-c'], ['-d', '31', '-c'], 31],
  ['-d 31 -c, 1 thread', ['-d', '31', '-c', '--num-threads', '1'], ['-d', '31', '-c'], 31],
  ['-d 31 -E', ['-d', '31', '-E'], ['-d', '31', '-E'], 31],
  ['-d 1 -l', ['-d', '1', '-l'], ['-d', '1', '-l'], 1],
  ['-d 31 -z', ['-d', '31', '-z'], null, 31],
  ['-d 31 -p', ['-d', '31', '-p'], null, 31],
];
// Per image: which rows and how many runs (the 64 GiB image shows scaling, not every codec).
const PLAN = {
  '1G': { rows: ROWS.map((r) => r[0]), runs },
  '4G': { rows: ROWS.map((r) => r[0]), runs: Math.max(3, Math.min(runs, 5)) },
  '64G': { rows: ['-d 31', '-d 31 -l'], runs: 1 },
  // A refilter: makedumpfile 1.7.2 cannot write ELF from a kdump-compressed input.
  '1G-zlib': { rows: ['-d 31', '-d 31 -l', '-d 31 -c'], runs },
  'real-6.1': { rows: ROWS.map((r) => r[0]), runs: Math.max(3, Math.min(runs, 5)) },
  'real-6.12': { rows: ROWS.map((r) => r[0]), runs: Math.max(3, Math.min(runs, 5)) },
};

function df(p) {
  const r = spawnSync('df', ['-Pk', p], { encoding: 'utf8' });
  const f = r.stdout.trim().split('\n').pop().split(/\s+/);
  return Number(f[3]) * 1024;
}

/** Run `cmd` under /usr/bin/time; wall, cpu (user+sys) seconds and peak RSS in MiB. */
function timed(cmd, argv, { stdout = 'ignore', env = CLEAN_ENV } = {}) {
  const tf = path.join(dir, '.time');
  const r = spawnSync(TIME, ['-o', tf, '-f', '%e %U %S %M', cmd, ...argv], {
    env,
    stdio: ['ignore', stdout, 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const [e, u, s, m] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall: e, cpu: u + s, rss: m / 1024, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function catFloor(img) {
  return timed('/bin/sh', ['-c', `cat '${img}' > /dev/null`]);
}

/**
 * Remove the last output and let the file system settle (the journal commit and discards that
 * freeing a few hundred MiB brings on this ext4 mount), so they do not land in the next timed run.
 */
function settle(out) {
  fs.rmSync(out, { force: true });
  spawnSync('sync');
}

function runOurs(img, out, a) {
  settle(out);
  const r = timed('node', [BIN, ...a, '--json', img, out], { stdout: 'pipe' });
  if (r.status !== 0) throw new Error(`vmcore-filter ${a.join(' ')} failed (${r.status}): ${r.stderr}`);
  const rep = JSON.parse(r.stdout);
  r.kept = rep.pages.remaining;
  r.bytes = fs.statSync(out).size;
  fs.rmSync(out, { force: true });
  return r;
}

function runMdf(img, out, a) {
  settle(out);
  const r = timed(MDF, [...a, img, out]);
  if (r.status !== 0) throw new Error(`makedumpfile ${a.join(' ')} failed (${r.status}): ${r.stderr}`);
  r.bytes = fs.statSync(out).size;
  fs.rmSync(out, { force: true });
  return r;
}

const fmt = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  const free = df(dir);
  const need = 12 * 2 ** 30;
  log(`bench dir ${dir}: ${(free / 2 ** 30).toFixed(1)} GiB free`);
  if (free < need) throw new Error(`need about ${need / 2 ** 30} GiB free in ${dir} (images are sparse, outputs up to ~1.5 GiB)`);
  const load0 = os.loadavg();
  const results = [];
  const startup = startupRows();
  for (const name of images) {
    const plan = PLAN[name];
    const { file: img, mdfFile, truth } = await imageFor(dir, name, log);
    const out = path.join(dir, 'out.dump');
    catFloor(img); // warm the page cache: every tool then reads from memory
    const floor = [];
    for (let i = 0; i < Math.max(3, plan.runs); i++) floor.push(catFloor(img));
    const floorMed = { wall: median(floor.map((r) => r.wall)), cpu: median(floor.map((r) => r.cpu)), rss: median(floor.map((r) => r.rss)) };
    log(`${name}: cat floor ${fmt(floorMed.wall)} s`);
    for (const label of plan.rows) {
      const [, ours, mdfArgs, level] = ROWS.find((r) => r[0] === label);
      const o = [];
      const m = [];
      for (let i = 0; i < plan.runs; i++) {
        // Interleaved: the two tools see the same machine load.
        o.push(runOurs(img, out, ours));
        if (mdfArgs && haveMdf) m.push(runMdf(mdfFile, out, mdfArgs));
      }
      const med = (rs, k) => (rs.length ? median(rs.map((r) => r[k])) : undefined);
      const row = {
        image: name,
        row: label,
        ours: { wall: med(o, 'wall'), cpu: med(o, 'cpu'), rss: Math.max(...o.map((r) => r.rss)), kept: o[0].kept, bytes: o[0].bytes },
        other: mdfArgs
          ? m.length
            ? { tool: 'makedumpfile', wall: med(m, 'wall'), cpu: med(m, 'cpu'), rss: Math.max(...m.map((r) => r.rss)), kept: truth.makedumpfile?.[level]?.remaining, bytes: m[0].bytes }
            : null
          : { tool: 'cat floor', ...floorMed },
        runs: plan.runs,
      };
      row.ratio = row.other ? row.ours.wall / row.other.wall : undefined;
      results.push(row);
      log(`${name} ${label}: ours ${fmt(row.ours.wall)} s (cpu ${fmt(row.ours.cpu)}, ${fmt(row.ours.rss, 0)} MiB) vs ${row.other?.tool ?? '–'} ${fmt(row.other?.wall)} s → ${fmt(row.ratio)}`);
    }
  }
  const load1 = os.loadavg();
  const table = render(results, startup, load0, load1);
  process.stdout.write(table);
  if (writeMd) {
    const md = path.join(root, 'BENCHMARKS.md');
    const old = fs.existsSync(md) ? fs.readFileSync(md, 'utf8') : '';
    const a = old.indexOf(BEGIN);
    const b = old.indexOf(END);
    const block = `${BEGIN}\n${table}${END}`;
    const text = a >= 0 && b > a ? old.slice(0, a) + block + old.slice(b + END.length) : `# Benchmarks\n\n${block}\n${old}`;
    fs.writeFileSync(md, text);
    log('wrote BENCHMARKS.md');
  }
}

const BEGIN = '<!-- bench:begin (written by bench/run.mjs) -->';
const END = '<!-- bench:end -->';

/** Fixed costs: a bare Node start, vmcore-filter --version, makedumpfile -v; and what NODE_EXTRA_CA_CERTS adds. */
function startupRows() {
  // Timed here to the microsecond (GNU time's %e counts in 10 ms steps, too coarse for these).
  const n = Math.max(11, runs);
  const wall = (cmd, argv, env = CLEAN_ENV) => {
    const t = process.hrtime.bigint();
    spawnSync(cmd, argv, { env, stdio: 'ignore' });
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const med = (cmd, argv, env) => median(Array.from({ length: n }, () => wall(cmd, argv, env)));
  const rows = [
    ['`node -e 0`', med('node', ['-e', '0'])],
    ['`vmcore-filter --version`', med('node', [BIN, '--version'])],
    ['`vmcore-filter filter --help` (loads the filter command)', med('node', [BIN, 'filter', '--help'])],
  ];
  if (haveMdf) rows.push(['`makedumpfile -v`', med(MDF, ['-v'])]);
  if (process.env.NODE_EXTRA_CA_CERTS) rows.push(['`node -e 0` with this environment\'s NODE_EXTRA_CA_CERTS', med('node', ['-e', '0'], process.env)]);
  for (const [k, v] of rows) log(`start-up ${k}: ${fmt(v)} s`);
  return rows;
}

function render(results, startup, load0, load1) {
  const mdfVersion = haveMdf ? (spawnSync(MDF, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '').trim() : 'not installed';
  const lines = [];
  lines.push(`Generated by \`npm run bench\` (\`node bench/run.mjs --runs ${runs} --images ${images.join(',')}\`) on ${new Date().toISOString().slice(0, 10)}.`);
  lines.push(
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${mdfVersion}.`,
  );
  lines.push(
    `Load average ${load0.map((x) => x.toFixed(1)).join('/')} at the start, ${load1.map((x) => x.toFixed(1)).join('/')} at the end: ` +
      (load0[0] > 1.5 || load1[0] > 1.5 ? 'the machine was shared with other jobs, so wall times are noisy.' : 'the machine was otherwise idle.'),
    '',
  );
  lines.push('Images come from the simulator (`bench/images.mjs`): 1 GiB and 4 GiB with the default workload; 64 GiB mostly free,');
  lines.push('free pages zero, written as a sparse file. `real-6.1` and `real-6.12` are QEMU dumps of Debian\'s kernels in a 1 GiB guest');
  lines.push('(`scripts/real/build.mjs`; makedumpfile reads the copy with program headers at offset 64). `1G-zlib` is the 1 GiB image');
  lines.push('as this build\'s `-d 31 -c` writes it (kdump-compressed, zlib): a refilter, the same file for both tools.');
  lines.push('Every run reads the image from the page cache (warmed first). Medians of');
  lines.push('the interleaved runs; CPU = user + sys of the whole process (all threads); RSS = peak resident set. vmcore-filter runs');
  lines.push(`with its default \`--num-threads\` (${os.availableParallelism()}, the core count) unless the row says otherwise. Both tools run`);
  lines.push('without NODE_OPTIONS and NODE_EXTRA_CA_CERTS in their environment (see the start-up table).', '');
  lines.push('Start-up (median wall s of ' + Math.max(11, runs) + ' runs):', '');
  lines.push('| command | wall s |', '| --- | --- |');
  for (const [k, v] of startup) lines.push(`| ${k} | ${fmt(v, 3)} |`);
  lines.push('');
  lines.push('| image | job | runs | vmcore-filter wall s | CPU s | peak RSS MiB | pages kept | compared with | its wall s | CPU s | peak RSS MiB | pages kept | ratio (wall) |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const o = r.ours;
    const m = r.other;
    lines.push(
      `| ${r.image} | \`${r.row}\` | ${r.runs} | ${fmt(o.wall)} | ${fmt(o.cpu)} | ${fmt(o.rss, 0)} | ${o.kept} | ${m?.tool ?? '–'} | ${fmt(m?.wall)} | ${fmt(m?.cpu)} | ${fmt(m?.rss, 0)} | ${m?.kept ?? '–'} | ${fmt(r.ratio)} |`,
    );
  }
  lines.push('');
  lines.push('Pages kept: makedumpfile 1.7.2 keeps hinted free pages (`_mapcount` = BUDDY & OFFLINE), which vmcore-filter excludes;');
  lines.push("its count is the simulator's ground truth of what makedumpfile reports. Debian's makedumpfile has no zstd or snappy, so");
  lines.push('`-z` and `-p` are compared with `cat image > /dev/null`, the time to read the whole image once.');
  lines.push('');
  return lines.join('\n') + '\n';
}

await main();
