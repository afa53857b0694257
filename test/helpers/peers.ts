/**
 * Peer tools (real makedumpfile, libkdumpfile, drgn, crash) for interop tests. A missing peer
 * makes the test fail when CI=true and skip (with a message) otherwise.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export type PeerName = 'makedumpfile' | 'kdumpfile' | 'drgn' | 'crash' | 'python3' | 'chromium';

export const PYTHON = '/usr/bin/python3';

const cache = new Map<PeerName, string | null>();

/** Why a peer is unavailable, or null when it is usable. */
export function peerProblem(name: PeerName): string | null {
  if (cache.has(name)) return cache.get(name)!;
  let problem: string | null = null;
  const exe = (p: string) => (fs.existsSync(p) ? null : `${p} not found`);
  switch (name) {
    case 'makedumpfile':
      problem = exe('/usr/bin/makedumpfile');
      break;
    case 'crash':
      problem = exe('/usr/bin/crash');
      break;
    case 'python3':
      problem = exe(PYTHON);
      break;
    case 'chromium':
      problem = exe('/usr/bin/chromium');
      break;
    case 'kdumpfile':
    case 'drgn': {
      problem = exe(PYTHON);
      if (!problem) {
        const r = spawnSync(PYTHON, ['-c', `import ${name}`], { encoding: 'utf8' });
        if (r.status !== 0) problem = `python module ${name} cannot be imported: ${(r.stderr || '').trim().split('\n').pop()}`;
      }
      break;
    }
  }
  cache.set(name, problem);
  return problem;
}

/**
 * True if the peer is usable. If not: with CI=true throws (the test fails); otherwise prints
 * why and returns false (the caller skips).
 */
export function requirePeer(name: PeerName): boolean {
  const problem = peerProblem(name);
  if (!problem) return true;
  if (process.env.CI === 'true') throw new Error(`peer tool ${name} is required with CI=true: ${problem}`);
  console.warn(`skipping tests that need ${name}: ${problem}`);
  return false;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a Python script (source text) with /usr/bin/python3 and arguments. */
export function runPython(script: string, args: string[] = [], timeoutMs = 600_000): RunResult {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
