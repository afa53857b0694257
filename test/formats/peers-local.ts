/**
 * Peer-tool availability for interop tests (test/helpers/peers.ts did not exist when this was
 * written; same rule): a missing peer skips the test, except under CI=true where it fails.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export type PeerName = 'libkdumpfile' | 'drgn' | 'makedumpfile' | 'crash' | 'liblzo2' | 'libsnappy' | 'libzstd';

export const PYTHON = '/usr/bin/python3';

const PROBES: Record<PeerName, () => string | null> = {
  libkdumpfile: () => py('import kdumpfile'),
  drgn: () => py('import drgn'),
  makedumpfile: () => bin('makedumpfile', ['-v']),
  crash: () => bin('crash', ['--version']),
  liblzo2: () => py("import ctypes; ctypes.CDLL('liblzo2.so.2')"),
  libsnappy: () => py("import ctypes; ctypes.CDLL('libsnappy.so.1')"),
  libzstd: () => py("import ctypes; ctypes.CDLL('libzstd.so.1')"),
};

function py(code: string): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || 'failed').trim().split('\n').pop()!;
}

function bin(name: string, args: string[]): string | null {
  const r = spawnSync(name, args, { encoding: 'utf8' });
  return r.error ? `${name}: ${(r.error as NodeJS.ErrnoException).code}` : null;
}

const cache = new Map<PeerName, string | null>();

/** Why `name` is unavailable, or null if it works. */
export function peerMissing(name: PeerName): string | null {
  if (!cache.has(name)) cache.set(name, PROBES[name]());
  return cache.get(name)!;
}

/**
 * Call at the start of a test: returns true if the peer is there; otherwise skips the test via
 * `ctx.skip()` or, with CI=true, throws so the run fails.
 */
export function requirePeer(name: PeerName, ctx: { skip: (note?: string) => void }): true {
  const why = peerMissing(name);
  if (why === null) return true;
  if (process.env.CI === 'true') throw new Error(`peer ${name} is required under CI but unavailable: ${why}`);
  ctx.skip(`${name} unavailable: ${why}`);
  return true;
}

/** Run a Python helper with /usr/bin/python3 and parse its JSON stdout. */
export function runPythonJson<T = unknown>(script: string, args: string[]): T {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
