#!/usr/bin/env node
// Builds the real-kernel dumps the tests in test/real/ read, from Debian packages alone:
// Debian's 6.1 and 6.12 x86_64 kernels booted under `qemu-system-x86_64 -accel tcg` with a
// busybox initramfs, a workload that leaves every page class present, free page reporting on
// (virtio-balloon free-page-reporting=on) and a balloon inflation over QMP, then dumped over QMP
// as ELF and as QEMU's kdump-zlib (flattened). A second boot of each kernel reserves
// crashkernel=, loads a capture kernel with `kexec -p`, panics, and the capture kernel runs
// vmcore-filter's makedumpfile drop-in and Debian's makedumpfile on /proc/vmcore, writing both
// dumps to an ext4 disk the host reads back with debugfs (nothing is mounted on the host).
// Debian's arm64 6.12 kernels (4K, 16K, and 4K on a CPU without LPA2) boot the same way under
// `qemu-system-aarch64 -M virt -cpu max` with arm64 packages (busybox, kernel) and a cross-built
// workload; they get the QMP dumps only (no capture, no boot without VMCOREINFO).
//
//   node scripts/real/build.mjs [--kernels 6.1,6.12,arm64-6.12,arm64-6.12-16k,arm64-6.12-va48] [--cache DIR] [--force] [--no-capture] [--no-install] [--no-dbg]
//
// Results go to DIR (default .cache/real, or $VMCF_REAL_CACHE): DIR/<kernel>/manifest.json
// names every file and records versions and timings. A kernel whose manifest matches this
// script's inputs (its own text, the workload, the package version, and for the capture the
// CLI bundle) is not rebuilt. Needs root only to apt-get what is missing. Each kernel's debug
// vmlinux (from its -dbg package) is fetched too, for crash; --no-dbg skips it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Qmp } from './qmp.mjs';
import { movePhdrsTo64 } from './elf-phdr64.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

/** The kernels: Debian's meta package names them; the image package is what it depends on. */
export const KERNELS = {
  '6.1': { meta: 'linux-image-amd64', arch: 'x86_64' },
  '6.12': { meta: 'linux-image-6.12-amd64', arch: 'x86_64' },
  // Debian's arm64 kernels (4K and 16K pages; Debian builds no 64K flavour), fetched as arm64
  // packages and unpacked, never installed. No capture boot: its tools disk is x86_64 programs.
  'arm64-6.12': { meta: 'linux-image-6.12-arm64', arch: 'arm64' },
  // 2.5 GiB: free page reporting starts only above low_wmark + 32 blocks of page_reporting_order
  // (mm/page_reporting.c), and with 16K pages that order is 11 (32 MiB blocks): 1 GiB of free
  // memory before the first report, so a 1 GiB guest never reports.
  'arm64-6.12-16k': { meta: 'linux-image-6.12-arm64-16k', arch: 'arm64', hugepages: 4, memMiB: 2560 },
  // The same 4K kernel on a CPU without FEAT_LPA2: it falls back to 48-bit VAs and four levels.
  'arm64-6.12-va48': { meta: 'linux-image-6.12-arm64', arch: 'arm64', cpu: 'max,pauth-impdef=on,lpa2=off' },
};

/**
 * What differs between the guest architectures: the QEMU binary and machine, the serial console,
 * the Debian architecture of the packages (null: the host's own), and the compiler of the
 * workload. -cpu max,pauth-impdef=on: QEMU's own pointer-authentication hash is several times
 * faster under TCG than the architected QARMA one.
 */
const ARCHS = {
  x86_64: { qemu: 'qemu-system-x86_64', machine: ['-machine', 'pc', '-cpu', 'qemu64'], console: 'ttyS0', deb: null, gcc: 'gcc' },
  arm64: { qemu: 'qemu-system-aarch64', machine: ['-machine', 'virt', '-cpu', 'max,pauth-impdef=on'], console: 'ttyAMA0', deb: 'arm64', gcc: 'aarch64-linux-gnu-gcc' },
};

/** Guest shape, shared by every boot. */
export const GUEST = {
  memMiB: 1024,
  balloonMiB: 64, // inflated over QMP before the dump: PageOffline pages
  crashkernelMiB: 256, // capture boot only: what the capture kernel (and node) must live in
};

const HOST_PACKAGES = {
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  kexec: 'kexec-tools',
  makedumpfile: 'makedumpfile',
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  cpio: 'cpio',
  depmod: 'kmod',
  xz: 'xz-utils',
  gcc: 'gcc',
  'dpkg-deb': 'dpkg',
};
/** Host tools only a guest architecture needs (static libc for the cross-built workload too). */
const ARCH_PACKAGES = {
  x86_64: {},
  arm64: { 'qemu-system-aarch64': 'qemu-system-arm', 'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu' },
};
const CROSS_LIBC = { arm64: ['/usr/aarch64-linux-gnu/lib/libc.a', 'libc6-dev-arm64-cross'] };

function log(msg) { process.stderr.write(`[real] ${msg}\n`); }

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...opts });
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

