/**
 * The kernel log of a dump. Which buffer the kernel has is decided from VMCOREINFO alone:
 * `SYMBOL(prb)` → the 5.10+ lockless ring buffer (Linux commit 896fbe20b4e2 "printk: use the
 * lockless ringbuffer"), else `SYMBOL(log_buf)` → the variable-length log_buf of 3.5–5.9.
 */
import { noVmcoreinfoMessage } from '../vmcoreinfo/missing.js';
import { VmcoreError } from '../errors.js';
import type { DumpReader } from '../formats/dump.js';
import { KernelMemory } from '../memory/kernel.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { prbLayoutFromVmcoreinfo, printkLogLayoutFromVmcoreinfo } from './layout.js';
import { decodeLockless } from './lockless.js';
import { decodeLogBuf } from './logbuf.js';
import type { KernelLog, KernelVirtReader, LogRecord } from './types.js';

export type { KernelLog, KernelVirtReader, LogRecord, SkippedRecord, SkipReason } from './types.js';
export { decodeLockless } from './lockless.js';
export { decodeLogBuf } from './logbuf.js';

/** Decode the log through any kernel-virtual reader. Throws E_VMCOREINFO when neither buffer is exported. */
export function decodeKernelLog(mem: KernelVirtReader, vi: Vmcoreinfo): KernelLog {
  const prb = prbLayoutFromVmcoreinfo(vi);
  if (prb) return decodeLockless(mem, vi, prb);
  const old = printkLogLayoutFromVmcoreinfo(vi);
  if (old) return decodeLogBuf(mem, vi, old);
  throw new VmcoreError('E_VMCOREINFO', 'dmesg: VMCOREINFO exports neither SYMBOL(prb) (lockless ring buffer, 5.10+) nor SYMBOL(log_buf)', {
    key: 'SYMBOL(prb)',
  });
}

export interface ReadKernelLogOptions {
  /** VMCOREINFO text to use instead of the dump's own. */
  vmcoreinfoText?: string;
}

/** Read the kernel log of an opened dump (ELF, kdump-compressed, flattened) through its page tables. */
export function readKernelLog(reader: DumpReader, opts: ReadKernelLogOptions = {}): KernelLog {
  const text = opts.vmcoreinfoText ?? reader.vmcoreinfoText;
  if (!text) throw new VmcoreError('E_VMCOREINFO', `${reader.path}: ${noVmcoreinfoMessage('the kernel log cannot be found')}`, { path: reader.path });
  const vi = parseVmcoreinfo(text);
  const mem = new KernelMemory(reader, vi);
  return decodeKernelLog({ readVirt: (va, len) => mem.readVirt(va, len) }, vi);
}

/** `[%5llu.%06lu] ` of a timestamp, as dmesg and makedumpfile print it. */
export function formatTimestamp(tsNsec: bigint): string {
  const s = tsNsec / 1_000_000_000n;
  const us = (tsNsec % 1_000_000_000n) / 1000n;
  return `[${s.toString().padStart(5, ' ')}.${us.toString().padStart(6, '0')}] `;
}

/**
 * One record as text lines: the timestamp prefix, then the text with each embedded newline
 * followed by an indent as wide as the prefix, and bytes that are neither printable ASCII nor
 * white space written as `\xNN` (makedumpfile's --dump-dmesg rendering).
 */
export function formatRecord(r: LogRecord): string {
  const prefix = formatTimestamp(r.tsNsec);
  const indent = ' '.repeat(prefix.length);
  let s = prefix;
  for (const c of r.text) {
    if (c === 0x0a) s += '\n' + indent;
    else if ((c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d)) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s + '\n';
}

/** The whole log as text, one record after another. */
export function formatKernelLog(log: KernelLog): string {
  let s = '';
  for (const r of log.records) s += formatRecord(r);
  return s;
}

/** Caller id as printk prints it with CONFIG_PRINTK_CALLER: T<pid> or C<cpu>. */
export function formatCaller(id: number): string {
  return id & 0x80000000 ? `C${id & 0x7fffffff}` : `T${id}`;
}

/** Text as a string: UTF-8 when it is valid UTF-8, else one character per byte. */
export function recordText(r: LogRecord): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(r.text);
  } catch {
    return new TextDecoder('latin1').decode(r.text);
  }
}

/** The serialisable form of a log (schema/dmesg.schema.json, `vmcore-filter/dmesg@1`). */
export function kernelLogJson(log: KernelLog, input: { path: string; format: string; osrelease: string | null }): object {
  const lost = log.overwritten === null ? null : log.overwritten + log.skipped.length;
  return {
    schema: 'vmcore-filter/dmesg@1',
    input,
    buffer: {
      format: log.format,
      address: '0x' + log.buffer.address.toString(16),
      textBytes: log.buffer.textBytes,
      descriptors: log.buffer.descriptors,
    },
    summary: {
      records: log.records.length,
      firstSeq: log.records[0]?.seq ?? null,
      lastSeq: log.records[log.records.length - 1]?.seq ?? null,
      overwritten: log.overwritten,
      skipped: log.skipped.length,
      lost,
      dropped: log.dropped,
    },
    skipped: log.skipped,
    records: log.records.map((r) => {
      const o: Record<string, unknown> = {
        seq: r.seq,
        tsNsec: r.tsNsec.toString(),
        tsUsec: Number(r.tsNsec / 1000n),
        level: r.level,
        facility: r.facility,
        caller: r.callerId === null ? null : formatCaller(r.callerId),
        text: recordText(r),
      };
      if (r.dev) o.dev = r.dev;
      if (r.state) o.state = r.state;
      if (r.truncated) o.truncated = true;
      return o;
    }),
    warnings: log.warnings,
  };
}

/** One line saying what was read and what was lost (for people; the CLI writes it to stderr). */
export function summariseKernelLog(log: KernelLog): string {
  const n = log.records.length;
  const parts: string[] = [];
  const first = log.records[0]?.seq;
  const last = log.records[n - 1]?.seq;
  parts.push(
    `${n} record${n === 1 ? '' : 's'}` +
      (first != null && last != null ? ` (seq ${first}..${last})` : '') +
      ` from the ${log.format === 'lockless' ? 'lockless printk ring buffer' : 'log_buf'} (${log.buffer.textBytes} bytes of text)`,
  );
  if (log.overwritten === null) parts.push('earlier records overwritten: unknown (log_buf keeps no sequence numbers)');
  else parts.push(`${log.overwritten} earlier record${log.overwritten === 1 ? '' : 's'} overwritten`);
  if (log.skipped.length) {
    const by = new Map<string, number[]>();
    for (const s of log.skipped) by.set(s.reason, [...(by.get(s.reason) ?? []), s.seq ?? -1]);
    parts.push(
      [...by]
        .map(([reason, seqs]) => `${seqs.length} ${reason} (seq ${seqs.map((q) => (q < 0 ? '?' : String(q))).join(', ')})`)
        .join(', ') + ' not shown',
    );
  }
  if (log.dropped) parts.push(`${log.dropped} printk call${log.dropped === 1 ? '' : 's'} found no room (prb->fail)`);
  return parts.join('; ');
}
