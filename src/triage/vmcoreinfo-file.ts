/**
 * A VMCOREINFO text file (`makedumpfile -g` output, or /sys/kernel/vmcoreinfo's text as saved
 * by hand) to supply or replace a dump's own: `--vmcoreinfo FILE`, makedumpfile's `-i FILE`.
 */
import * as fs from 'node:fs';
import { VmcoreError } from '../errors.js';
import { LIMITS } from '../io/limits.js';
import { parseVmcoreinfo } from '../vmcoreinfo/parse.js';

/**
 * Read and check `path`. Returns its text. Throws E_INPUT_IO when it cannot be read, and
 * E_VMCOREINFO naming the file and the line when a line is not `KEY=VALUE` or a value a filter
 * needs is malformed, or when it has no OSRELEASE or PAGESIZE (every VMCOREINFO has them).
 */
export function readVmcoreinfoFile(path: string): string {
  let text: string;
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) throw new VmcoreError('E_INPUT_IO', `--vmcoreinfo ${path}: not a regular file`, { path });
    if (st.size > LIMITS.maxVmcoreinfo) {
      throw new VmcoreError('E_VMCOREINFO', `--vmcoreinfo ${path}: ${st.size} bytes is more than ${LIMITS.maxVmcoreinfo}; not a VMCOREINFO file`, {
        path,
      });
    }
    text = fs.readFileSync(path, 'latin1');
  } catch (e) {
    if (e instanceof VmcoreError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new VmcoreError('E_INPUT_IO', `--vmcoreinfo: cannot read ${path}: ${err.code ?? err.message}`, { path });
  }
  try {
    const vi = parseVmcoreinfo(text);
    // Values whose syntax matters to every command: check them now, not deep inside a filter.
    vi.pageSize;
    vi.crashTime;
    vi.kernelOffset;
    for (const l of vi.lines) {
      if (l.kind === 'NUMBER') vi.number(l.name);
      if (l.kind === 'SIZE') vi.size(l.name);
      if (l.kind === 'OFFSET') vi.offset(l.name);
      if (l.kind === 'LENGTH') vi.length(l.name);
      if (l.kind === 'SYMBOL') vi.symbol(l.name);
    }
    if (vi.osrelease === undefined) throw new VmcoreError('E_VMCOREINFO', 'no OSRELEASE line', { key: 'OSRELEASE' });
    if (vi.pageSize === undefined) throw new VmcoreError('E_VMCOREINFO', 'no PAGESIZE line', { key: 'PAGESIZE' });
  } catch (e) {
    if (e instanceof VmcoreError) {
      throw new VmcoreError('E_VMCOREINFO', `--vmcoreinfo ${path}: ${e.message}`, { ...e.data, path });
    }
    throw e;
  }
  return text;
}