function sha256(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

/** Installs the host tools that are missing (root only), then checks every one is there. */
function ensureHostTools(install, arches) {
  const tools = Object.assign({}, HOST_PACKAGES, ...arches.map((a) => ARCH_PACKAGES[a]));
  const libs = arches.map((a) => CROSS_LIBC[a]).filter(Boolean);
  const missing = Object.keys(tools).filter((c) => !which(c));
  const missingLibs = libs.filter(([f]) => !fs.existsSync(f)).map(([, pkg]) => pkg);
  if ((missing.length || missingLibs.length) && install && process.getuid?.() === 0) {
    const pkgs = [...new Set([...missing.map((c) => tools[c]), ...missingLibs])];
    log(`apt-get install ${pkgs.join(' ')}`);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const still = Object.keys(tools).filter((c) => !which(c)).map((c) => `${c} (${tools[c]})`);
  still.push(...libs.filter(([f]) => !fs.existsSync(f)).map(([f, pkg]) => `${f} (${pkg})`));
  if (still.length) throw new Error(`missing host tools: ${still.join(', ')}`);
  const bb = fs.realpathSync(which('busybox'));
  if (!/statically linked|static-pie/.test(run('file', ['-L', bb]))) throw new Error(`${bb} is not static: install busybox-static`);
}

/** Resolves a kernel meta package to its image package and version, downloads and unpacks it. */
function fetchKernel(id, cache) {
  const { meta, arch } = KERNELS[id];
  const q = debQualifier(arch);
  const deps = run('apt-cache', ['depends', '--important', meta + q]);
  const m = /Depends: (linux-image-[^\s:]+)/.exec(deps);
  if (!m) throw new Error(`apt-cache depends ${meta + q}: no linux-image dependency (run apt-get update${q ? `; dpkg --add-architecture ${ARCHS[arch].deb}` : ''})`);
  const pkg = m[1];
  const policy = run('apt-cache', ['policy', pkg + q]);
  const version = /Candidate: (\S+)/.exec(policy)?.[1];
  if (!version || version === '(none)') throw new Error(`${pkg}: no candidate version`);
  const dir = path.join(cache, 'kernels', `${pkg}_${version}`);
  const stamp = path.join(dir, '.unpacked');
  if (!fs.existsSync(stamp)) {
    fs.rmSync(dir, { recursive: true, force: true });
    const debs = path.join(cache, 'debs');
    fs.mkdirSync(debs, { recursive: true });
    let deb = fs.readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) {
      log(`apt-get download ${pkg}${q}=${version}`);
      run('apt-get', ['download', `${pkg}${q}=${version}`], { cwd: debs });
      deb = fs.readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    }
    fs.mkdirSync(dir, { recursive: true });
    run('dpkg-deb', ['-x', path.join(debs, deb), dir]);
    fs.writeFileSync(stamp, '');
  }
  const kver = fs.readdirSync(path.join(dir, 'lib', 'modules'))[0];
  if (!fs.existsSync(path.join(dir, 'lib', 'modules', kver, 'modules.dep'))) run('depmod', ['-b', dir, kver]);
  return { id, meta, arch, pkg, version, kver, dir, vmlinuz: path.join(dir, 'boot', `vmlinuz-${kver}`) };
}

/** The dump boot's memory: GUEST's unless the kernel says otherwise. */
const guestMiB = (id) => KERNELS[id].memMiB ?? GUEST.memMiB;

/** QEMU's -machine and -cpu for a kernel (its arch's, or a kernel's own -cpu). */
function guestMachine(id) {
  const { machine } = ARCHS[KERNELS[id].arch];
  const cpu = KERNELS[id].cpu;
  return cpu ? machine.map((a, i) => (machine[i - 1] === '-cpu' ? cpu : a)) : machine;
}

/** ':arm64' for a foreign architecture's packages, '' for the host's. */
function debQualifier(arch) {
  return ARCHS[arch].deb ? `:${ARCHS[arch].deb}` : '';
}

/** The guest's static busybox: the host's for x86_64, else unpacked from that architecture's busybox-static. */
function guestBusybox(arch, cache) {
  if (!ARCHS[arch].deb) return fs.realpathSync(which('busybox'));
  const q = debQualifier(arch);
  const version = /Candidate: (\S+)/.exec(run('apt-cache', ['policy', `busybox-static${q}`]))?.[1];
  if (!version || version === '(none)') throw new Error(`busybox-static${q}: no candidate version (run apt-get update)`);
  const dir = path.join(cache, 'busybox', `${ARCHS[arch].deb}_${version.replace(/:/g, '%3a')}`);
  const bin = path.join(dir, 'bin', 'busybox');
  if (fs.existsSync(bin)) return bin;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  log(`apt-get download busybox-static${q}=${version}`);
  run('apt-get', ['download', `busybox-static${q}=${version}`], { cwd: dir });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
  run('dpkg-deb', ['-x', path.join(dir, deb), dir]);
  fs.rmSync(path.join(dir, deb));
  return bin;
}

/**
 * The kernel's debug vmlinux (package <image>-dbg), for crash: only the vmlinux is kept, the
 * 0.9-1 GB package is removed after extraction.
 */
function fetchDebugVmlinux(kernel, cache) {
  const dir = path.join(cache, 'dbg', `${kernel.pkg}_${kernel.version}`);
  const vmlinux = path.join(dir, `vmlinux-${kernel.kver}`);
  if (fs.existsSync(vmlinux)) return vmlinux;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const pkg = `${kernel.pkg.replace(/-unsigned$/, '')}-dbg${debQualifier(kernel.arch)}`;
  log(`apt-get download ${pkg}=${kernel.version}`);
  run('apt-get', ['download', `${pkg}=${kernel.version}`], { cwd: dir });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
  const member = `./usr/lib/debug/boot/vmlinux-${kernel.kver}`;
  // --occurrence=1: tar stops at the vmlinux (the tenth member), not after decompressing the
  // package's 6 GiB of module debug info (48 s down to 7 s for the arm64 one; dpkg-deb then
  // complains of a broken pipe, and the pipeline's status is tar's).
  execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x --occurrence=1 -C "$2" "$3"`, 'sh', path.join(dir, deb), dir, member], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.renameSync(path.join(dir, member), vmlinux + '.tmp');
  fs.renameSync(vmlinux + '.tmp', vmlinux);
  fs.rmSync(path.join(dir, deb));
  fs.rmSync(path.join(dir, 'usr'), { recursive: true, force: true });
  return vmlinux;
}

/** Module files in load order (dependencies first) for the named modules, uncompressed into `dest`. */
function copyModules(kernel, names, dest) {
  const seen = new Set();
  const order = [];
  for (const n of names) {
    const out = run('modprobe', ['-d', kernel.dir, '-S', kernel.kver, '--show-depends', n]);
    for (const line of out.split('\n')) {
      const f = /^insmod (\S+)/.exec(line)?.[1];
      if (f && !seen.has(f)) { seen.add(f); order.push(f); }
    }
  }
  fs.mkdirSync(dest, { recursive: true });
  order.forEach((f, i) => {
    const src = f.startsWith(kernel.dir) ? f : path.join(kernel.dir, f);
    const base = path.basename(src).replace(/\.(xz|zst|gz)$/, '');
    const out = path.join(dest, `${String(i).padStart(2, '0')}-${base}`);
    if (src.endsWith('.xz')) fs.writeFileSync(out, execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 28 }));
    else if (src.endsWith('.zst')) fs.writeFileSync(out, execFileSync('zstd', ['-dc', src], { maxBuffer: 1 << 28 }));
    else fs.copyFileSync(src, out);
  });
  return order.length;
}

/** Copies a dynamically linked host program and the libraries ldd names into a root tree. */
function copyWithLibs(prog, treeRoot, destRel) {
  const dest = path.join(treeRoot, destRel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(fs.realpathSync(prog), dest);
  fs.chmodSync(dest, 0o755);
  for (const line of run('ldd', [prog]).split('\n')) {
    const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+ld-linux\S*)/.exec(line)?.[1];
    if (!lib) continue;
    const to = path.join(treeRoot, lib);
    if (fs.existsSync(to)) continue;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(fs.realpathSync(lib), to);
  }
}

/** Packs a directory as a gzip'd newc cpio archive (the initramfs format). */
function packInitramfs(dir, out) {
  const list = run('find', ['.'], { cwd: dir });
  const cpio = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: dir, input: list, maxBuffer: 1 << 30 });
  fs.writeFileSync(out, execFileSync('gzip', ['-1', '-n'], { input: cpio, maxBuffer: 1 << 30 }));
}

function baseRoot(dir, busybox) {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'proc', 'sys', 'dev', 'tmp', 'mnt', 'mods', 'boot', 'shm']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
}

/**
 * A busybox initramfs in `work`/initrd-`name`.gz: the named modules (with their dependencies),
 * `init` as /init, and whatever `fill(rootDir)` adds.
 */
function initramfs(kernel, work, name, modules, init, fill = () => {}) {
  const r = path.join(work, `root-${name}`);
  baseRoot(r, kernel.busybox);
  copyModules(kernel, modules, path.join(r, 'mods'));
  fill(r);
  fs.writeFileSync(path.join(r, 'init'), init, { mode: 0o755 });
  const out = path.join(work, `initrd-${name}.gz`);
  packInitramfs(r, out);
  return out;
}

const FIRST_KERNEL_MODULES = ['virtio_pci', 'virtio_balloon', 'qemu_fw_cfg', 'virtio_blk', 'ext4'];

const PRELUDE = `#!/bin/busybox sh
/bin/busybox --install -s /bin
/bin/busybox --install -s /sbin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in /mods/*.ko; do insmod "$m" 2>/dev/null || echo "VMCF: insmod $m failed"; done
echo "VMCF: modules loaded"
`;

// The workload: page cache on ext4 (with buffer heads) and tmpfs, anonymous 4K pages, THP,
// hugetlb pages in use and in the pool, then 300 MiB touched and freed, which free page
// reporting hands to the host (reported blocks are at least pageblock order, 2 MiB; 32 MiB with
// 16K pages, whose huge pages are 32 MiB too, hence a smaller pool there).
const workloadScript = (hugepages = 16) => `
echo always > /sys/kernel/mm/transparent_hugepage/enabled
mkdir -p /scratch /tmpfs
if mount -t ext4 /dev/vda /scratch; then
  cat /scratch/data* > /dev/null
  dd if=/dev/urandom of=/scratch/written bs=1M count=8 2>/dev/null; sync
else echo "VMCF: no scratch disk"; fi
mount -t tmpfs -o size=64m tmpfs /tmpfs
dd if=/dev/urandom of=/tmpfs/blob bs=1M count=24 2>/dev/null
echo ${hugepages} > /proc/sys/vm/nr_hugepages
/bin/workload hugetlb 8 &
/bin/workload thp 64 &
/bin/workload anon 48 &
sleep 2
/bin/workload free 300
sleep 12
`;

const FACTS = `
echo "VMCF: facts begin"
for f in /proc/meminfo /proc/vmstat /proc/buddyinfo /proc/iomem /proc/cmdline /proc/sys/kernel/osrelease; do echo "== $f"; cat $f; done
echo "VMCF: facts end"
`;

function dumpInit(kernel) {
  return PRELUDE + workloadScript(KERNELS[kernel.id].hugepages) + FACTS + `echo "VMCF: workload done"\nwhile true; do sleep 60; done\n`;
}

function captureFirstInit() {
  return PRELUDE + workloadScript() + FACTS + `
kexec -p /boot/vmlinuz --initrd=/boot/capture.gz --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 rdinit=/init" || echo "VMCF: kexec failed"
echo "VMCF: kexec_crash_loaded $(cat /sys/kernel/kexec_crash_loaded)"
echo "VMCF: panic"
echo c > /proc/sysrq-trigger
`;
}

// The capture kernel's init: mount the tools disk and run both collectors on /proc/vmcore in
// it, the way kdump-tools does (makedumpfile's command line, dump under /var/crash).
const CAPTURE_INIT = PRELUDE + `
echo "VMCF: capture kernel up"
ls -l /proc/vmcore
mount -t ext4 /dev/vda /mnt || { echo "VMCF: cannot mount tools disk"; poweroff -f; }
mount --bind /proc /mnt/proc; mount --bind /dev /mnt/dev; mount --bind /sys /mnt/sys
chroot /mnt /bin/busybox sh /capture.sh
umount /mnt/proc /mnt/dev /mnt/sys; umount /mnt; sync
echo "VMCF: capture done"
poweroff -f
`;

const CAPTURE_SH = `export PATH=/bin:/usr/sbin:/usr/bin
/bin/busybox --install -s /bin
up() { cut -d' ' -f1 /proc/uptime; }
cd /var/crash
cat /proc/meminfo > meminfo.txt
for tool in vmcore-filter makedumpfile; do
  if [ $tool = vmcore-filter ]; then set -- /bin/node /opt/vmcore-filter/bin/vmcore-filter.js makedumpfile; else set -- /usr/sbin/makedumpfile; fi
  t0=$(up)
  /usr/bin/time -v -o $tool.time "$@" -l --message-level 7 -d 31 /proc/vmcore /var/crash/$tool.dump > $tool.log 2>&1
  echo $? > $tool.rc
  t1=$(up)
  echo "$t0 $t1" > $tool.uptime
  echo "VMCF: $tool exit $(cat $tool.rc) in $t0..$t1"
  sync
done
# The kdump-tools way (Debian's kdump-config savecore): PATH=/bin:/usr/bin:/sbin:/usr/sbin, its
# default MAKEDUMP_ARGS "-F -c -d 31" with stdout to the core file, then --dump-dmesg. Here
# /usr/bin/makedumpfile is vmcore-filter's single executable (as after a dpkg-divert of
# Debian's), found by name; Debian's makedumpfile runs the same way by its own path.
for tool in single-executable makedumpfile; do
  if [ $tool = single-executable ]; then mdf=makedumpfile; else mdf=/usr/sbin/makedumpfile; fi
  (
    export PATH=/bin:/usr/bin:/sbin:/usr/sbin
    command -v makedumpfile > kt-which.txt
    t0=$(up)
    /usr/bin/time -v -o kt-$tool.time $mdf -F -c -d 31 /proc/vmcore > kt-$tool.flat 2> kt-$tool.log
    echo $? > kt-$tool.rc
    echo "$t0 $(up)" > kt-$tool.uptime
    $mdf --dump-dmesg /proc/vmcore kt-$tool.dmesg >> kt-$tool.log 2>&1
    echo $? > kt-$tool.dmesg.rc
  )
  echo "VMCF: kdump-tools way, $tool exit $(cat kt-$tool.rc), --dump-dmesg exit $(cat kt-$tool.dmesg.rc)"
  sync
done
# A disk that fills up: the same job onto a 12 MiB tmpfs; what each collector leaves is kept.
mkdir -p /full
for tool in vmcore-filter makedumpfile; do
  if [ $tool = vmcore-filter ]; then set -- /bin/node /opt/vmcore-filter/bin/vmcore-filter.js makedumpfile; else set -- /usr/sbin/makedumpfile; fi
  mount -t tmpfs -o size=12m tmpfs /full
  "$@" -l --message-level 7 -d 31 /proc/vmcore /full/$tool.dump > full-$tool.log 2>&1
  echo $? > full-$tool.rc
  ls -la /full >> full-$tool.log
  if [ -e /full/$tool.dump ]; then cp /full/$tool.dump full-$tool.dump; fi
  umount /full
  echo "VMCF: $tool on a full disk: exit $(cat full-$tool.rc)"
done
sync
`;

/** An ext4 image built from a directory on the host (mke2fs -d: no mount, no root needed). */
function makeExt4(dir, img, sizeMiB) {
  fs.rmSync(img, { force: true });
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', 'root_owner=0:0', '-d', dir, img, `${sizeMiB}M`]);
}

function scratchDisk(work) {
  const dir = path.join(work, 'scratch-tree');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // Deterministic non-zero contents: page cache pages that are not zero pages.
  for (let i = 0; i < 4; i++) {
    const b = crypto.createHash('sha512');
    const buf = Buffer.alloc(8 << 20);
    for (let off = 0; off < buf.length; off += 64) {
      b.update(Buffer.from([i, off & 0xff, (off >> 8) & 0xff, (off >> 16) & 0xff]));
      b.copy().digest().copy(buf, off);
    }
    fs.writeFileSync(path.join(dir, `data${i}`), buf);
  }
  const img = path.join(work, 'scratch.ext4');
  makeExt4(dir, img, 96);
  return img;
}

function buildWorkload(work, arch) {
  const out = path.join(work, 'workload');
  run(ARCHS[arch].gcc, ['-O2', '-static', '-o', out, path.join(here, 'workload.c')]);
  return out;
}

// Part of the capture's cache key: change it with what toolsDisk() puts on the disk. (Not
// toolsDisk.toString(): under vitest this module's text is transformed, so the key would differ
// between `node scripts/real/build.mjs` and the tests, and the tests would rebuild the capture.)
const TOOLS_DISK_VERSION = 'tools-disk 2: 1536 MiB; busybox, node + bundle + prod node_modules, makedumpfile, time, the single executable as /usr/bin/makedumpfile';

/** The tools disk of the capture boot: node and the CLI bundle, makedumpfile, GNU time, busybox. */
function toolsDisk(work) {
  const tree = path.join(work, 'tools-tree');
  fs.rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'var/crash', 'opt/vmcore-filter']) fs.mkdirSync(path.join(tree, d), { recursive: true });
  fs.copyFileSync(fs.realpathSync(which('busybox')), path.join(tree, 'bin', 'busybox'));
  fs.chmodSync(path.join(tree, 'bin', 'busybox'), 0o755);
  copyWithLibs(process.execPath, tree, 'bin/node');
  copyWithLibs(which('makedumpfile'), tree, 'usr/sbin/makedumpfile');
  copyWithLibs('/usr/bin/time', tree, 'usr/bin/time');
  // The single executable, installed under makedumpfile's name where kdump-config finds it.
  fs.copyFileSync(seaBinary(), path.join(tree, 'opt', 'vmcore-filter-linux-x64'));
  fs.chmodSync(path.join(tree, 'opt', 'vmcore-filter-linux-x64'), 0o755);
  fs.mkdirSync(path.join(tree, 'usr', 'bin'), { recursive: true });
  fs.symlinkSync('/opt/vmcore-filter-linux-x64', path.join(tree, 'usr', 'bin', 'makedumpfile'));
  const app = path.join(tree, 'opt', 'vmcore-filter');
  fs.cpSync(path.join(root, 'bin'), path.join(app, 'bin'), { recursive: true });
  fs.cpSync(path.join(root, 'dist', 'bundle'), path.join(app, 'dist', 'bundle'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(app, 'package.json'));
  // Production dependencies only (the native codecs among them).
  const prod = run('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: root }).split('\n').filter((p) => p.includes('node_modules'));
  for (const p of prod) fs.cpSync(p, path.join(app, path.relative(root, p)), { recursive: true, dereference: true });
  fs.writeFileSync(path.join(tree, 'capture.sh'), CAPTURE_SH);
  const img = path.join(work, 'tools.ext4');
  // Room for node, the single executable and six dumps of a 1 GiB guest (6.12's are the largest).
  makeExt4(tree, img, 1536);
  return img;
}

/** dist/vmcore-filter-linux-x64 (issue 13's single executable), built when missing or older than the bundle. */
function seaBinary() {
  const sea = path.join(root, 'dist', `vmcore-filter-linux-x64`);
  const bundle = path.join(root, 'dist', 'bundle', 'main.js');
  if (!fs.existsSync(sea) || (fs.existsSync(bundle) && fs.statSync(sea).mtimeMs < fs.statSync(bundle).mtimeMs)) {
    log('building the single executable (node scripts/sea.mjs)');
    run(process.execPath, [path.join(root, 'scripts', 'sea.mjs')], { cwd: root });
  }
  return sea;
}

function bundleHash() {
  // The code and its package.json, not main.js.cache: V8's code cache differs from build to build
  // (the same bundle, other bytecode addresses), and a key over it would redo the capture on every
  // `npm run build`.
  return dirHash(path.join(root, 'dist', 'bundle'), /\.(js|json)$/);
}

/** Hash of a build output directory's files (what the capture's programs are made of). */
function dirHash(dir, only = /./) {
  if (!fs.existsSync(dir)) throw new Error(`${path.relative(root, dir)} is missing: run npm run build first`);
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (only.test(f) && fs.statSync(p).isFile()) h.update(f).update(fs.readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}

/** Waits until the serial log contains `marker` (or the QEMU process exits, or time runs out). */
async function waitSerial(file, marker, proc, timeoutMs) {
  const start = Date.now();
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.includes(marker)) return text;
    if (proc.exitCode !== null) throw new Error(`QEMU exited (${proc.exitCode}) before "${marker}"; see ${file}`);
    if (/Kernel panic - not syncing/.test(text) && !marker.includes('panic')) throw new Error(`guest panicked before "${marker}"; see ${file}`);
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for "${marker}"; see ${file}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const QEMU_ARGS_VERSION = 'qemu-args-1';

function startQemu(kernel, initrd, append, disks, serial, qmpSock, extraDevices = [], { memMiB = GUEST.memMiB, vmcoreinfo = true, balloon = true } = {}) {
  fs.rmSync(serial, { force: true });
  fs.rmSync(qmpSock, { force: true });
  const { qemu } = ARCHS[kernel.arch];
  const machine = guestMachine(kernel.id);
  const args = [
    '-accel', 'tcg', ...machine, '-smp', '1', '-m', String(memMiB),
    '-nographic', '-no-reboot', '-display', 'none', '-monitor', 'none',
    '-kernel', kernel.vmlinuz, '-initrd', initrd, '-append', append,
    '-serial', `file:${serial}`, '-qmp', `unix:${qmpSock},server=on,wait=off`,
    ...(vmcoreinfo ? ['-device', 'vmcoreinfo'] : []),
    ...(balloon ? ['-device', 'virtio-balloon-pci,id=balloon0,free-page-reporting=on'] : []),
    ...extraDevices,
  ];
  disks.forEach((d, i) => args.push('-drive', `file=${d},format=raw,if=virtio,index=${i}`));
  const proc = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => process.stderr.write(`[qemu] ${d}`));
  return proc;
}

function facts(serialText) {
  const m = /VMCF: facts begin\r?\n([\s\S]*?)VMCF: facts end/.exec(serialText);
  const out = {};
  if (!m) return out;
  let cur = null;
  for (const line of m[1].split(/\r?\n/)) {
    const h = /^== (\S+)/.exec(line);
    if (h) { cur = h[1]; out[cur] = ''; continue; }
    if (cur && !/^\[\s*\d+\.\d+\]/.test(line)) out[cur] += line + '\n';
  }
  return out;
}

const secs = (t0) => Math.round((Date.now() - t0) / 100) / 10;

/** Boot 1: workload, balloon, ELF and kdump-zlib dumps over QMP. */
async function buildDumps(kernel, out, work, workload) {
  const initrd = initramfs(kernel, work, 'dump', FIRST_KERNEL_MODULES, dumpInit(kernel), (r) => fs.copyFileSync(workload, path.join(r, 'bin', 'workload')));
  const disk = scratchDisk(work);
  const serial = path.join(out, 'serial-dump.log');
  const sock = path.join(work, 'qmp.sock');
  const t = { start: Date.now() };
  const proc = startQemu(kernel, initrd, `console=${ARCHS[kernel.arch].console} panic=-1`, [disk], serial, sock, [], { memMiB: guestMiB(kernel.id) });
  const x86 = kernel.arch === 'x86_64';
  try {
    const qmp = await Qmp.connect(sock);
    const text = await waitSerial(serial, 'VMCF: workload done', proc, 10 * 60_000);
    t.booted = secs(t.start);
    const target = (guestMiB(kernel.id) - GUEST.balloonMiB) * 1024 * 1024;
    const t1 = Date.now();
    await qmp.execute('balloon', { value: target });
    let actual = 0;
    for (let i = 0; i < 240; i++) {
      actual = (await qmp.execute('query-balloon')).actual;
      if (actual <= target) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    if (actual > target) throw new Error(`balloon did not inflate: actual ${actual}, target ${target}`);
    await new Promise((res) => setTimeout(res, 2000));
    t.balloon = secs(t1);
    const elf = path.join(out, 'vmcore.elf');
    const kdump = path.join(out, 'vmcore.kdump-zlib');
    for (const f of [elf, kdump]) fs.rmSync(f, { force: true });
    const t2 = Date.now();
    await qmp.execute('stop');
    await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${elf}` });
    t.dumpElf = secs(t2);
    const t3 = Date.now();
    // QEMU's kdump writer may refuse a guest (its page size against the dump's): recorded, not
    // fatal, off x86_64.
    let kdumpRefused = null;
    try {
      await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${kdump}`, format: 'kdump-zlib' });
    } catch (e) {
      if (x86) throw e;
      kdumpRefused = e instanceof Error ? e.message : String(e);
      fs.rmSync(kdump, { force: true });
    }
    t.dumpKdump = secs(t3);
    await qmp.execute('quit').catch(() => {});
    qmp.close();
    await new Promise((res) => (proc.exitCode !== null ? res() : proc.once('exit', res)));
    const files = { elf: 'vmcore.elf', kdumpZlib: kdumpRefused ? null : 'vmcore.kdump-zlib', elfPhdr64: null, serial: 'serial-dump.log' };
    // makedumpfile's PT_LOAD-first copy is only for Debian's makedumpfile, an x86_64 build.
    if (x86) {
      const t4 = Date.now();
      movePhdrsTo64(elf, path.join(out, 'vmcore.phdr64.elf'));
      t.phdr64 = secs(t4);
      files.elfPhdr64 = 'vmcore.phdr64.elf';
    }
    t.total = secs(t.start);
    return { balloonActual: actual, facts: facts(text), timings: t, files, ...(kdumpRefused ? { kdumpRefused } : {}) };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

// A guest QEMU cannot take VMCOREINFO from: no -device vmcoreinfo (so qemu_fw_cfg has nothing
// to publish). Small and idle: the dump is only for the missing-VMCOREINFO path.
const NO_VMCOREINFO_INIT = PRELUDE + `echo "VMCF: idle"\nwhile true; do sleep 60; done\n`;
const NO_VMCOREINFO_MIB = 256;

async function buildNoVmcoreinfo(kernel, out, work) {
  const initrd = initramfs(kernel, work, 'novi', ['qemu_fw_cfg'], NO_VMCOREINFO_INIT);
  const serial = path.join(out, 'serial-no-vmcoreinfo.log');
  const sock = path.join(work, 'qmp-novi.sock');
  const t0 = Date.now();
  const proc = startQemu(kernel, initrd, 'console=ttyS0 panic=-1', [], serial, sock, [], { memMiB: NO_VMCOREINFO_MIB, vmcoreinfo: false, balloon: false });
  try {
    const qmp = await Qmp.connect(sock);
    await waitSerial(serial, 'VMCF: idle', proc, 5 * 60_000);
    const elf = path.join(out, 'vmcore.no-vmcoreinfo.elf');
    fs.rmSync(elf, { force: true });
    await qmp.execute('stop');
    await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${elf}` });
    await qmp.execute('quit').catch(() => {});
    qmp.close();
    await new Promise((res) => (proc.exitCode !== null ? res() : proc.once('exit', res)));
    return { memMiB: NO_VMCOREINFO_MIB, seconds: secs(t0), file: 'vmcore.no-vmcoreinfo.elf' };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

/** Boot 2: crashkernel=, kexec -p, panic; the capture kernel runs both collectors. */
async function buildCapture(kernel, out, work, workload) {
  const captureInitrd = initramfs(kernel, work, 'capture', ['virtio_pci', 'virtio_blk', 'ext4'], CAPTURE_INIT);
  // The first kernel mounts no disk: the tools disk (vda) is the capture kernel's, and the
  // scratch disk is left out so the device names match. Page cache comes from tmpfs here.
  const initrd = initramfs(kernel, work, 'first', FIRST_KERNEL_MODULES, captureFirstInit(), (r) => {
    fs.copyFileSync(workload, path.join(r, 'bin', 'workload'));
    fs.copyFileSync(kernel.vmlinuz, path.join(r, 'boot', 'vmlinuz'));
    fs.copyFileSync(captureInitrd, path.join(r, 'boot', 'capture.gz'));
    copyWithLibs(which('kexec'), r, 'sbin/kexec.bin');
    fs.writeFileSync(path.join(r, 'sbin', 'kexec'), '#!/bin/busybox sh\nexec /sbin/kexec.bin "$@"\n', { mode: 0o755 });
  });
  const tools = toolsDisk(work);
  const serial = path.join(out, 'serial-capture.log');
  const sock = path.join(work, 'qmp-capture.sock');
  const t = { start: Date.now() };
  const proc = startQemu(kernel, initrd, `console=ttyS0 panic=-1 crashkernel=${GUEST.crashkernelMiB}M`, [tools], serial, sock);
  try {
    await waitSerial(serial, 'VMCF: panic', proc, 10 * 60_000);
    t.panic = secs(t.start);
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`capture did not finish in 25 min; see ${serial}`)), 25 * 60_000);
      const done = () => { clearTimeout(timer); res(); };
      if (proc.exitCode !== null) done(); else proc.once('exit', done);
    });
    t.total = secs(t.start);
    const text = fs.readFileSync(serial, 'utf8');
    if (!text.includes('VMCF: capture done')) throw new Error(`capture kernel did not finish; see ${serial}`);
    const dir = path.join(out, 'capture');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    run('debugfs', ['-R', `rdump /var/crash ${dir}`, tools]);
    const got = path.join(dir, 'crash');
    for (const f of fs.readdirSync(got)) fs.renameSync(path.join(got, f), path.join(dir, f));
    fs.rmdirSync(got);
    fs.rmSync(tools);
    const result = {};
    for (const tool of ['vmcore-filter', 'makedumpfile']) {
      const rc = fs.existsSync(path.join(dir, `${tool}.rc`)) ? Number(fs.readFileSync(path.join(dir, `${tool}.rc`), 'utf8')) : null;
      const [u0, u1] = fs.existsSync(path.join(dir, `${tool}.uptime`)) ? fs.readFileSync(path.join(dir, `${tool}.uptime`), 'utf8').trim().split(' ').map(Number) : [NaN, NaN];
      const timeText = fs.existsSync(path.join(dir, `${tool}.time`)) ? fs.readFileSync(path.join(dir, `${tool}.time`), 'utf8') : '';
      const maxRssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeText)?.[1] ?? NaN);
      result[tool] = { rc, seconds: Math.round((u1 - u0) * 100) / 100, maxRssKiB, dump: `capture/${tool}.dump`, log: `capture/${tool}.log` };
    }
    const kdumpTools = { which: fs.readFileSync(path.join(dir, 'kt-which.txt'), 'utf8').trim() };
    for (const tool of ['single-executable', 'makedumpfile']) {
      const f = (x) => path.join(dir, `kt-${tool}.${x}`);
      const [u0, u1] = fs.readFileSync(f('uptime'), 'utf8').trim().split(' ').map(Number);
      kdumpTools[tool] = {
        rc: Number(fs.readFileSync(f('rc'), 'utf8')),
        dmesgRc: Number(fs.readFileSync(f('dmesg.rc'), 'utf8')),
        seconds: Math.round((u1 - u0) * 100) / 100,
        maxRssKiB: Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(fs.readFileSync(f('time'), 'utf8'))?.[1] ?? NaN),
        flat: `capture/kt-${tool}.flat`,
        dmesg: `capture/kt-${tool}.dmesg`,
        log: `capture/kt-${tool}.log`,
      };
    }
    return { timings: t, crashkernelMiB: GUEST.crashkernelMiB, tools: result, kdumpTools, facts: facts(text), serial: 'serial-capture.log' };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

export function cacheDir() {
  return process.env.VMCF_REAL_CACHE ? path.resolve(process.env.VMCF_REAL_CACHE) : path.join(root, '.cache', 'real');
}

/** Builds (or finds cached) dumps for the given kernels; returns their manifests. */
export async function buildReal({ kernels = Object.keys(KERNELS), cache = cacheDir(), force = false, capture = true, install = true, debug = true } = {}) {
  for (const id of kernels) if (!KERNELS[id]) throw new Error(`unknown kernel ${id} (known: ${Object.keys(KERNELS).join(', ')})`);
  const arches = [...new Set(kernels.map((id) => KERNELS[id].arch))];
  ensureHostTools(install, arches);
  fs.mkdirSync(cache, { recursive: true });
  // Cache keys follow what each boot's result depends on (not this file's whole text, so that
  // editing one step does not rebuild the others).
  const baseHash = sha256(QEMU_ARGS_VERSION, JSON.stringify(GUEST), fs.readFileSync(path.join(here, 'workload.c')));
  const manifests = {};
  for (const id of kernels) {
    const kernel = fetchKernel(id, cache);
    kernel.busybox = guestBusybox(kernel.arch, cache);
    const x86 = kernel.arch === 'x86_64';
    const out = path.join(cache, id);
    const work = path.join(cache, 'work', id);
    fs.mkdirSync(out, { recursive: true });
    fs.mkdirSync(work, { recursive: true });
    const mfile = path.join(out, 'manifest.json');
    let m = fs.existsSync(mfile) ? JSON.parse(fs.readFileSync(mfile, 'utf8')) : null;
    // (The x86_64 key is left as it was before arm64 came, so adding it rebuilt nothing.)
    const archKey = x86 ? [] : [JSON.stringify(guestMachine(id)), kernel.busybox, String(guestMiB(id))];
    const dumpKey = sha256(baseHash, kernel.pkg, kernel.version, dumpInit(kernel), fs.readFileSync(path.join(here, 'elf-phdr64.mjs')), ...archKey);
    // Compiled only when a boot needs it (most calls find everything cached).
    let built;
    const workloadPath = () => (built ??= buildWorkload(work, kernel.arch));
    if (force || !m || m.dumpKey !== dumpKey || !fs.existsSync(path.join(out, 'vmcore.elf'))) {
      log(`${id}: booting ${kernel.pkg} ${kernel.version} for the QMP dumps`);
      const dumps = await buildDumps(kernel, out, work, workloadPath());
      m = { kernel: { id, meta: kernel.meta, arch: kernel.arch, pkg: kernel.pkg, version: kernel.version, kver: kernel.kver }, guest: { ...GUEST, memMiB: guestMiB(id) }, dumpKey, dumps, capture: m?.capture ?? null, noVmcoreinfo: m?.noVmcoreinfo ?? null };
      fs.writeFileSync(mfile, JSON.stringify(m, null, 2) + '\n');
      log(`${id}: dumps in ${dumps.timings.total} s`);
    }
    const noviKey = sha256(baseHash, kernel.pkg, kernel.version, NO_VMCOREINFO_INIT);
    if (x86 && (force || m.noVmcoreinfo?.key !== noviKey || !fs.existsSync(path.join(out, 'vmcore.no-vmcoreinfo.elf')))) {
      log(`${id}: booting without -device vmcoreinfo`);
      m.noVmcoreinfo = { key: noviKey, ...(await buildNoVmcoreinfo(kernel, out, work)) };
      fs.writeFileSync(mfile, JSON.stringify(m, null, 2) + '\n');
    }
    if (capture && x86) {
      seaBinary();
      // What the capture's programs are made of: the bundle and the single executable's own
      // modules (tsc output, deterministic; not the blobs its build leaves beside them).
      const keyParts = { bundle: bundleHash(), sea: dirHash(path.join(root, 'dist', 'sea'), /\.js$/) };
      const captureKey = sha256(baseHash, kernel.pkg, kernel.version, captureFirstInit(), CAPTURE_INIT, CAPTURE_SH, TOOLS_DISK_VERSION, keyParts.bundle, keyParts.sea);
      if (force || !m.capture || m.capture.key !== captureKey) {
        log(`${id}: booting with crashkernel=${GUEST.crashkernelMiB}M for the kdump capture`);
        m.capture = { key: captureKey, keyParts, ...(await buildCapture(kernel, out, work, workloadPath())) };
        fs.writeFileSync(mfile, JSON.stringify(m, null, 2) + '\n');
        log(`${id}: capture in ${m.capture.timings.total} s`);
      }
    }
    if (debug) {
      const vmlinux = fetchDebugVmlinux(kernel, cache);
      if (m.debugVmlinux !== vmlinux) { m.debugVmlinux = vmlinux; fs.writeFileSync(mfile, JSON.stringify(m, null, 2) + '\n'); }
    }
    fs.rmSync(work, { recursive: true, force: true });
    manifests[id] = { ...m, dir: out };
  }
  return manifests;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  try {
    const manifests = await buildReal({
      kernels: opt('--kernels')?.split(','),
      cache: opt('--cache') ? path.resolve(opt('--cache')) : undefined,
      force: argv.includes('--force'),
      capture: !argv.includes('--no-capture'),
      install: !argv.includes('--no-install'),
      debug: !argv.includes('--no-dbg'),
    });
    for (const [id, m] of Object.entries(manifests)) process.stdout.write(`${id}: ${m.kernel.pkg} ${m.kernel.version} -> ${m.dir}\n`);
  } catch (e) {
    process.stderr.write(`real: ${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
  }
}
