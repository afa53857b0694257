import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { writeKdump, type KdumpWriteOptions, type KdumpWriteStats } from '../../src/formats/kdump/writer.js';
import { FileSink } from '../../src/formats/kdump/sink.js';
import { FlattenedSink } from '../../src/formats/flattened/sink.js';
import type { PageWriterInput } from '../../src/formats/dump.js';
import { pageContent, sha1 } from './synth.js';
import { spawnSync } from 'node:child_process';
import { PYTHON, requirePeer, type PeerName } from '../helpers/peers.js';

export { PYTHON };

/**
 * Skip the running test when a peer tool is missing (the shared rule of test/helpers/peers.ts:
 * with CI=true a missing peer fails instead). The C codec libraries (liblzo2, libsnappy, libzstd)
 * are libkdumpfile's own dependencies, so 'kdumpfile' stands for them.
 */
export function needPeer(name: PeerName, ctx: { skip: (note?: string) => void }): void {
  if (!requirePeer(name)) ctx.skip(`${name} unavailable`);
}

/** Run a Python helper script with /usr/bin/python3 and parse its JSON stdout. */
export function runPythonJson<T = unknown>(script: string, args: string[]): T {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const here = path.dirname(new URL(import.meta.url).pathname);
export const READ_DUMP = path.join(here, 'py', 'read_dump.py');

/** A temp dir removed after the file's tests. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (!process.env.KEEP_TEST_FILES) afterAll(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

export async function writeKdumpFile(input: PageWriterInput, file: string, opts: KdumpWriteOptions): Promise<KdumpWriteStats> {
  return writeKdump(input, FileSink.open(file), opts);
}

export async function writeFlattenedFile(input: PageWriterInput, file: string, opts: KdumpWriteOptions): Promise<KdumpWriteStats> {
  const ws = fs.createWriteStream(file);
  const stats = await writeKdump(input, new FlattenedSink(ws, file), opts);
  await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return stats;
}

/**
 * Compare what a reader saw (pfn → sha1 | "excluded" | ...) with what is expected: pages in
 * `stored` have their synthetic content, others read as excluded. Returns mismatch lines.
 */
export function comparePages(seen: Record<string, string>, maxMapnr: number, stored: (pfn: number) => boolean, excluded = 'excluded'): string[] {
  const bad: string[] = [];
  for (let pfn = 0; pfn < maxMapnr; pfn++) {
    const want = stored(pfn) ? sha1(pageContent(pfn)) : excluded;
    if (seen[pfn] !== want) bad.push(`pfn ${pfn}: saw ${seen[pfn]}, expected ${want}`);
  }
  return bad;
}
