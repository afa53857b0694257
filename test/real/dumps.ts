/**
 * The real-kernel dumps of scripts/real/build.mjs, built once per test run and cached under
 * .cache/real (or $VMCF_REAL_CACHE). Building boots Debian's kernels under QEMU (TCG), so it
 * needs qemu-system-x86 (qemu-system-arm for the arm64 ones) and friends: without them the tests
 * skip locally and fail with CI=true.
 * Vitest runs test files in several processes; an atomic mkdir lock makes one build and the
 * others wait for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { requirePeer, type PeerName } from '../helpers/peers.js';
// @ts-expect-error -- plain ESM script without types
import { buildReal, cacheDir } from '../../scripts/real/build.mjs';

export interface ToolRun {
  rc: number | null;
  seconds: number;
  maxRssKiB: number;
  dump: string;
  log: string;
}

export interface Manifest {
  dir: string;
  kernel: { id: string; meta: string; arch?: 'x86_64' | 'arm64'; pkg: string; version: string; kver: string };
  guest: { memMiB: number; balloonMiB: number; crashkernelMiB: number };
  dumps: {
    balloonActual: number;
    facts: Record<string, string>;
    timings: Record<string, number>;
    /** elfPhdr64 is null for arm64 (only Debian's x86_64 makedumpfile wants it); kdumpZlib is null where QEMU refused. */
    files: { elf: string; kdumpZlib: string; elfPhdr64: string; serial: string };
    /** Why QEMU's kdump-zlib writer refused this guest, when it did. */
    kdumpRefused?: string;
  };
  capture: null | {
    timings: Record<string, number>;
    crashkernelMiB: number;
    tools: Record<'vmcore-filter' | 'makedumpfile', ToolRun>;
    facts: Record<string, string>;
  };
  noVmcoreinfo: null | { memMiB: number; seconds: number; file: string };
  /** The kernel's debug vmlinux (its -dbg package), for crash. */
  debugVmlinux?: string;
}

export const KERNEL_IDS = ['6.1', '6.12'] as const;
/** Debian's arm64 6.12 kernels under qemu-system-aarch64: 4K pages with LPA2 (52-bit VAs), 16K, and 4K without LPA2. */
export const ARM64_IDS = ['arm64-6.12', 'arm64-6.12-16k', 'arm64-6.12-va48'] as const;

const pending = new Map<string, Promise<Record<string, Manifest> | null>>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = cacheDir() as string;
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, '.lock');
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const pid = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (pid && !pidAlive(pid)) fs.rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

const QEMU: Record<string, [string, string]> = {
  x86_64: ['qemu-system-x86_64', 'qemu-system-x86'],
  arm64: ['qemu-system-aarch64', 'qemu-system-arm'],
};

/** Why the real dumps of these kernels cannot be built here, or null. */
export function realProblem(ids: readonly string[] = KERNEL_IDS): string | null {
  const [qemu, pkg] = QEMU[ids.some((id) => id.startsWith('arm64')) ? 'arm64' : 'x86_64']!;
  const r = spawnSync('sh', ['-c', `command -v ${qemu}`], { encoding: 'utf8' });
  return r.status === 0 ? null : `${qemu} not found (apt-get install ${pkg})`;
}

/**
 * The manifests of the kernels (building what is missing; both x86_64 ones by default), or null
 * when QEMU is not here and CI is not set (the caller skips). With CI=true a missing tool or a
 * failed build throws.
 */
export function realDumps(ids: readonly string[] = KERNEL_IDS): Promise<Record<string, Manifest> | null> {
  const key = ids.join(',');
  const had = pending.get(key);
  if (had) return had;
  const p = (async () => {
    const problem = realProblem(ids);
    if (problem) {
      if (process.env.CI === 'true') throw new Error(`real-kernel dumps are required with CI=true: ${problem}`);
      console.warn(`skipping real-kernel tests: ${problem}`);
      return null;
    }
    return withLock(async () => (await buildReal({ kernels: [...ids], capture: true, install: process.env.CI === 'true' })) as Record<string, Manifest>);
  })();
  pending.set(key, p);
  return p;
}

/** Path of a file named in a manifest. */
export const inDump = (m: Manifest, rel: string): string => path.join(m.dir, rel);

/**
 * What every test/real file starts with: its peer tools (the first missing one fails under
 * CI=true, see requirePeer), the dumps built or taken from the cache before its tests, and, with
 * `tmp`, a scratch directory removed after them. `manifest(id)` is undefined until the dumps are
 * there, or when a peer or QEMU is missing (the tests then skip, or fail under CI).
 */
export function realSuite(opts: { peers?: PeerName[]; ids?: readonly string[]; tmp?: string } = {}): {
  dir: string;
  manifest: (id: string) => Manifest | undefined;
} {
  const havePeers = (opts.peers ?? []).every((p) => requirePeer(p));
  let manifests: Record<string, Manifest> | null = null;
  const dir = opts.tmp ? fs.mkdtempSync(path.join(os.tmpdir(), opts.tmp)) : '';
  if (dir) afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    if (havePeers) manifests = await realDumps(opts.ids);
  }, 1_800_000);
  return { dir, manifest: (id) => manifests?.[id] };
}
