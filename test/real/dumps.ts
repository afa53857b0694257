/**
 * The real-kernel dumps of scripts/real/build.mjs, built once per test run and cached under
 * .cache/real (or $VMCF_REAL_CACHE). Building boots Debian's kernels under QEMU (TCG), so it
 * needs qemu-system-x86 and friends: without them the tests skip locally and fail with CI=true.
 * Vitest runs test files in several processes; an atomic mkdir lock makes one build and the
 * others wait for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
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
  kernel: { id: string; meta: string; pkg: string; version: string; kver: string };
  guest: { memMiB: number; balloonMiB: number; crashkernelMiB: number };
  dumps: {
    balloonActual: number;
    facts: Record<string, string>;
    timings: Record<string, number>;
    files: { elf: string; kdumpZlib: string; elfPhdr64: string; serial: string };
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

let pending: Promise<Record<string, Manifest> | null> | null = null;

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

/** Why the real dumps cannot be built here, or null. */
export function realProblem(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'qemu-system-x86_64 not found (apt-get install qemu-system-x86)';
}

/**
 * The manifests of both kernels (building what is missing), or null when QEMU is not here and
 * CI is not set (the caller skips). With CI=true a missing tool or a failed build throws.
 */
export function realDumps(): Promise<Record<string, Manifest> | null> {
  if (pending) return pending;
  pending = (async () => {
    const problem = realProblem();
    if (problem) {
      if (process.env.CI === 'true') throw new Error(`real-kernel dumps are required with CI=true: ${problem}`);
      console.warn(`skipping real-kernel tests: ${problem}`);
      return null;
    }
    return withLock(async () => (await buildReal({ kernels: [...KERNEL_IDS], capture: true, install: process.env.CI === 'true' })) as Record<string, Manifest>);
  })();
  return pending;
}

/** Path of a file named in a manifest. */
export const inDump = (m: Manifest, rel: string): string => path.join(m.dir, rel);
